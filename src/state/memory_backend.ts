/**
 * A state document kept in memory: nothing survives the process. For tests
 * and for state nobody needs to keep.
 *
 * @module
 */

import { type StateBackend, StateConflictError, type StateSnapshot } from "./backend.ts";

/** A {@linkcode StateBackend} in memory; {@linkcode external} plays another writer. */
export class MemoryStateBackend implements StateBackend {
  /** What and where, for logs and errors. */
  readonly name = "memory";
  #snapshot: StateSnapshot = { entries: {}, version: "" };
  #counter = 0;
  #watchers = new Set<(snapshot: StateSnapshot) => void>();

  /** Names one entry for errors. */
  describe(key: string): string {
    return `entry "${key}" in memory`;
  }

  /** Reads the stored document; see {@linkcode StateBackend.read}. */
  read(): Promise<StateSnapshot> {
    return Promise.resolve(this.#snapshot);
  }

  /** Stores the document if unchanged since `base`; see {@linkcode StateBackend.write}. */
  write(entries: Readonly<Record<string, string>>, base: StateSnapshot): Promise<StateSnapshot> {
    if (base.version !== this.#snapshot.version) {
      return Promise.reject(
        new StateConflictError(
          `Cannot write the state in memory: version ${base.version}, stored ${this.#snapshot.version}`,
        ),
      );
    }
    this.#snapshot = { entries: { ...entries }, version: String(++this.#counter) };
    return Promise.resolve(this.#snapshot);
  }

  /** Another writer changes the document: watchers hear of it, the next write conflicts. */
  external(change: Record<string, string | null>): StateSnapshot {
    const entries: Record<string, string> = { ...this.#snapshot.entries };
    for (const [key, value] of Object.entries(change)) {
      if (value === null) delete entries[key];
      else entries[key] = value;
    }
    this.#snapshot = { entries, version: String(++this.#counter) };
    for (const watcher of this.#watchers) watcher(this.#snapshot);
    return this.#snapshot;
  }

  /** Reports documents written by others until `signal` aborts. */
  watch(onChange: (snapshot: StateSnapshot) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      this.#watchers.add(onChange);
      signal.addEventListener("abort", () => {
        this.#watchers.delete(onChange);
        resolve();
      }, { once: true });
    });
  }
}
