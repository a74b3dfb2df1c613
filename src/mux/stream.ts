/**
 * One multiplexed stream: a bidirectional byte channel inside a tunnel
 * connection, with credit-based flow control in each direction.
 *
 * @module
 */

import { StreamResetError } from "./errors.ts";

/** What a stream needs from its multiplexer. */
export interface StreamHost {
  /** Largest data payload to put in one frame. */
  readonly maxFrame: number;
  /** Queues a data frame; `taken` runs once it is encoded into a record. */
  sendData(stream: MuxStream, payload: Uint8Array, taken: (error?: Error) => void): void;
  /** Queues a FIN frame after the stream's data. */
  sendFin(stream: MuxStream): void;
  /** Sends a reset frame ahead of queued data. */
  sendReset(stream: MuxStream, code: number, reason: string): void;
  /** Grants the peer `increment` more bytes of credit. */
  sendWindow(stream: MuxStream, increment: number): void;
  /** Milliseconds on the clock that measures epochs and round trips. */
  now(): number;
  /** Round-trip time to the peer in ms (the smallest sample of the connection), or 0 before the first. */
  readonly rtt: number;
  /** Asks for a round-trip measurement (a ping), unless a recent one exists or is under way. */
  probeRtt(): void;
  /**
   * Asks to grow `stream`'s receive window by up to `bytes`; returns the
   * bytes the connection's budget grants (0 to `bytes`).
   */
  growWindow(stream: MuxStream, bytes: number): number;
  /** `stream`'s receive window shrank by `bytes`: they return to the budget. */
  shrinkWindow(stream: MuxStream, bytes: number): void;
  /**
   * The stream is finished in both directions and can be forgotten; its
   * window ({@linkcode MuxStream.window}) no longer counts against the budget.
   */
  release(stream: MuxStream): void;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/**
 * A stream of a {@linkcode Mux}. Writes wait for credit the peer granted and
 * resolve once the bytes are handed to the link; reads return chunks in order
 * and grant the peer new credit as they are consumed (in batches of an
 * eighth of the window while data waits; all of it, from a 64th on, once the
 * reader has read everything that arrived).
 *
 * The receive window starts at the initial size and doubles, up to its
 * maximum, when over at least one round trip the consumer read at least half
 * a window and drained everything that arrived (it waited for data): then the
 * window, not the consumer, limits the stream, and the bandwidth-delay product
 * asks for more. A consumer that leaves data waiting never makes it grow; when
 * it falls behind with half a window unread, a grown window shrinks by half
 * (not below the initial size), by withholding credit as it is read.
 */
export class MuxStream {
  /** Stream id, unique within its connection. */
  readonly id: number;
  /** Name of the app the stream was opened for. */
  readonly app: string;

  #host: StreamHost;
  #credit: number;
  #creditWaiters: Waiter[] = [];
  /** Held by a write that ran out of credit, so later writes queue behind it. */
  #writeLock: Promise<void> | null = null;
  /** Writes whose bytes are not all queued yet; FIN waits for them. */
  #pendingWrites = 0;
  #finPending = false;

  #window: number;
  #initialWindow: number;
  #maxWindow: number;
  /** Window bytes still to give up, withheld from the credit the consumer frees. */
  #retire = 0;
  /** Credit the peer still has: bytes it may send before it hears from us again. */
  #windowLeft: number;
  /** Bytes read but not yet given back as credit. */
  #unacked = 0;
  /** Bytes received and not yet read. */
  #buffered = 0;
  /** Start of the current measuring epoch (host clock), bytes read in it, and whether the reader waited for data in it. */
  #epochStart: number;
  #epochBytes = 0;
  #drained = false;
  #inbox: Uint8Array[] = [];
  #inboxHead = 0;
  #readWaiters: Waiter[] = [];

  #localEnded = false;
  #remoteEnded = false;
  #readDone = false;
  #error: StreamResetError | null = null;
  #released = false;
  #closed: PromiseWithResolvers<void> | null = null;

  /** Data bytes sent to the peer (put into Data frames). */
  bytesOut = 0;
  /** Bytes received from the peer. */
  bytesIn = 0;

  /**
   * Creates a stream; only multiplexers call this. `window` is the initial
   * receive window, `maxWindow` (default: `window`) the size it may grow to.
   */
  constructor(
    host: StreamHost,
    id: number,
    app: string,
    sendCredit: number,
    window: number,
    maxWindow: number = window,
  ) {
    this.#host = host;
    this.id = id;
    this.app = app;
    this.#credit = sendCredit;
    this.#window = window;
    this.#initialWindow = window;
    this.#maxWindow = Math.max(window, maxWindow);
    this.#windowLeft = window;
    this.#epochStart = host.now();
  }

  /** The receive window: credit granted and not yet read, plus what was read and not yet given back. */
  get window(): number {
    return this.#window;
  }

  /** Credit the peer still has on this stream, as this side counts it. */
  get windowLeft(): number {
    return this.#windowLeft;
  }

  /** Bytes received and not yet read. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Send credit currently available. */
  get credit(): number {
    return this.#credit;
  }

  /** The reset that ended this stream, if any. */
  get error(): StreamResetError | null {
    return this.#error;
  }

  /** Resolves once the stream is finished both ways or reset. */
  get closed(): Promise<void> {
    if (this.#released) return Promise.resolve();
    this.#closed ??= Promise.withResolvers<void>();
    return this.#closed.promise;
  }

  /**
   * Resolves with the available credit once it is above zero.
   *
   * @throws {StreamResetError} once the stream is reset.
   */
  waitCredit(): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#credit > 0) return Promise.resolve(this.#credit);
    return new Promise<void>((resolve, reject) => {
      this.#creditWaiters.push({ resolve, reject });
    }).then(() => this.waitCredit());
  }

  /**
   * Sends `chunk`, split into frames, waiting for credit as needed. Resolves
   * when the last frame is handed to the link; the caller may then reuse
   * the buffer.
   *
   * @throws {StreamResetError} when the stream is reset.
   */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#localEnded) throw new TypeError("Cannot write to stream: it was ended");
    this.#pendingWrites++;
    let last: Promise<void> | null = null;
    try {
      // Writes keep their order: a write that ran out of credit goes first.
      while (this.#writeLock) await this.#writeLock;
      let offset = 0;
      let unlock = null as (() => void) | null;
      try {
        while (offset < chunk.length) {
          if (this.#error) throw this.#error;
          if (this.#credit <= 0) {
            if (!unlock) {
              const lock = Promise.withResolvers<void>();
              this.#writeLock = lock.promise;
              unlock = lock.resolve;
            }
            await this.waitCredit();
            continue;
          }
          const size = Math.min(this.#credit, chunk.length - offset, this.#host.maxFrame);
          this.#credit -= size;
          this.bytesOut += size;
          const payload = chunk.subarray(offset, offset + size);
          last = new Promise<void>((resolve, reject) => {
            this.#host.sendData(this, payload, (error) => error ? reject(error) : resolve());
          });
          // Only the last hand-over is awaited; the others must not go unhandled.
          last.catch(() => {});
          offset += size;
        }
      } finally {
        if (unlock) {
          this.#writeLock = null;
          unlock();
        }
      }
    } finally {
      this.#pendingWrites--;
      if (this.#pendingWrites === 0 && this.#finPending) {
        this.#finPending = false;
        if (!this.#error) this.#host.sendFin(this);
        this.#maybeRelease();
      }
    }
    if (last) await last;
  }

  /** Half-closes the sending direction: the peer reads end-of-stream after the data. */
  end(): void {
    if (this.#localEnded || this.#error) return;
    this.#localEnded = true;
    // A FIN must follow every byte of writes still waiting for credit.
    if (this.#pendingWrites > 0) {
      this.#finPending = true;
      return;
    }
    this.#host.sendFin(this);
    this.#maybeRelease();
  }

  /**
   * Reads the next chunk; `null` once the peer ended its direction.
   * Reading grants the peer new credit.
   *
   * @throws {StreamResetError} once the stream is reset.
   */
  read(): Promise<Uint8Array | null> {
    if (this.#inboxHead < this.#inbox.length) return Promise.resolve(this.#take());
    if (this.#error) return Promise.reject(this.#error);
    if (this.#remoteEnded) return Promise.resolve(this.#eof());
    // The consumer has read everything that arrived: it keeps up.
    this.#drained = true;
    return new Promise<void>((resolve, reject) => {
      this.#readWaiters.push({ resolve, reject });
    }).then(() => this.read());
  }

  /** Aborts the stream both ways and tells the peer why. Idempotent. */
  reset(code: number, reason: string): void {
    if (this.#error || this.#released) return;
    this.#host.sendReset(this, code, reason);
    this.#fail(new StreamResetError(code, reason, false));
  }

  #take(): Uint8Array {
    const chunk = this.#inbox[this.#inboxHead];
    this.#inbox[this.#inboxHead++] = undefined as unknown as Uint8Array;
    if (this.#inboxHead === this.#inbox.length) {
      this.#inbox = [];
      this.#inboxHead = 0;
    }
    this.#buffered -= chunk.length;
    this.#unacked += chunk.length;
    this.#epochBytes += chunk.length;
    // Credit goes back per eighth of a window consumed, which batches Window
    // frames while data waits (the consumer, not the window, is the limit).
    // Once the consumer has read everything that arrived it waits for the
    // sender: then what it read goes back at once (from a 64th of a window,
    // so that small messages do not each cost a Window frame), and the
    // sender may keep a full window in flight instead of 7/8 of one.
    const step = this.#buffered === 0 ? this.#window >>> 6 : this.#window >>> 3;
    if (this.#unacked >= step && !this.#remoteEnded) {
      let increment = this.#unacked + this.#tune();
      this.#unacked = 0;
      if (this.#retire > 0) {
        const retired = Math.min(this.#retire, increment);
        this.#retire -= retired;
        this.#window -= retired;
        increment -= retired;
        this.#host.shrinkWindow(this, retired);
      }
      if (increment > 0) {
        this.#windowLeft += increment;
        this.#host.sendWindow(this, increment);
      }
    }
    return chunk;
  }

  /**
   * Ends the measuring epoch once it spans a round trip; returns the bytes
   * the window grows by (granted by the connection's budget), often 0, or
   * sets what it is to shrink by.
   */
  #tune(): number {
    if (this.#window >= this.#maxWindow && this.#window === this.#initialWindow) return 0;
    const rtt = this.#host.rtt;
    this.#host.probeRtt();
    if (rtt <= 0) return 0;
    const now = this.#host.now();
    const elapsed = now - this.#epochStart;
    if (elapsed < rtt) return 0;
    // Bytes consumed per round trip: what the path delivers with this window.
    const perRtt = this.#epochBytes * rtt / elapsed;
    const keptUp = this.#drained;
    this.#epochStart = now;
    this.#epochBytes = 0;
    this.#drained = false;
    if (!keptUp) {
      if (this.#buffered >= this.#window / 2 && this.#window > this.#initialWindow) {
        const target = Math.max(this.#initialWindow, Math.ceil(this.#window / 2));
        this.#retire = Math.max(this.#retire, this.#window - target);
      }
      return 0;
    }
    if (this.#retire > 0 || this.#window >= this.#maxWindow || perRtt < this.#window / 2) return 0;
    const granted = this.#host.growWindow(
      this,
      Math.min(this.#window, this.#maxWindow - this.#window),
    );
    this.#window += granted;
    return granted;
  }

  #eof(): null {
    this.#readDone = true;
    this.#maybeRelease();
    return null;
  }

  #maybeRelease(): void {
    if (this.#localEnded && !this.#finPending && this.#readDone && !this.#error) this.#release();
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#host.release(this);
    this.#closed?.resolve();
  }

  #fail(error: StreamResetError): void {
    if (this.#error) return;
    this.#error = error;
    this.#buffered = 0;
    this.#inbox = [];
    this.#inboxHead = 0;
    for (const waiter of this.#creditWaiters.splice(0)) waiter.reject(error);
    for (const waiter of this.#readWaiters.splice(0)) waiter.reject(error);
    this.#release();
  }

  // ---- called by the multiplexer ----

  /**
   * Delivers an inbound data payload. Returns false when the peer exceeded
   * the window it was granted (a protocol violation).
   */
  receiveData(payload: Uint8Array): boolean {
    if (this.#error) return true;
    if (this.#remoteEnded || payload.length > this.#windowLeft) return false;
    this.#windowLeft -= payload.length;
    this.#buffered += payload.length;
    this.bytesIn += payload.length;
    if (payload.length === 0) return true;
    // A small payload must not pin a large record in memory while it waits.
    const own = payload.length * 2 < payload.buffer.byteLength ? payload.slice() : payload;
    this.#inbox.push(own);
    this.#wakeReader();
    return true;
  }

  /** The peer ended its direction. Returns false when it had already done so. */
  receiveFin(): boolean {
    if (this.#error) return true;
    if (this.#remoteEnded) return false;
    this.#remoteEnded = true;
    this.#wakeReader();
    return true;
  }

  /** The peer granted more credit. */
  receiveWindow(increment: number): void {
    if (this.#error) return;
    this.#credit += increment;
    for (const waiter of this.#creditWaiters.splice(0)) waiter.resolve();
  }

  /** The peer reset the stream, or the connection is gone. */
  receiveReset(error: StreamResetError): void {
    this.#fail(error);
  }

  #wakeReader(): void {
    for (const waiter of this.#readWaiters.splice(0)) waiter.resolve();
  }
}
