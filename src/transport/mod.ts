/**
 * WebSocket transport: the server endpoint, the client dialer and its
 * WebSocket implementation, the record links over both, reconnect backoff
 * and keepalive.
 *
 * @module
 */

export * from "./websocket_link.ts";
export * from "./ws_frame.ts";
export * from "./ws_client.ts";
export * from "./serve.ts";
export * from "./dial.ts";
export * from "./backoff.ts";
export * from "./keepalive.ts";
