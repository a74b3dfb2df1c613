/**
 * The record link: what the multiplexer needs from the layer below it
 * (a WebSocket, an encrypting session, or an in-memory pair in tests).
 *
 * @module
 */

/**
 * Bytes a link may use in front of a record for its own framing. A record
 * passed to {@linkcode RecordLink.send} belongs to the link from then on;
 * when it is a view with at least this many unused bytes before it in its
 * buffer, the link may frame it in place instead of copying it.
 */
export const LINK_HEADROOM = 16;

/** Callbacks a link delivers inbound records and its end to. */
export interface RecordHandler {
  /**
   * One inbound record (WebSocket message), in order. A returned promise
   * asks the link to read no more from its peer until it settles (the
   * handler's backlog is full, and records waiting in the kernel's socket
   * buffer cost this process nothing); any other result is ignored.
   */
  record(record: Uint8Array): unknown;
  /** The link is closed; `error` says why when it was not an orderly close. */
  closed(error?: Error): void;
}

/** A bidirectional, ordered, message-oriented link carrying records. */
export interface RecordLink {
  /**
   * Sets where inbound records go. Records that arrive before a handler is
   * set are held and delivered to the first handler.
   */
  listen(handler: RecordHandler): void;
  /**
   * Queues one record for sending. Records are delivered in order. The
   * record belongs to the link from now on (see {@linkcode LINK_HEADROOM}).
   */
  send(record: Uint8Array): void;
  /** False while the link's send queue is above its high watermark. */
  readonly writable: boolean;
  /** Resolves once the send queue has drained below its low watermark, or the link closed. */
  waitWritable(): Promise<void>;
  /** Closes the link; `reason` may reach the peer. Idempotent. */
  close(reason?: string): void;
}

/**
 * The inbound side every link shares: records (and the end) that arrive
 * before anyone listens are held, then handed to the first handler in order.
 */
export class RecordInbox {
  #handler: RecordHandler | null = null;
  #held: Uint8Array[] = [];
  #ended = false;
  #error: Error | undefined;

  /** Sets the handler; held records, then a held end, reach it at once. */
  listen(handler: RecordHandler): void {
    this.#handler = handler;
    const held = this.#held;
    this.#held = [];
    for (const record of held) handler.record(record);
    if (this.#ended) handler.closed(this.#error);
  }

  /** One inbound record; returns the handler's request to pause, if any. */
  record(record: Uint8Array): unknown {
    if (this.#ended) return;
    if (this.#handler) return this.#handler.record(record);
    this.#held.push(record);
  }

  /** The link ended; `error` says why when it was not an orderly close. Once only. */
  end(error?: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#handler?.closed(error);
  }
}
