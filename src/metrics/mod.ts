/**
 * Prometheus metrics of the server and the client.
 *
 * @module
 */

export * from "./metrics.ts";
export * from "./ledger.ts";
export * from "./stats.ts";
