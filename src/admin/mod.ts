/**
 * The admin HTTP API (server and client side).
 *
 * @module
 */

export * from "./api.ts";
export * from "./client.ts";
export * from "./detail.ts";
export * from "./events.ts";
export * from "./state.ts";
