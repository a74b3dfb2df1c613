/**
 * A client-side reader of watch responses (newline-delimited JSON watch events), for tests
 * that watch through plain `fetch`.
 *
 * @module
 */

import type { WatchEvent } from "./watch.ts";

/** Reads watch events one at a time from a watch response body. */
export class WatchEventReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  #done = false;

  /**
   * Wraps a watch response.
   *
   * @param response A `fetch` response to a `?watch=true` request.
   * @throws {TypeError} When the response has no body.
   */
  constructor(response: Response) {
    if (response.body === null) throw new TypeError("watch response has no body");
    this.#reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  }

  /**
   * The next event.
   *
   * @returns The event, or `undefined` when the stream ended normally.
   * @throws {TypeError} When the connection broke mid-stream (as after `failWatches()`).
   */
  async next(): Promise<WatchEvent | undefined> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline !== -1) {
        const line = this.#buffer.slice(0, newline);
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line.trim() !== "") return JSON.parse(line) as WatchEvent;
        continue;
      }
      if (this.#done) return undefined;
      const { value, done } = await this.#reader.read();
      if (done) this.#done = true;
      else this.#buffer += value;
    }
  }

  /**
   * Reads events until one satisfies `predicate`.
   *
   * @param predicate The condition.
   * @returns The matching event and all events read before it.
   * @throws {Error} When the stream ends first.
   */
  async until(
    predicate: (event: WatchEvent) => boolean,
  ): Promise<{ event: WatchEvent; skipped: WatchEvent[] }> {
    const skipped: WatchEvent[] = [];
    for (;;) {
      const event = await this.next();
      if (event === undefined) {
        throw new Error(`watch ended before the expected event; saw ${JSON.stringify(skipped)}`);
      }
      if (predicate(event)) return { event, skipped };
      skipped.push(event);
    }
  }

  /** Stops reading and releases the connection. Safe to call more than once. */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
