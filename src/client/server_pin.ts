/**
 * The client's pin of the server key: trust on first use, kept in the state
 * directory.
 *
 * @module
 */

import { parseFingerprint } from "../crypto/fingerprint.ts";
import { writeFileAtomic } from "../state/mod.ts";

/** File name of the pin in the state directory. */
export const PIN_FILE = "server-fingerprint";

/** A pinned server fingerprint stored in one file. */
export class ServerPin {
  /** The pin file. */
  readonly path: string;

  /** A pin stored in `<stateDir>/server-fingerprint`. */
  constructor(stateDir: string) {
    this.path = `${stateDir}/${PIN_FILE}`;
  }

  /**
   * The pinned fingerprint, or undefined when nothing is pinned yet.
   *
   * @throws {RangeError} when the file holds something that is not a fingerprint.
   */
  async read(): Promise<string | undefined> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    return parseFingerprint(text.trim());
  }

  /** Pins `fingerprint`. */
  async write(fingerprint: string): Promise<void> {
    await writeFileAtomic(this.path, `${fingerprint}\n`);
  }
}
