/**
 * Join requests shared between server replicas (`--ha`): each replica
 * publishes the requests waiting on it into the shared state (entry
 * `pending-requests.json` of the state Secret), so that every replica lists
 * all of them, and an operator's decline on another replica reaches the one
 * holding the connection. (An accept needs no mark: the approval itself is
 * in the shared state, and the waiting replica settles when it sees it.)
 *
 * Entries carry an expiry that their replica pushes forward while they
 * wait; those of a replica that died expire and are dropped at the next
 * write.
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { StateStore } from "../state/mod.ts";
import type { PendingRequest } from "./acceptor.ts";
import { Lapses } from "./lapses.ts";

/** Entry of the server's state holding the shared pending requests. */
export const PENDING_ENTRY = "pending-requests.json";

/** Default lifetime of a published request without renewal, in ms. */
export const DEFAULT_PENDING_TTL_MS = 60_000;

/** A pending request as every replica sees it. */
export interface SharedRequest extends PendingRequest {
  /** The replica holding the waiting connection. */
  replica: string;
  /** ISO time after which the entry counts as gone, unless its replica renews it. */
  expires: string;
  /** Set by the replica where the operator declined it. */
  declined?: boolean;
}

/** The shared list of pending requests in one state document. */
export class PendingBoard {
  /** This replica's name. */
  readonly replica: string;
  #state: StateStore;
  #ttlMs: number;
  #lapses: Lapses;
  #now: () => number;
  #log: Logger;

  /** A board in `state`, written as `replica`. */
  constructor(
    state: StateStore,
    replica: string,
    options: { ttlMs?: number; now?: () => number; logger?: Logger } = {},
  ) {
    this.#state = state;
    this.replica = replica;
    this.#ttlMs = options.ttlMs ?? DEFAULT_PENDING_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#lapses = new Lapses(this.#ttlMs, this.#now);
    this.#log = options.logger ?? silentLogger;
    state.quiet(PENDING_ENTRY);
    // Renewals are timed from when they arrive, not from the next listing (the board lives
    // as long as its state: no unsubscribe).
    state.onChange((keys) => {
      if (keys.includes(PENDING_ENTRY)) this.list();
    });
  }

  /** How long an entry lives without renewal, in ms. */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Every replica's requests that have not expired, oldest first. */
  list(): SharedRequest[] {
    const all = this.#parse(this.#state.get(PENDING_ENTRY));
    this.#lapses.keep(all.map((r) => [lapseKey(r), r.expires]));
    return all
      .filter((r) => this.#lapses.live(lapseKey(r), r.expires))
      .sort((a, b) => a.since.localeCompare(b.since));
  }

  /** One request of another replica, if it is listed and not expired. */
  elsewhere(fingerprint: string): SharedRequest | undefined {
    return this.list().find((r) => r.fingerprint === fingerprint && r.replica !== this.replica);
  }

  /**
   * Makes this replica's entries exactly `requests` (expiring one lifetime
   * from now), and drops expired entries of any replica.
   */
  async publish(requests: PendingRequest[]): Promise<void> {
    const expires = new Date(this.#now() + this.#ttlMs).toISOString();
    await this.#state.update((entries) => {
      const others = this.#parse(entries[PENDING_ENTRY]).filter((r) =>
        r.replica !== this.replica && this.#lapses.live(lapseKey(r), r.expires) &&
        !requests.some((mine) => mine.fingerprint === r.fingerprint)
      );
      const mine = requests.map(({ fingerprint, name, remote, since }) => ({
        fingerprint,
        name,
        remote,
        since,
        replica: this.replica,
        expires,
      }));
      const all = [...others, ...mine];
      return { [PENDING_ENTRY]: all.length === 0 ? null : JSON.stringify(all, null, 2) + "\n" };
    });
  }

  /** Marks another replica's request declined; false when it is not listed. */
  async decline(fingerprint: string): Promise<boolean> {
    if (!this.elsewhere(fingerprint)) return false;
    await this.#state.update((entries) => {
      const all = this.#parse(entries[PENDING_ENTRY]);
      const request = all.find((r) => r.fingerprint === fingerprint);
      if (!request || request.declined) return undefined;
      request.declined = true;
      return { [PENDING_ENTRY]: JSON.stringify(all, null, 2) + "\n" };
    });
    return true;
  }

  /** Calls `listener` when others changed the shared state; returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    return this.#state.onChange(() => listener());
  }

  #parse(text: string | undefined): SharedRequest[] {
    if (text === undefined) return [];
    try {
      const list = JSON.parse(text);
      if (!Array.isArray(list)) throw new TypeError("not a list");
      return list.filter((r) =>
        typeof r?.fingerprint === "string" && typeof r.name === "string" &&
        typeof r.remote === "string" && typeof r.since === "string" &&
        typeof r.replica === "string" && typeof r.expires === "string"
      );
    } catch (error) {
      // Only ever a listing: a damaged entry lists nothing and the next publish rewrites it.
      this.#log.warn("cannot read the shared pending requests: ignoring them", {
        entry: this.#state.describe(PENDING_ENTRY),
        error,
      });
      return [];
    }
  }
}

/** A request entry's identity for {@linkcode Lapses}: its replica and key. */
function lapseKey(request: SharedRequest): string {
  return `${request.replica}\0${request.fingerprint}`;
}
