/**
 * The client side: dials the server, announces apps, connects streams to upstreams.
 *
 * @module
 */

export * from "./apps.ts";
export * from "./client.ts";
export * from "./server_pin.ts";
export * from "./app_listener.ts";
export * from "./port_allocator.ts";
export * from "./port_assignments.ts";
export * from "./upstream.ts";
export * from "./offered_apps.ts";
