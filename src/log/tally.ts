/**
 * A warning that a flood would repeat thousands of times a second.
 *
 * @module
 */

import type { LogFields, Logger } from "./logger.ts";

/** Default interval between two lines of one tally, in ms. */
export const DEFAULT_TALLY_MS = 10_000;

/**
 * Writes one warning at most once per interval, with how many times it
 * happened since the last line (`count`): the first occurrence is logged at
 * once, later ones are folded into the next line. A flood of refused
 * connections then costs the log one line per interval, not one per refusal.
 *
 * @example
 * ```ts
 * import { Logger } from "./mod.ts";
 * import { LogTally } from "./tally.ts";
 * const lines: string[] = [];
 * const log = new Logger({ format: "json", sink: (line) => lines.push(line) });
 * const tally = new LogTally(log, "refusing connections");
 * for (let i = 0; i < 1000; i++) tally.add({ remote: "192.0.2.1" });
 * console.log(lines.length); // 1: the first, with count 1; the rest wait for the next interval
 * ```
 */
export class LogTally {
  #log: Logger;
  #message: string;
  #intervalMs: number;
  #now: () => number;
  #loggedAt = -Infinity;
  #count = 0;

  /** A tally of `message` on `log`, at most one line per `intervalMs`. */
  constructor(
    log: Logger,
    message: string,
    intervalMs: number = DEFAULT_TALLY_MS,
    now: () => number = () => performance.now(),
  ) {
    this.#log = log;
    this.#message = message;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  /** Counts one occurrence; writes a line with `fields` and the count when the interval has passed. */
  add(fields: LogFields = {}): void {
    this.#count++;
    const now = this.#now();
    if (now - this.#loggedAt < this.#intervalMs) return;
    this.#log.warn(this.#message, { ...fields, count: this.#count });
    this.#loggedAt = now;
    this.#count = 0;
  }
}
