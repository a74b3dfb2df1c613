/**
 * A WebSocket client over a TCP (or TLS) connection we own, so that
 * `TCP_NODELAY` is on (the runtime's `WebSocket` turns it off, which costs a
 * delayed-ACK stall of ~40 ms whenever small records follow each other), a
 * private CA can be trusted for wss://, and the send queue is our own, with
 * real backpressure instead of polling `bufferedAmount`.
 *
 * @module
 */

import { type RecordHandler, RecordInbox, type RecordLink } from "../mux/mod.ts";
import {
  encodeClientFrame,
  frameInPlace,
  FrameParser,
  Opcode,
  WebSocketProtocolError,
} from "./ws_frame.ts";

/** Bytes read from the socket at once. */
const READ_BUFFER = 256 * 1024;

/** Largest WebSocket message accepted from the server (16 MiB). */
export const MAX_MESSAGE = 16 << 20;

/** Options of {@linkcode ClientWebSocketLink}. */
export interface ClientLinkOptions {
  /** Queued bytes at or above which the link is not writable (default 2 MiB). */
  highWater?: number;
  /** Queued bytes at or below which a blocked link is writable again (default 512 KiB). */
  lowWater?: number;
}

const encoder = new TextEncoder();

/** A record link over a client WebSocket on a connection this process owns. */
export class ClientWebSocketLink implements RecordLink {
  #conn: Deno.Conn;
  #inbox = new RecordInbox();
  #highWater: number;
  #lowWater: number;
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #drainWaiters: (() => void)[] = [];
  #closing = false;
  #closed = false;
  #closeError: Error | undefined;
  #parser = new FrameParser(MAX_MESSAGE);
  #fragments: Uint8Array[] = [];
  #fragmentsSize = 0;
  #done = Promise.withResolvers<void>();
  #reader: Promise<void>;

  /** Bytes received, for metrics. */
  bytesIn = 0;
  /** Bytes sent, for metrics. */
  bytesOut = 0;

  /** Takes over `conn`, whose handshake is done; `leftover` are bytes read past it. */
  constructor(conn: Deno.Conn, leftover: Uint8Array, options?: ClientLinkOptions) {
    this.#conn = conn;
    this.#highWater = options?.highWater ?? 2 * 1024 * 1024;
    this.#lowWater = options?.lowWater ?? 512 * 1024;
    this.#reader = this.#readLoop(leftover);
  }

  /** Resolves once the connection is closed and nothing of it is left running. */
  get finished(): Promise<void> {
    return this.#done.promise;
  }

  /** @inheritdoc */
  listen(handler: RecordHandler): void {
    this.#inbox.listen(handler);
  }

  /** @inheritdoc */
  send(record: Uint8Array): void {
    if (this.#closing || this.#closed) return;
    this.bytesOut += record.length;
    // Records with headroom (sealed records have it) are framed without a copy.
    this.#enqueue(frameInPlace(Opcode.Binary, record) ?? encodeClientFrame(Opcode.Binary, record));
  }

  /** @inheritdoc */
  get writable(): boolean {
    return !this.#closed && this.#queued < this.#highWater;
  }

  /** @inheritdoc */
  waitWritable(): Promise<void> {
    if (this.#closed || this.#queued <= this.#lowWater) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** @inheritdoc */
  close(reason?: string): void {
    if (this.#closing || this.#closed) return;
    this.#closing = true;
    const text = encoder.encode((reason ?? "").slice(0, 60));
    const payload = new Uint8Array(2 + text.length);
    payload[0] = 1000 >>> 8;
    payload[1] = 1000 & 0xff;
    payload.set(text, 2);
    this.#enqueue(encodeClientFrame(Opcode.Close, payload));
    // The peer answers with its own close; give it a moment, then hang up.
    const timer = setTimeout(() => this.#shutdown(), 1000);
    this.#done.promise.then(() => clearTimeout(timer));
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
            chunk.set(frame, at);
            at += frame.length;
          }
        } else {
          chunk = this.#queue.shift()!;
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
    }
  }

  async #readLoop(leftover: Uint8Array): Promise<void> {
    // Start outside the constructor, so a failure can never beat its setup.
    await Promise.resolve();
    try {
      if (leftover.length > 0) this.#onBytes(leftover);
      // One read buffer for the connection's life; each read hands the
      // parser a copy of exactly the bytes read (records keep views into it).
      const buffer = new Uint8Array(READ_BUFFER);
      while (!this.#closed) {
        const n = await this.#conn.read(buffer);
        if (n === null) {
          if (!this.#closing) this.#closeError ??= new Error("Connection closed by the server");
          break;
        }
        this.bytesIn += n;
        this.#onBytes(buffer.slice(0, n));
      }
    } catch (error) {
      if (!this.#closed) this.#closeError ??= error as Error;
    }
    this.#shutdown();
  }

  #onBytes(chunk: Uint8Array): void {
    for (const frame of this.#parser.push(chunk)) {
      if (this.#closed) return;
      switch (frame.opcode) {
        case Opcode.Binary:
        case Opcode.Continuation: {
          if (frame.opcode === Opcode.Continuation && this.#fragments.length === 0) {
            throw new WebSocketProtocolError("Cannot parse frame: continuation without a start");
          }
          if (frame.fin && this.#fragments.length === 0) {
            this.#deliver(frame.payload);
            break;
          }
          this.#fragments.push(frame.payload.slice());
          this.#fragmentsSize += frame.payload.length;
          if (this.#fragmentsSize > MAX_MESSAGE) {
            throw new WebSocketProtocolError(`Cannot accept message: larger than ${MAX_MESSAGE}`);
          }
          if (frame.fin) {
            const message = new Uint8Array(this.#fragmentsSize);
            let at = 0;
            for (const part of this.#fragments) {
              message.set(part, at);
              at += part.length;
            }
            this.#fragments = [];
            this.#fragmentsSize = 0;
            this.#deliver(message);
          }
          break;
        }
        case Opcode.Text:
          throw new WebSocketProtocolError("Cannot accept text message: the tunnel speaks binary");
        case Opcode.Ping:
          if (!this.#closing) this.#enqueue(encodeClientFrame(Opcode.Pong, frame.payload));
          break;
        case Opcode.Pong:
          break;
        case Opcode.Close: {
          const code = frame.payload.length >= 2
            ? (frame.payload[0] << 8) | frame.payload[1]
            : 1005;
          const reason = new TextDecoder().decode(frame.payload.subarray(2));
          if (code !== 1000 && code !== 1005) {
            this.#closeError ??= new Error(
              `WebSocket closed with code ${code}${reason ? `: ${reason}` : ""}`,
            );
          }
          if (!this.#closing) {
            this.#closing = true;
            this.#enqueue(encodeClientFrame(Opcode.Close, frame.payload.subarray(0, 2)));
          }
          // Our answer is queued; the connection ends after it is written,
          // or after a second if the server stopped reading.
          void this.#flushed().then(() => this.#shutdown());
          const timer = setTimeout(() => this.#shutdown(), 1000);
          this.#done.promise.then(() => clearTimeout(timer));
          return;
        }
        default:
          throw new WebSocketProtocolError(`Cannot parse frame: unknown opcode ${frame.opcode}`);
      }
    }
  }

  #deliver(record: Uint8Array): void {
    this.#inbox.record(record);
  }

  async #flushed(): Promise<void> {
    while (this.#writing || this.#queue.length > 0) {
      if (this.#closed) return;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  #fail(error: Error): void {
    this.#closeError ??= error;
    this.#shutdown();
  }

  #shutdown(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    for (const wake of this.#drainWaiters.splice(0)) wake();
    this.#inbox.end(this.#closeError);
    // The read loop ends now that the connection is closed.
    this.#reader.finally(() => this.#done.resolve());
  }
}
