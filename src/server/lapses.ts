/**
 * When entries other replicas renew in the shared state lapse, measured on
 * this replica's clock: an entry is live for one lifetime from when this
 * replica first saw its current stamp (every renewal writes a new one). The
 * stamp's time itself is never compared with this clock, so replicas whose
 * clocks disagree (by more than a lifetime, even) neither hide nor drop each
 * other's entries; the Leases of `--ha` are timed the same way.
 *
 * @module
 */

/** First sightings of entry stamps; see the module doc. */
export class Lapses {
  #ttlMs: number;
  #now: () => number;
  /** Entry key and stamp → when (our clock) that stamp was first seen. */
  #seen = new Map<string, number>();

  /**
   * @param ttlMs An entry's lifetime without renewal.
   * @param now This replica's clock, in ms.
   */
  constructor(ttlMs: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#now = now;
  }

  /**
   * Whether the entry `key` with stamp `stamp` is still live; call it for
   * every entry read (it records the first sighting). Pass every key of one
   * reading to {@linkcode Lapses.keep} to forget the others.
   */
  live(key: string, stamp: string): boolean {
    const id = `${key}\0${stamp}`;
    const now = this.#now();
    let since = this.#seen.get(id);
    if (since === undefined) this.#seen.set(id, since = now);
    return now - since < this.#ttlMs;
  }

  /** Forgets the sightings of entries (key and stamp) other than `present`. */
  keep(present: Iterable<[key: string, stamp: string]>): void {
    const ids = new Set([...present].map(([key, stamp]) => `${key}\0${stamp}`));
    for (const id of this.#seen.keys()) if (!ids.has(id)) this.#seen.delete(id);
  }
}
