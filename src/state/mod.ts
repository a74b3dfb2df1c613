/**
 * Persistent state: one document of named text entries per process (keys,
 * approvals, port assignments, the deny list, the server pin), kept in a
 * backend (files in the state directory, memory, or, from `src/k8s`, a
 * Kubernetes Secret) and changed with optimistic concurrency.
 *
 * @module
 */

export * from "./atomic_write.ts";
export * from "./backend.ts";
export * from "./file_backend.ts";
export * from "./memory_backend.ts";
export * from "./store.ts";
