/**
 * wormhole: reverse TCP tunnels over WebSocket.
 *
 * Run as a program, this is the `wormhole` CLI. Imported, it exposes the
 * building blocks: the server, the client, their identities and state, the
 * metrics, the protocol and the multiplexer.
 *
 * @example A server and a client in one process
 * ```ts ignore
 * import { DummyAcceptor, generateIdentity, WormholeClient, WormholeServer } from "./mod.ts";
 *
 * const server = await WormholeServer.start({
 *   host: "127.0.0.1",
 *   port: 0,
 *   acceptor: new DummyAcceptor(),
 *   identity: await generateIdentity(),
 * });
 * const client = new WormholeClient({
 *   server: server.url,
 *   name: "laptop",
 *   identity: await generateIdentity(),
 *   serverFingerprints: [server.fingerprint],
 *   apps: [{ name: "web", host: "127.0.0.1", port: 3000 }],
 * });
 * client.start();
 * await client.ready();
 * console.log(server.apps()); // [{ app: "web", endpoint: "127.0.0.1:…", peer: "laptop" }]
 * await client.close();
 * await server.close();
 * ```
 *
 * @module
 */

export * from "./src/protocol/mod.ts";
export * from "./src/link/mod.ts";
export * from "./src/mux/mod.ts";
export * from "./src/transport/mod.ts";
export * from "./src/server/mod.ts";
export * from "./src/client/mod.ts";
export * from "./src/admin/mod.ts";
export * from "./src/crypto/mod.ts";
export * from "./src/metrics/mod.ts";
export * from "./src/state/mod.ts";
export {
  type LogFields,
  type LogFormat,
  Logger,
  type LogLevel,
  type LogSink,
  silentLogger,
} from "./src/log/mod.ts";
export { VERSION } from "./src/version.ts";

if (import.meta.main) {
  const { main } = await import("./src/cli/mod.ts");
  Deno.exit(await main(Deno.args));
}
