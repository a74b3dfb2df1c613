/**
 * The client's pin of the server key: trust on first use, kept in the
 * client's state (entry `server-fingerprint`).
 *
 * @module
 */

import { parseFingerprint } from "../crypto/mod.ts";
import type { StateStore } from "../state/mod.ts";

/** Entry of the client's state holding the pin (a file in the state directory). */
export const PIN_FILE = "server-fingerprint";

/** A pinned server fingerprint stored in the client's state. */
export class ServerPin {
  #state: StateStore;

  /** A pin kept in `state`. */
  constructor(state: StateStore) {
    this.#state = state;
  }

  /** Where the pin is kept, for messages: a file path, or a key of a Secret. */
  get path(): string {
    return this.#state.describe(PIN_FILE);
  }

  /**
   * The pinned fingerprint, or undefined when nothing is pinned yet.
   *
   * @throws {RangeError} naming where the pin is kept when it is not a fingerprint.
   */
  async read(): Promise<string | undefined> {
    // Read again: deleting the pin to re-pin must work without a restart. If the state cannot
    // be read right now (an API server blip), the pin read last still holds.
    await this.#state.refresh().catch(() => {});
    const text = this.#state.get(PIN_FILE);
    if (text === undefined) return undefined;
    try {
      return parseFingerprint(text.trim());
    } catch (error) {
      throw new RangeError(`Cannot read ${this.path}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** Pins `fingerprint`. */
  async write(fingerprint: string): Promise<void> {
    await this.#state.update(() => ({ [PIN_FILE]: `${fingerprint}\n` }));
  }
}
