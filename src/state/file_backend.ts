/**
 * A state document kept as one private file per entry in a directory (the
 * `--state-dir`): `server-key.pem`, `approved-peers.json`, … Files are
 * written atomically with mode 0600 in a 0700 directory.
 *
 * Versioning is per entry: a write checks that each entry it changes still
 * holds what was read, and a new entry is created only if no other process
 * created it first (so two processes creating a key at once end up with the
 * same key). The directory is watched, so an entry edited by hand while the
 * process runs (a declined key removed from `denied.json`) takes effect.
 *
 * @module
 */

import { createFileExclusive, writeFileAtomic } from "./atomic_write.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import {
  type StateBackend,
  StateConflictError,
  StateDataError,
  type StateSnapshot,
} from "./backend.ts";

/** A {@linkcode StateBackend} over files in `dir`, one per entry of `keys`. */
export class FileStateBackend implements StateBackend {
  /** The directory. */
  readonly dir: string;
  #keys: readonly string[];
  #log: Logger;
  #reads = 0;

  /** Keeps entries `keys` (file names) in `dir`. */
  constructor(dir: string, keys: readonly string[], options?: { logger?: Logger }) {
    this.dir = dir.replace(/\/+$/, "") || "/";
    this.#keys = keys;
    this.#log = options?.logger ?? silentLogger;
  }

  /** What and where, for logs and errors. */
  get name(): string {
    return `directory ${this.dir}`;
  }

  /** Names one entry for errors. */
  describe(key: string): string {
    return `${this.dir}/${key}`;
  }

  async #readEntry(key: string): Promise<string | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.describe(key));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch (cause) {
      throw new StateDataError(`Cannot read ${this.describe(key)}: not UTF-8 text`, { cause });
    }
  }

  /** Reads the stored document; see {@linkcode StateBackend.read}. */
  async read(): Promise<StateSnapshot> {
    const entries: Record<string, string> = {};
    for (const key of this.#keys) {
      const text = await this.#readEntry(key);
      if (text !== undefined) entries[key] = text;
    }
    return { entries, version: `read-${++this.#reads}` };
  }

  /** Stores the document if unchanged since `base`; see {@linkcode StateBackend.write}. */
  async write(
    entries: Readonly<Record<string, string>>,
    base: StateSnapshot,
  ): Promise<StateSnapshot> {
    const keys = new Set([...Object.keys(base.entries), ...Object.keys(entries)]);
    for (const key of keys) {
      const next = entries[key];
      const before = base.entries[key];
      if (next === before) continue;
      if (!this.#keys.includes(key)) {
        throw new RangeError(`Cannot write ${this.describe(key)}: not a state entry`);
      }
      if (await this.#readEntry(key) !== before) {
        throw new StateConflictError(
          `Cannot write ${this.describe(key)}: changed by another process`,
        );
      }
      if (next === undefined) {
        await Deno.remove(this.describe(key)).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
      } else if (before === undefined) {
        if (!await createFileExclusive(this.describe(key), next)) {
          throw new StateConflictError(
            `Cannot create ${this.describe(key)}: another process created it first`,
          );
        }
      } else {
        await writeFileAtomic(this.describe(key), next);
      }
    }
    return { entries: { ...entries }, version: `write-${++this.#reads}` };
  }

  /**
   * Reads the entries again whenever one of their files changes, until
   * `signal` aborts. A file that cannot be read then is logged and skipped:
   * the state in memory stays as it was.
   */
  async watch(onChange: (snapshot: StateSnapshot) => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const watcher = Deno.watchFs(this.dir, { recursive: false });
    const stop = () => watcher.close();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const event of watcher) {
        // Temporary files of atomic writes are named `<entry>.<random>.tmp`: not entries.
        const touched = event.paths.some((path) =>
          this.#keys.includes(path.slice(path.lastIndexOf("/") + 1))
        );
        if (!touched) continue;
        try {
          onChange(await this.read());
        } catch (error) {
          this.#log.error("cannot read the edited state: keeping the state I have", { error });
        }
      }
    } finally {
      signal.removeEventListener("abort", stop);
    }
  }
}
