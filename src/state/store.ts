/**
 * {@linkcode StateStore}: one process's view of its state document. It keeps
 * the last snapshot in memory for reads, applies changes as
 * read-modify-write with optimistic concurrency (a conflict re-reads and
 * re-applies the change), and follows writes made by others through the
 * backend's watch.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { type StateBackend, StateConflictError, type StateSnapshot } from "./backend.ts";
import { MemoryStateBackend } from "./memory_backend.ts";

/**
 * A change to the document: computed from the current entries, it returns
 * the entries to set (text) or delete (`null`), or `undefined` for no change.
 * It may run more than once (after a conflict), so it must not have side
 * effects.
 */
export type StateChange = (
  entries: Readonly<Record<string, string>>,
) => Record<string, string | null> | undefined;

/** Writes that conflict this many times in a row give up. */
export const MAX_STATE_ATTEMPTS = 16;

/** A state document, cached, written with optimistic concurrency, following external edits. */
export class StateStore {
  #backend: StateBackend;
  #snapshot: StateSnapshot;
  #log: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  #listeners = new Set<(keys: string[]) => void>();
  #quiet = new Set<string>();
  #abort = new AbortController();
  #watching: Promise<void> | null = null;

  private constructor(backend: StateBackend, snapshot: StateSnapshot, log: Logger) {
    this.#backend = backend;
    this.#snapshot = snapshot;
    this.#log = log;
  }

  /**
   * Reads the document from `backend`.
   *
   * @throws {StateDataError} when an entry cannot be read.
   */
  static async open(backend: StateBackend, options?: { logger?: Logger }): Promise<StateStore> {
    return new StateStore(backend, await backend.read(), options?.logger ?? silentLogger);
  }

  /** A store in memory (nothing persisted). */
  static memory(): StateStore {
    return new StateStore(new MemoryStateBackend(), { entries: {}, version: "" }, silentLogger);
  }

  /** Where the document is kept, for logs: `directory /x`, `Secret ns/name`. */
  get name(): string {
    return this.#backend.name;
  }

  /** The version of the cached snapshot. */
  get version(): string {
    return this.#snapshot.version;
  }

  /** Names one entry for errors, e.g. `key "approved-peers.json" of Secret ns/name`. */
  describe(key: string): string {
    return this.#backend.describe(key);
  }

  /** The cached text of entry `key`. */
  get(key: string): string | undefined {
    return this.#snapshot.entries[key];
  }

  /**
   * Applies `change` to the latest document and stores it. Changes are
   * applied one at a time; a conflict (another writer) re-reads and
   * re-applies, up to {@linkcode MAX_STATE_ATTEMPTS} times. Resolves false
   * when `change` had nothing to do.
   *
   * @throws {StateConflictError} when the document kept changing underneath.
   */
  update(change: StateChange): Promise<boolean> {
    const run = this.#queue.then(() => this.#apply(change));
    this.#queue = run.catch(() => {});
    return run;
  }

  async #apply(change: StateChange): Promise<boolean> {
    let lastConflict: StateConflictError | undefined;
    for (let attempt = 1; attempt <= MAX_STATE_ATTEMPTS; attempt++) {
      const base = this.#snapshot;
      const changes = change(base.entries);
      if (!changes || !Object.entries(changes).some(([k, v]) => (base.entries[k] ?? null) !== v)) {
        return false;
      }
      const next: Record<string, string> = { ...base.entries };
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) delete next[key];
        else next[key] = value;
      }
      try {
        this.#snapshot = await this.#backend.write(next, base);
        return true;
      } catch (error) {
        if (!(error instanceof StateConflictError)) throw error;
        lastConflict = error;
        this.#log.debug("state changed by another writer: re-reading", {
          state: this.#backend.name,
          attempt,
        });
        this.#adopt(await this.#backend.read());
      }
    }
    throw new StateConflictError(
      `Cannot write ${this.#backend.name}: it changed underneath ${MAX_STATE_ATTEMPTS} times in a row`,
      { cause: lastConflict },
    );
  }

  /**
   * Reads the document again (for backends that cannot watch, such as
   * files), so that edits made meanwhile are seen.
   */
  async refresh(): Promise<void> {
    await this.#queue;
    this.#adopt(await this.#backend.read());
  }

  /** Calls `listener` with the names of entries others changed; returns an unsubscribe. */
  onChange(listener: (keys: string[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Logs outside changes that touch only `keys` at debug rather than info:
   * entries other processes renew on a timer (`--ha`'s shared views).
   */
  quiet(...keys: string[]): void {
    for (const key of keys) this.#quiet.add(key);
  }

  /** Starts following writes made by others (the backend's watch), until {@linkcode close}. */
  follow(): void {
    this.#watching ??= this.#backend.watch((snapshot) => this.#adopt(snapshot), this.#abort.signal)
      .catch((error) => {
        this.#log.error("stopped watching the state for outside changes", {
          state: this.#backend.name,
          error,
        });
      });
  }

  #adopt(snapshot: StateSnapshot): void {
    const before = this.#snapshot;
    if (snapshot.version === before.version) return;
    this.#snapshot = snapshot;
    const keys = new Set([...Object.keys(before.entries), ...Object.keys(snapshot.entries)]);
    const changed = [...keys].filter((key) => before.entries[key] !== snapshot.entries[key]);
    if (changed.length === 0) return;
    const routine = changed.every((key) => this.#quiet.has(key));
    (routine ? this.#log.debug : this.#log.info).call(
      this.#log,
      "state changed outside this process",
      {
        state: this.#backend.name,
        changed,
      },
    );
    for (const listener of this.#listeners) {
      try {
        listener(changed);
      } catch (error) {
        this.#log.error("state listener failed", { error });
      }
    }
  }

  /** Stops following; waits for writes in progress. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#watching;
    await this.#queue;
  }
}
