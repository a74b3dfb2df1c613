/**
 * Streams multiplexed over one record link, with per-stream credit flow
 * control, and the pipe that joins a stream to a TCP connection.
 *
 * @module
 */

export * from "./errors.ts";
export * from "./stream.ts";
export * from "./mux.ts";
export * from "./pipe.ts";
