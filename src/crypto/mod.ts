/**
 * Encryption of the tunnel: identity keys and their fingerprints, the
 * versioned handshake that authenticates both peers and agrees on keys, and
 * the sealed session link that carries the multiplexer's records.
 *
 * ```ts ignore
 * const channel = linkChannel(link);
 * const { keys } = await clientHandshake(channel, { identity, name, serverFingerprint });
 * const sealed = new SealedLink(channel.release(), keys, "client");
 * ```
 *
 * @module
 */

export * from "./errors.ts";
export * from "./fingerprint.ts";
export * from "./keys.ts";
export * from "./channel.ts";
export * from "./handshake.ts";
export * from "./session.ts";
export { Collector, collector } from "./collector.ts";
