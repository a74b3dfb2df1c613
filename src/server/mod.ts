/**
 * The server side: accepts clients over the tunnel and exposes their apps.
 *
 * @module
 */

export * from "./acceptor.ts";
export * from "./server.ts";
export * from "./observers.ts";
export type { PeerInfo } from "./admin.ts";
export * from "./approvals.ts";
export * from "./deny_list.ts";
export * from "./pending_board.ts";
export * from "./replica_roster.ts";
export type { OfferedApp } from "./offers.ts";
// The server's options (`portRange`) name it; it lives with the allocator both ends use.
export type { PortRange } from "../client/mod.ts";
// The server keeps its (peer, app) ports with the code the client keeps its offers' ports with.
export { MAX_PORTS_PER_PEER, pairKey, PortAssignments, PORTS_ENTRY } from "../client/mod.ts";
