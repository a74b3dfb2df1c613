/**
 * WebSocket transport: the server endpoint, the client dialer, the record
 * link over a WebSocket, reconnect backoff and keepalive.
 *
 * @module
 */

export * from "./websocket_link.ts";
export * from "./serve.ts";
export * from "./dial.ts";
export * from "./backoff.ts";
export * from "./keepalive.ts";
