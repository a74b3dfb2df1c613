/**
 * Test helpers of the state layer.
 *
 * @module
 */

import { type StateBackend, StateConflictError, type StateSnapshot } from "./backend.ts";

/**
 * One document in memory that several stores write through their own
 * {@linkcode SharedDocument.view}, each hearing the others' writes through
 * its watch, as server replicas sharing a Secret do.
 */
export class SharedDocument {
  #snapshot: StateSnapshot = { entries: {}, version: "" };
  #counter = 0;
  #watchers = new Set<(snapshot: StateSnapshot) => void>();

  /** A backend on the document for one store. */
  view(): StateBackend {
    const own = new Set<(snapshot: StateSnapshot) => void>();
    return {
      name: "shared memory",
      describe: (key) => `entry "${key}" in shared memory`,
      read: () => Promise.resolve(this.#snapshot),
      write: (entries, base) => {
        if (base.version !== this.#snapshot.version) {
          return Promise.reject(new StateConflictError("changed underneath"));
        }
        this.#snapshot = { entries: { ...entries }, version: String(++this.#counter) };
        const written = this.#snapshot;
        for (const watcher of this.#watchers) if (!own.has(watcher)) watcher(written);
        return Promise.resolve(written);
      },
      watch: (onChange, signal) =>
        new Promise<void>((resolve) => {
          own.add(onChange);
          this.#watchers.add(onChange);
          signal.addEventListener("abort", () => {
            this.#watchers.delete(onChange);
            resolve();
          }, { once: true });
        }),
    };
  }
}
