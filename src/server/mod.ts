/**
 * The server side: accepts clients over the tunnel and exposes their apps.
 *
 * @module
 */

export * from "./acceptor.ts";
export * from "./port_allocator.ts";
export * from "./port_assignments.ts";
export * from "./app_listener.ts";
export * from "./server.ts";
export * from "./observers.ts";
export type { PeerInfo } from "./admin.ts";
export * from "./approvals.ts";
export * from "./deny_list.ts";
export * from "./pending_board.ts";
export * from "./replica_roster.ts";
