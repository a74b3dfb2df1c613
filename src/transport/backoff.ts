/**
 * Reconnect delays: exponential growth with full jitter.
 *
 * @module
 */

/** Options of {@linkcode Backoff}. */
export interface BackoffOptions {
  /** Base delay in ms (default 500). */
  minMs?: number;
  /** Cap in ms (default 30 000). */
  maxMs?: number;
  /** Source of randomness in [0, 1), for tests. */
  random?: () => number;
}

/**
 * Attempt `n` (from 0) waits a uniformly random time in
 * `[0, min(max, min · 2^n)]` ("full jitter"), so a fleet of clients that lost
 * the same server does not come back in lockstep.
 */
export class Backoff {
  #min: number;
  #max: number;
  #random: () => number;
  #attempt = 0;

  /** Creates a backoff. */
  constructor(options?: BackoffOptions) {
    this.#min = options?.minMs ?? 500;
    this.#max = options?.maxMs ?? 30_000;
    this.#random = options?.random ?? Math.random;
    if (!(this.#min > 0) || !(this.#max >= this.#min)) {
      throw new RangeError(`Cannot back off between ${this.#min} and ${this.#max} ms`);
    }
  }

  /** Failed attempts since the last {@linkcode reset}. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The upper bound of the next delay. */
  get ceiling(): number {
    return Math.min(this.#max, this.#min * 2 ** Math.min(this.#attempt, 30));
  }

  /** The delay before the next attempt, in ms; counts the attempt. */
  next(): number {
    const delay = this.#random() * this.ceiling;
    this.#attempt++;
    return Math.round(delay);
  }

  /** Starts over after a healthy connection. */
  reset(): void {
    this.#attempt = 0;
  }
}
