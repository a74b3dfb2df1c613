/**
 * Test helpers of the crypto modules (not exported by `mod.ts`): cached
 * identities, a handshake over an in-memory link pair, and a link that
 * alters records in transit.
 *
 * @module
 */

import { memoryLinkPair } from "../link/testing.ts";
import type { RecordHandler, RecordLink } from "../link/mod.ts";
import type { HandshakeChannel } from "./channel.ts";
import { linkChannel } from "./channel.ts";
import {
  clientHandshake,
  type ClientHandshakeOptions,
  type ClientHandshakeResult,
  serverHandshake,
  type ServerHandshakeOptions,
  type ServerHandshakeResult,
} from "./handshake.ts";
import { generateIdentity, type Identity } from "./keys.ts";
import type { SessionKeys } from "./schedule.ts";

let cached: Promise<{ server: Identity; client: Identity; other: Identity }> | undefined;

/** Three identities, generated once per test process (RSA generation is slow). */
export function identities(): Promise<{ server: Identity; client: Identity; other: Identity }> {
  cached ??= Promise.all([generateIdentity(), generateIdentity(), generateIdentity()]).then(
    ([server, client, other]) => ({ server, client, other }),
  );
  return cached;
}

/** How a side's handshake ended. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Options of {@linkcode runHandshake}. */
export interface RunOptions {
  client?: Partial<ClientHandshakeOptions>;
  server?: Partial<ServerHandshakeOptions>;
  /** Wraps the client's channel (to alter what it sends). */
  wrapClient?: (channel: HandshakeChannel) => HandshakeChannel;
  /** Wraps the server's channel (to alter what it sends). */
  wrapServer?: (channel: HandshakeChannel) => HandshakeChannel;
}

/**
 * Runs both sides over a memory link pair. As a real caller would, a side
 * that fails closes its link, so the other side always settles too. The
 * links are closed at the end.
 */
export async function runHandshake(options: RunOptions = {}): Promise<{
  client: Outcome<ClientHandshakeResult>;
  server: Outcome<ServerHandshakeResult>;
}> {
  const ids = await identities();
  const [clientLink, serverLink] = memoryLinkPair();
  const clientChannel = (options.wrapClient ?? ((c) => c))(linkChannel(clientLink));
  const serverChannel = (options.wrapServer ?? ((c) => c))(linkChannel(serverLink));
  const settle = <T>(promise: Promise<T>, link: RecordLink): Promise<Outcome<T>> =>
    promise.then(
      (value) => ({ ok: true as const, value }),
      (error) => {
        link.close();
        return { ok: false as const, error };
      },
    );
  const [client, server] = await Promise.all([
    settle(
      clientHandshake(clientChannel, { identity: ids.client, name: "laptop", ...options.client }),
      clientLink,
    ),
    settle(
      serverHandshake(serverChannel, {
        identity: ids.server,
        name: "gateway",
        helloTimeoutMs: 60_000,
        pendingIntervalMs: 60_000,
        pendingDelayMs: 60_000,
        decide: () => Promise.resolve({ accepted: true }),
        ...options.server,
      }),
      serverLink,
    ),
  ]);
  clientLink.close();
  return { client, server };
}

/** A channel whose `index`-th sent message is replaced by `alter(message)`. */
export function alterSent(
  channel: HandshakeChannel,
  index: number,
  alter: (message: Uint8Array) => Uint8Array,
): HandshakeChannel {
  let sent = 0;
  return {
    send: (message) => channel.send(sent++ === index ? alter(message) : message),
    receive: () => channel.receive(),
  };
}

/**
 * Wraps a link so that every record sent passes through `alter`, which
 * returns the records to actually send (none to drop, two to duplicate…).
 */
export function alterLink(
  inner: RecordLink,
  alter: (record: Uint8Array, index: number) => Uint8Array[],
): RecordLink {
  let index = 0;
  return {
    listen: (handler: RecordHandler) => inner.listen(handler),
    send: (record) => {
      for (const out of alter(record, index++)) inner.send(out);
    },
    get writable() {
      return inner.writable;
    },
    waitWritable: () => inner.waitWritable(),
    close: (reason) => inner.close(reason),
  };
}

let cachedKeys: Promise<{ client: SessionKeys; server: SessionKeys }> | undefined;

/** Session keys of one real handshake, for both roles (computed once). */
export function sessionKeys(): Promise<{ client: SessionKeys; server: SessionKeys }> {
  cachedKeys ??= runHandshake().then(({ client, server }) => {
    if (!client.ok || !server.ok) throw new Error("Cannot set up session keys: handshake failed");
    return { client: client.value.keys, server: server.value.keys };
  });
  return cachedKeys;
}

/** A handler that records what it gets. */
export function collector(): RecordHandler & {
  records: Uint8Array[];
  ended: Promise<Error | undefined>;
  endCount: number;
} {
  const ended = Promise.withResolvers<Error | undefined>();
  const handler = {
    records: [] as Uint8Array[],
    ended: ended.promise,
    endCount: 0,
    record(record: Uint8Array) {
      handler.records.push(record);
    },
    closed(error?: Error) {
      handler.endCount++;
      ended.resolve(error);
    },
  };
  return handler;
}
