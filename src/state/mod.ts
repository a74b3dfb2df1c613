/**
 * Persistent state on disk: atomic, private files in the state directory.
 *
 * @module
 */

export * from "./atomic_write.ts";
