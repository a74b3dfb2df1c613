/**
 * Prometheus metrics of the server and the client.
 *
 * @module
 */

export * from "./metrics.ts";
