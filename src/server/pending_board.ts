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

import type { RequestEntry } from "../admin/mod.ts";
import type { StateStore } from "../state/mod.ts";
import { SharedEntry, type SharedEntryOptions } from "./shared_entry.ts";

/** Entry of the server's state holding the shared pending requests. */
export const PENDING_ENTRY = "pending-requests.json";

/** Default lifetime of a published request without renewal, in ms. */
export const DEFAULT_PENDING_TTL_MS = 60_000;

/**
 * A join request waiting for the operator: what `GET /v1/requests?detail=1`
 * lists (fingerprint, name, remote, since; under `--ha` replica and expiry).
 */
export type PendingRequest = RequestEntry;

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
  #entry: SharedEntry<SharedRequest[]>;

  /** A board in `state`, written as `replica`. */
  constructor(state: StateStore, replica: string, options: SharedEntryOptions = {}) {
    this.#entry = new SharedEntry(state, replica, options, {
      key: PENDING_ENTRY,
      empty: () => [],
      parse: parseRequests,
      isEmpty: (all) => all.length === 0,
      // Only ever a listing: a damaged entry lists nothing and the next publish rewrites it.
      unreadable: "cannot read the shared pending requests",
      // Renewals are timed from when they arrive, not from the next listing (the board lives
      // as long as its state: no unsubscribe).
      changed: () => this.list(),
    }, DEFAULT_PENDING_TTL_MS);
  }

  /** This replica's name. */
  get replica(): string {
    return this.#entry.replica;
  }

  /** How long an entry lives without renewal, in ms. */
  get ttlMs(): number {
    return this.#entry.ttlMs;
  }

  /** Every replica's requests that have not expired, oldest first. */
  list(): SharedRequest[] {
    const all = this.#entry.read();
    const lapses = this.#entry.lapses;
    lapses.keep(all.map((r) => [lapseKey(r), r.expires]));
    return all
      .filter((r) => lapses.live(lapseKey(r), r.expires))
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
    const expires = this.#entry.expiresFromNow();
    const lapses = this.#entry.lapses;
    await this.#entry.update((all) => [
      ...all.filter((r) =>
        r.replica !== this.replica && lapses.live(lapseKey(r), r.expires) &&
        !requests.some((mine) => mine.fingerprint === r.fingerprint)
      ),
      ...requests.map(({ fingerprint, name, remote, since }) => ({
        fingerprint,
        name,
        remote,
        since,
        replica: this.replica,
        expires,
      })),
    ]);
  }

  /** Marks another replica's request declined; false when it is not listed. */
  async decline(fingerprint: string): Promise<boolean> {
    if (!this.elsewhere(fingerprint)) return false;
    await this.#entry.update((all) => {
      const request = all.find((r) => r.fingerprint === fingerprint);
      if (!request || request.declined) return undefined;
      request.declined = true;
      return all;
    });
    return true;
  }

  /** Calls `listener` when others changed the shared state; returns an unsubscribe. */
  onChange(listener: () => void): () => void {
    return this.#entry.onChange(listener);
  }
}

/** The requests of a parsed entry with the right shape. */
function parseRequests(json: unknown): SharedRequest[] {
  if (!Array.isArray(json)) throw new TypeError("not a list");
  return json.filter((r) =>
    typeof r?.fingerprint === "string" && typeof r.name === "string" &&
    typeof r.remote === "string" && typeof r.since === "string" &&
    typeof r.replica === "string" && typeof r.expires === "string"
  );
}

/** A request entry's identity for {@linkcode Lapses}: its replica and key. */
function lapseKey(request: SharedRequest): string {
  return `${request.replica}\0${request.fingerprint}`;
}
