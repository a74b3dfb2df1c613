/**
 * wormhole: reverse TCP tunnels over WebSocket.
 *
 * Run as a program, this is the `wormhole` CLI. Imported, it exposes the
 * building blocks: the server, the client, the protocol and the multiplexer.
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
export { type LogFormat, Logger, type LogLevel } from "./src/log/mod.ts";
export { VERSION } from "./src/version.ts";

if (import.meta.main) {
  const { main } = await import("./src/cli/mod.ts");
  Deno.exit(await main(Deno.args));
}
