/**
 * A {@linkcode RecordLink} over a WebSocket: one record per binary message,
 * with a send queue bounded by watermarks on `bufferedAmount`.
 *
 * @module
 */

import { type RecordHandler, RecordInbox, type RecordLink } from "../mux/mod.ts";

/** Watermarks for the WebSocket send queue. */
export interface WatermarkOptions {
  /** `bufferedAmount` at or above which the link is not writable (default 2 MiB). */
  highWater?: number;
  /** `bufferedAmount` at or below which a blocked link is writable again (default 512 KiB). */
  lowWater?: number;
}

/** Default high watermark of the WebSocket send queue. */
export const DEFAULT_HIGH_WATER = 2 * 1024 * 1024;
/** Default low watermark of the WebSocket send queue. */
export const DEFAULT_LOW_WATER = 512 * 1024;

/** How often a blocked link looks at `bufferedAmount` again, in ms. */
const DRAIN_POLL_MS = 1;

/** Wraps an open WebSocket as a record link. */
export class WebSocketLink implements RecordLink {
  #ws: WebSocket;
  #inbox = new RecordInbox();
  #highWater: number;
  #lowWater: number;
  #closed = false;
  #closeError: Error | undefined;
  #drainWaiters: (() => void)[] = [];
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  #done = Promise.withResolvers<void>();

  /** Bytes received, for metrics. */
  bytesIn = 0;
  /** Bytes sent, for metrics. */
  bytesOut = 0;

  /** Takes over `ws`, which must be open. */
  constructor(ws: WebSocket, options?: WatermarkOptions) {
    this.#ws = ws;
    this.#highWater = options?.highWater ?? DEFAULT_HIGH_WATER;
    this.#lowWater = options?.lowWater ?? DEFAULT_LOW_WATER;
    ws.binaryType = "arraybuffer";
    ws.onmessage = (event) => {
      if (this.#closed) return;
      if (!(event.data instanceof ArrayBuffer)) {
        this.#fail(new TypeError("Cannot accept text message: the tunnel speaks binary only"));
        return;
      }
      const record = new Uint8Array(event.data);
      this.bytesIn += record.length;
      this.#inbox.record(record);
    };
    ws.onerror = (event) => {
      const message = (event as ErrorEvent).message || "WebSocket error";
      this.#closeError ??= new Error(message);
    };
    ws.onclose = (event) => {
      if (!this.#closeError && event.code !== 1000 && event.code !== 1005) {
        this.#closeError = new Error(
          `WebSocket closed with code ${event.code}${event.reason ? `: ${event.reason}` : ""}`,
        );
      }
      this.#finish();
      this.#done.resolve();
    };
  }

  /** Resolves when the underlying WebSocket has fully closed. */
  get finished(): Promise<void> {
    return this.#done.promise;
  }

  /** @inheritdoc */
  listen(handler: RecordHandler): void {
    this.#inbox.listen(handler);
  }

  /** @inheritdoc */
  send(record: Uint8Array): void {
    if (this.#closed || this.#ws.readyState !== WebSocket.OPEN) return;
    this.bytesOut += record.length;
    this.#ws.send(record);
  }

  /** @inheritdoc */
  get writable(): boolean {
    return !this.#closed && this.#ws.bufferedAmount < this.#highWater;
  }

  /** @inheritdoc */
  waitWritable(): Promise<void> {
    if (this.#closed || this.#ws.bufferedAmount <= this.#lowWater) return Promise.resolve();
    const promise = new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    this.#pollDrain();
    return promise;
  }

  #pollDrain(): void {
    if (this.#drainTimer !== undefined) return;
    this.#drainTimer = setTimeout(() => {
      this.#drainTimer = undefined;
      if (this.#closed || this.#ws.bufferedAmount <= this.#lowWater) this.#wakeDrain();
      else this.#pollDrain();
    }, DRAIN_POLL_MS);
  }

  #wakeDrain(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** @inheritdoc */
  close(reason?: string): void {
    if (this.#closed) return;
    try {
      // Close reasons are limited to 123 bytes by the WebSocket protocol.
      const text = (reason ?? "").slice(0, 60);
      this.#ws.close(1000, text);
    } catch {
      this.#ws.close();
    }
    this.#finish();
  }

  #fail(error: Error): void {
    this.#closeError ??= error;
    this.close(error.message);
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    this.#wakeDrain();
    this.#inbox.end(this.#closeError);
  }
}
