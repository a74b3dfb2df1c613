/**
 * The record link contract: what the multiplexer needs from the layers
 * below it (a WebSocket, an encrypting session). It sits below crypto,
 * transport and mux so that each of them can implement or use it without
 * importing the others. The in-memory pair for tests is in `testing.ts`.
 *
 * @module
 */

export * from "./link.ts";
