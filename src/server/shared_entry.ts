/**
 * One JSON entry of the server's state that every replica (`--ha`) reads
 * and writes its own part of, with parts that lapse unless their replica
 * renews them: the plumbing shared by the shared pending requests
 * ({@linkcode PendingBoard}) and the shared peers ({@linkcode ReplicaRoster}).
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { StateStore } from "../state/mod.ts";
import { Lapses } from "./lapses.ts";

/** Options of a view kept in a shared entry. */
export interface SharedEntryOptions {
  /** Lifetime of a part without renewal, in ms. */
  ttlMs?: number;
  /** This replica's clock, in ms. */
  now?: () => number;
  /** Where an unreadable entry is reported. */
  logger?: Logger;
}

/** What a shared entry needs to know of its content. */
export interface SharedEntryFormat<T> {
  /** The entry's key in the state document. */
  key: string;
  /** The content when the entry is absent or unreadable. */
  empty: () => T;
  /** The content of the parsed JSON; throws when its shape is wrong (parts may be dropped). */
  parse: (json: unknown) => T;
  /** Whether `content` holds nothing (the entry is then removed). */
  isEmpty: (content: T) => boolean;
  /** The warning logged when the entry cannot be read. */
  unreadable: string;
  /** Called when another writer changed the entry (e.g. to time renewals from their arrival). */
  changed: () => void;
}

/**
 * A JSON entry of the state shared by the replicas, read leniently (a
 * damaged entry reads as empty and the next write rewrites it).
 *
 * @example
 * ```ts
 * import { StateStore } from "../state/mod.ts";
 * import { SharedEntry } from "./shared_entry.ts";
 *
 * const state = StateStore.memory();
 * const entry = new SharedEntry(state, "a", {}, {
 *   key: "things.json",
 *   empty: (): string[] => [],
 *   parse: (json) => {
 *     if (!Array.isArray(json)) throw new TypeError("not a list");
 *     return json.filter((x) => typeof x === "string");
 *   },
 *   isEmpty: (list) => list.length === 0,
 *   unreadable: "cannot read the things",
 *   changed: () => {},
 * });
 * await entry.update((list) => [...list, "one"]);
 * entry.read(); // ["one"]
 * ```
 */
export class SharedEntry<T> {
  /** This replica's name. */
  readonly replica: string;
  /** Lifetime of a part without renewal, in ms. */
  readonly ttlMs: number;
  /** When the parts lapse, on this replica's clock. */
  readonly lapses: Lapses;
  #state: StateStore;
  #format: SharedEntryFormat<T>;
  #now: () => number;
  #log: Logger;
  #unfollow: () => void;

  /** The entry `format.key` of `state`, written as `replica`. */
  constructor(
    state: StateStore,
    replica: string,
    options: SharedEntryOptions,
    format: SharedEntryFormat<T>,
    defaultTtlMs = 60_000,
  ) {
    this.#state = state;
    this.replica = replica;
    this.#format = format;
    this.ttlMs = options.ttlMs ?? defaultTtlMs;
    this.#now = options.now ?? Date.now;
    this.lapses = new Lapses(this.ttlMs, this.#now);
    this.#log = options.logger ?? silentLogger;
    state.quiet(format.key);
    this.#unfollow = state.onChange((keys) => {
      if (keys.includes(format.key)) format.changed();
    });
  }

  /** The entry's content now (`text`: read that instead of the cached entry). */
  read(text: string | undefined = this.#state.get(this.#format.key)): T {
    if (text === undefined) return this.#format.empty();
    try {
      return this.#format.parse(JSON.parse(text));
    } catch (error) {
      this.#log.warn(`${this.#format.unreadable}: ignoring them`, {
        entry: this.#state.describe(this.#format.key),
        error,
      });
      return this.#format.empty();
    }
  }

  /** The stamp of a part written now: when it lapses without renewal (ISO time). */
  expiresFromNow(): string {
    return new Date(this.#now() + this.ttlMs).toISOString();
  }

  /**
   * Rewrites the entry from its latest content (`undefined`: no change);
   * an empty result removes it.
   */
  async update(change: (current: T) => T | undefined): Promise<void> {
    await this.#state.update((entries) => {
      const next = change(this.read(entries[this.#format.key]));
      if (next === undefined) return undefined;
      return {
        [this.#format.key]: this.#format.isEmpty(next)
          ? null
          : JSON.stringify(next, null, 2) + "\n",
      };
    });
  }

  /** Calls `listener` when others changed the state; returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    return this.#state.onChange(() => listener());
  }

  /** Stops following changes of the entry. */
  close(): void {
    this.#unfollow();
  }
}
