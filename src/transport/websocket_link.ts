/**
 * A {@linkcode RecordLink} over a WebSocket on a connection this process
 * owns: one record per binary message, on either side (RFC 6455 client or
 * server role). Owning the socket is what lets it keep its promises where
 * the runtime's WebSocket cannot: `TCP_NODELAY` on (the runtime's client
 * turns it off, which costs a delayed-ACK stall of ~40 ms whenever small
 * records follow each other), a private CA for wss://, a send queue with
 * real backpressure instead of polling `bufferedAmount`, and, on the
 * server, a message size limit checked before a byte of the message is
 * kept: a few KiB until the peer is admitted, records after. The runtime's
 * server WebSocket takes fragmented messages without limit and whole ones up
 * to 64 MiB (`Deno.UpgradeWebSocketOptions` has only `protocol` and
 * `idleTimeout`), which let one unauthenticated connection grow the server
 * by 1.5 GB in 3 s.
 *
 * @module
 */

import { type RecordHandler, RecordInbox, type RecordLink } from "../link/mod.ts";
import {
  CloseCode,
  closePayload,
  encodeFrame,
  frameInPlace,
  FrameParser,
  Opcode,
  WebSocketProtocolError,
  type WsFrame,
} from "./ws_frame.ts";

/** Largest WebSocket message accepted unless the link is told otherwise (16 MiB). */
export const MAX_MESSAGE = 16 << 20;

/** Bytes read from the socket at once by an admitted link. */
const READ_BUFFER = 256 * 1024;
/** Bytes read at once before admission: handshake messages are ~2.4 KB. */
const SMALL_READ_BUFFER = 16 * 1024;
/**
 * What a kept fragment costs besides its bytes, counted against the message
 * limit: without it, empty fragments would cost memory and no bytes.
 */
const FRAGMENT_COST = 64;
/** How long a closing link waits for the peer's close before it hangs up. */
const CLOSE_WAIT_MS = 1000;
/**
 * Bytes a closing link reads while it waits for the peer's close: enough for
 * what an honest peer had in flight, and the end of reading for one that
 * ignores the close and keeps sending.
 */
const CLOSE_READ_LIMIT = 1 << 20;

/** Default high watermark of the send queue. */
export const DEFAULT_HIGH_WATER = 2 * 1024 * 1024;
/** Default low watermark of the send queue. */
export const DEFAULT_LOW_WATER = 512 * 1024;

/** Watermarks for the send queue. */
export interface WatermarkOptions {
  /** Queued bytes at or above which the link is not writable (default 2 MiB). */
  highWater?: number;
  /** Queued bytes at or below which a blocked link is writable again (default 512 KiB). */
  lowWater?: number;
}

/** Options of {@linkcode WebSocketLink}. */
export interface WebSocketLinkOptions extends WatermarkOptions {
  /** Which end of the WebSocket this is: clients mask what they send, servers must not. */
  role: "client" | "server";
  /** Largest message accepted, fragments included (default {@linkcode MAX_MESSAGE}). */
  maxMessage?: number;
  /**
   * Milliseconds without a byte from the peer after which the link pings it,
   * and after twice which it hangs up (default: never). Guards phases where
   * nothing above the link pings, e.g. a join request waiting for approval.
   */
  idleTimeoutMs?: number;
  /** Called once, when {@linkcode WebSocketLink.admit} is. */
  onAdmit?: () => void;
}

/** A record link over a WebSocket whose connection and upgrade this process owns. */
export class WebSocketLink implements RecordLink {
  #conn: Deno.Conn;
  #inbox = new RecordInbox();
  #masked: boolean;
  #highWater: number;
  #lowWater: number;
  #maxMessage: number;
  #onAdmit: (() => void) | undefined;
  #readSize = SMALL_READ_BUFFER;
  #queue: Uint8Array[] = [];
  #queued = 0;
  /** A pong still in the queue: while it waits, further pings get no other. */
  #pong: Uint8Array | null = null;
  #writing = false;
  #drainWaiters: (() => void)[] = [];
  #flushWaiters: (() => void)[] = [];
  #closing = false;
  #readWhileClosing = 0;
  #closed = false;
  #closeError: Error | undefined;
  #parser: FrameParser;
  #fragments: Uint8Array[] = [];
  #fragmentsSize = 0;
  #idleTimer: ReturnType<typeof setInterval> | undefined;
  #done = Promise.withResolvers<void>();
  /**
   * Ends the read loop's pause, called by `#shutdown` so that a paused read
   * loop never outlives the link. (Racing each pause against one promise that
   * lives as long as the link would add a reaction to it per pause, kept
   * until the link closes: ~2,000 a GiB received.)
   */
  #endPause: (() => void) | undefined;
  #reader: Promise<void>;

  /** Bytes received, for metrics. */
  bytesIn = 0;
  /** Bytes sent, for metrics. */
  bytesOut = 0;

  /** Takes over `conn`, whose upgrade is done; `leftover` are bytes read past it. */
  constructor(conn: Deno.Conn, leftover: Uint8Array, options: WebSocketLinkOptions) {
    this.#conn = conn;
    this.#masked = options.role === "client";
    this.#highWater = options.highWater ?? DEFAULT_HIGH_WATER;
    this.#lowWater = options.lowWater ?? DEFAULT_LOW_WATER;
    this.#maxMessage = options.maxMessage ?? MAX_MESSAGE;
    this.#onAdmit = options.onAdmit;
    if (this.#maxMessage > SMALL_READ_BUFFER) this.#readSize = READ_BUFFER;
    this.#parser = new FrameParser(this.#maxMessage, { masked: options.role === "server" });
    if (options.idleTimeoutMs) this.#watchIdle(options.idleTimeoutMs);
    this.#reader = this.#readLoop(leftover);
  }

  /** Resolves once the connection is closed and nothing of it is left running. */
  get finished(): Promise<void> {
    return this.#done.promise;
  }

  /** Why the link closed, when it was not an orderly close (e.g. a {@linkcode WebSocketProtocolError}). */
  get error(): Error | undefined {
    return this.#closeError;
  }

  /** Largest message accepted now. */
  get maxMessage(): number {
    return this.#maxMessage;
  }

  /**
   * The peer is authenticated: accept messages up to `maxMessage` from now
   * on, and tell whoever counts unauthenticated connections.
   */
  admit(maxMessage: number): void {
    this.#maxMessage = maxMessage;
    this.#parser.maxFrame = maxMessage;
    this.#readSize = READ_BUFFER;
    const onAdmit = this.#onAdmit;
    this.#onAdmit = undefined;
    onAdmit?.();
  }

  /** Sets where inbound records go; records that came first are held for it. */
  listen(handler: RecordHandler): void {
    this.#inbox.listen(handler);
  }

  /** Queues one record as a binary message; it belongs to the link from now on. */
  send(record: Uint8Array): void {
    if (this.#closing || this.#closed) return;
    this.bytesOut += record.length;
    // Records with headroom (sealed records have it) are framed without a copy.
    this.#enqueue(
      frameInPlace(Opcode.Binary, record, this.#masked) ??
        encodeFrame(Opcode.Binary, record, this.#masked),
    );
  }

  /** False while the send queue is above its high watermark. */
  get writable(): boolean {
    return !this.#closed && this.#queued < this.#highWater;
  }

  /** Resolves once the send queue drained below its low watermark, or the link closed. */
  waitWritable(): Promise<void> {
    if (this.#closed || this.#queued <= this.#lowWater) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Closes the link with a normal close; `reason` reaches the peer, cut to 123 bytes of UTF-8. Idempotent. */
  close(reason?: string): void {
    this.#sendClose(CloseCode.Normal, reason ?? "");
  }

  /**
   * Sends a close frame and stops taking messages: what still arrives is
   * parsed only to see the peer's close, and the connection is cut after
   * {@linkcode CLOSE_WAIT_MS} whatever the peer does.
   */
  #sendClose(code: number, reason: string): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    this.#fragments = [];
    this.#fragmentsSize = 0;
    this.#enqueue(encodeFrame(Opcode.Close, closePayload(code, reason), this.#masked));
    const timer = setTimeout(() => this.#shutdown(), CLOSE_WAIT_MS);
    this.#done.promise.then(() => clearTimeout(timer));
  }

  #watchIdle(idleMs: number): void {
    let seen = -1;
    let pinged = false;
    this.#idleTimer = setInterval(() => {
      if (this.bytesIn !== seen) {
        seen = this.bytesIn;
        pinged = false;
      } else if (!pinged) {
        pinged = true;
        if (!this.#closing) {
          this.#enqueue(encodeFrame(Opcode.Ping, new Uint8Array(0), this.#masked));
        }
      } else {
        this.#closeError ??= new Error(`No answer from the peer for ${2 * idleMs} ms`);
        this.#shutdown();
      }
    }, idleMs);
  }

  #enqueue(frame: Uint8Array): void {
    this.#queue.push(frame);
    this.#queued += frame.length;
    if (!this.#writing) void this.#writeLoop();
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        // Small frames queued together go out in one write.
        let chunk: Uint8Array;
        if (this.#queue.length > 1 && this.#queue[0].length < 16384) {
          let size = 0;
          let count = 0;
          while (count < this.#queue.length && size < 65536) size += this.#queue[count++].length;
          chunk = new Uint8Array(size);
          let at = 0;
          for (const frame of this.#queue.splice(0, count)) {
            if (frame === this.#pong) this.#pong = null;
            chunk.set(frame, at);
            at += frame.length;
          }
        } else {
          chunk = this.#queue.shift()!;
          if (chunk === this.#pong) this.#pong = null;
        }
        let at = 0;
        while (at < chunk.length) at += await this.#conn.write(chunk.subarray(at));
        this.#queued -= chunk.length;
        if (this.#queued <= this.#lowWater && this.#drainWaiters.length > 0) {
          for (const wake of this.#drainWaiters.splice(0)) wake();
        }
      }
    } catch (error) {
      this.#fail(error as Error);
    } finally {
      this.#writing = false;
      if (this.#queue.length === 0) this.#wakeFlushed();
    }
  }

  async #readLoop(leftover: Uint8Array): Promise<void> {
    // Start outside the constructor, so a failure can never beat its setup.
    await Promise.resolve();
    try {
      if (leftover.length > 0) await this.#paused(this.#onFrames(this.#parser.push(leftover)));
      // One read buffer, reused: the parser copies out whatever it keeps of
      // it, and the rest of a large frame is read straight into that frame's
      // own buffer. So each record costs one allocation, its own, and no
      // read chunk stays pinned by a view (see "Memory" in docs/architecture.md).
      let buffer = new Uint8Array(this.#readSize);
      while (!this.#closed) {
        const spare = this.#parser.spare;
        if (!spare && buffer.length !== this.#readSize) buffer = new Uint8Array(this.#readSize);
        const n = await this.#conn.read(spare ?? buffer);
        if (n === null) {
          if (!this.#closing) this.#closeError ??= new Error("Connection closed by the peer");
          break;
        }
        this.bytesIn += n;
        if (this.#closing && (this.#readWhileClosing += n) > CLOSE_READ_LIMIT) break;
        await this.#paused(
          this.#onFrames(
            spare ? this.#parser.filled(n) : this.#parser.push(buffer.subarray(0, n), true),
          ),
        );
      }
    } catch (error) {
      if (!this.#closed) {
        this.#closeError ??= error as Error;
        if (error instanceof WebSocketProtocolError) {
          // Tell the peer why, then stop reading: nothing it sends counts any more.
          this.#sendClose(error.closeCode, error.message);
          void this.#flushed().then(() => this.#shutdown());
          return;
        }
      }
    }
    this.#shutdown();
  }

  /** Waits while the handler asked for a pause (see `RecordHandler.record`), or until the link closed. */
  async #paused(pause: Promise<void> | undefined): Promise<void> {
    if (!pause || this.#closed) return;
    const ended = Promise.withResolvers<void>();
    this.#endPause = ended.resolve;
    pause.then(ended.resolve, ended.resolve);
    await ended.promise;
    this.#endPause = undefined;
  }

  /** Handles frames; returns the last pause the handler asked for. */
  #onFrames(frames: WsFrame[]): Promise<void> | undefined {
    let pause: Promise<void> | undefined;
    for (const frame of frames) {
      if (this.#closed) return pause;
      switch (frame.opcode) {
        case Opcode.Binary:
        case Opcode.Continuation:
          // A closing link takes no more messages, and keeps none of their bytes.
          if (!this.#closing) {
            pause = this.#message(frame.opcode, frame.fin, frame.payload) ?? pause;
          }
          break;
        case Opcode.Text:
          throw new WebSocketProtocolError(
            "Cannot accept text message: the tunnel speaks binary",
            CloseCode.Unsupported,
          );
        case Opcode.Ping:
          if (frame.payload.length > 125) {
            throw new WebSocketProtocolError("Cannot accept ping: payload over 125 bytes");
          }
          // A peer that pings and does not read must not grow the queue by
          // one pong per ping (RFC 6455 5.5.3 lets one pong answer several).
          if (!this.#closing && !this.#pong) {
            this.#pong = encodeFrame(Opcode.Pong, frame.payload, this.#masked);
            this.#enqueue(this.#pong);
          }
          break;
        case Opcode.Pong:
          break;
        case Opcode.Close:
          this.#onClose(frame.payload);
          return pause;
        default:
          throw new WebSocketProtocolError(`Cannot parse frame: unknown opcode ${frame.opcode}`);
      }
    }
    return pause;
  }

  #message(opcode: number, fin: boolean, payload: Uint8Array): Promise<void> | undefined {
    if (opcode === Opcode.Continuation && this.#fragments.length === 0) {
      throw new WebSocketProtocolError("Cannot parse frame: continuation without a start");
    }
    if (opcode === Opcode.Binary && this.#fragments.length > 0) {
      throw new WebSocketProtocolError("Cannot parse frame: new message inside a fragmented one");
    }
    if (fin && this.#fragments.length === 0) return pauseOf(this.#inbox.record(payload));
    this.#fragmentsSize += payload.length;
    const cost = this.#fragmentsSize + (this.#fragments.length + 1) * FRAGMENT_COST;
    if (cost > this.#maxMessage) {
      throw new WebSocketProtocolError(
        `Cannot accept message: larger than ${this.#maxMessage} bytes ` +
          `(each fragment counts ${FRAGMENT_COST} more)`,
        CloseCode.TooBig,
      );
    }
    this.#fragments.push(payload.slice());
    if (!fin) return;
    const message = new Uint8Array(this.#fragmentsSize);
    let at = 0;
    for (const part of this.#fragments) {
      message.set(part, at);
      at += part.length;
    }
    this.#fragments = [];
    this.#fragmentsSize = 0;
    return pauseOf(this.#inbox.record(message));
  }

  #onClose(payload: Uint8Array): void {
    const code = payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005;
    const reason = new TextDecoder().decode(payload.subarray(2));
    if (code !== 1000 && code !== 1005) {
      this.#closeError ??= new Error(
        `WebSocket closed with code ${code}${reason ? `: ${reason}` : ""}`,
      );
    }
    if (!this.#closing) {
      this.#closing = true;
      this.#enqueue(encodeFrame(Opcode.Close, payload.subarray(0, 2), this.#masked));
    }
    // Our answer is queued; the connection ends after it is written, or
    // after a second if the peer stopped reading.
    void this.#flushed().then(() => this.#shutdown());
    const timer = setTimeout(() => this.#shutdown(), CLOSE_WAIT_MS);
    this.#done.promise.then(() => clearTimeout(timer));
  }

  /** Resolves once everything queued is written, or the link is closed. */
  #flushed(): Promise<void> {
    if (this.#closed || (!this.#writing && this.#queue.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  #wakeFlushed(): void {
    for (const wake of this.#flushWaiters.splice(0)) wake();
  }

  #fail(error: Error): void {
    this.#closeError ??= error;
    this.#shutdown();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endPause?.();
    this.#queue = [];
    this.#queued = 0;
    this.#fragments = [];
    clearInterval(this.#idleTimer);
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const wake of this.#drainWaiters.splice(0)) wake();
    this.#wakeFlushed();
    this.#inbox.end(this.#closeError);
    // The read loop ends now that the connection is closed.
    this.#reader.finally(() => this.#done.resolve());
  }
}

/** What a record handler returned, as a pause of the read loop (see `RecordHandler.record`). */
function pauseOf(result: unknown): Promise<void> | undefined {
  return result instanceof Promise ? result : undefined;
}
