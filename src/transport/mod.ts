/**
 * WebSocket transport: the server endpoint, the client dialer, the record
 * link over a WebSocket connection either of them owns (own RFC 6455
 * framing), reconnect backoff and keepalive.
 *
 * @module
 */

export * from "./websocket_link.ts";
export * from "./ws_frame.ts";
export * from "./serve.ts";
export * from "./dial.ts";
export * from "./backoff.ts";
export * from "./keepalive.ts";
