/**
 * An in-memory pair of record links, for tests and for reasoning about the
 * multiplexer without sockets (test helpers, not exported by `mod.ts`).
 *
 * @module
 */

import type { RecordHandler, RecordLink } from "./link.ts";

/** Options of {@linkcode memoryLinkPair}. */
export interface MemoryLinkOptions {
  /** Queued bytes above which a side reports itself not writable. */
  highWater?: number;
  /** Queued bytes at or below which a blocked side becomes writable again. */
  lowWater?: number;
}

class MemoryLink implements RecordLink {
  peer!: MemoryLink;
  #handler: RecordHandler | null = null;
  #held: Uint8Array[] = [];
  #queue: Uint8Array[] = [];
  #queued = 0;
  #delivering = false;
  #closed = false;
  #drainWaiters: (() => void)[] = [];
  /** When true the receiving side stops taking records, as a stalled peer would. */
  paused = false;
  /** Every record sent through this side, when recording is on. */
  sent: Uint8Array[] | null = null;

  constructor(readonly highWater: number, readonly lowWater: number) {}

  listen(handler: RecordHandler): void {
    this.#handler = handler;
    const held = this.#held;
    this.#held = [];
    for (const record of held) handler.record(record);
  }

  send(record: Uint8Array): void {
    if (this.#closed) return;
    this.sent?.push(record);
    this.#queue.push(record);
    this.#queued += record.length;
    this.#deliver();
  }

  get writable(): boolean {
    return !this.#closed && this.#queued < this.highWater;
  }

  get queued(): number {
    return this.#queued;
  }

  waitWritable(): Promise<void> {
    if (this.#closed || this.#queued <= this.lowWater) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resumes delivery after {@linkcode paused} was set. */
  resume(): void {
    this.peer.paused = false;
    this.#deliver();
  }

  #deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    queueMicrotask(() => {
      this.#delivering = false;
      while (this.#queue.length > 0 && !this.#closed && !this.peer.paused) {
        const record = this.#queue.shift()!;
        this.#queued -= record.length;
        this.peer.receive(record);
      }
      if (this.#queued <= this.lowWater) {
        const waiters = this.#drainWaiters;
        this.#drainWaiters = [];
        for (const wake of waiters) wake();
      }
    });
  }

  receive(record: Uint8Array): void {
    if (this.#closed) return;
    if (this.#handler) this.#handler.record(record);
    else this.#held.push(record);
  }

  close(): void {
    if (this.#closed) return;
    // Like a WebSocket close, records already sent still reach the peer.
    if (!this.peer.paused) {
      for (const record of this.#queue.splice(0)) {
        this.peer.receive(record);
      }
    }
    this.#closed = true;
    this.#queue = [];
    this.#queued = 0;
    for (const wake of this.#drainWaiters.splice(0)) wake();
    this.#handler?.closed();
    this.peer.close();
  }
}

/** A connected pair of in-memory links: what one sends, the other receives. */
export function memoryLinkPair(
  options?: MemoryLinkOptions,
): [MemoryLinkEnd, MemoryLinkEnd] {
  const high = options?.highWater ?? 1 << 20;
  const low = options?.lowWater ?? high >>> 2;
  const a = new MemoryLink(high, low);
  const b = new MemoryLink(high, low);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** One end of {@linkcode memoryLinkPair}. */
export type MemoryLinkEnd = RecordLink & {
  /** Bytes sent but not yet delivered. */
  readonly queued: number;
  /** Set to stop the *receiving* of records on this end; see `resume` on the other end. */
  paused: boolean;
  /** Delivers records held while the peer was paused. */
  resume(): void;
  /** Set to an array to record every record sent. */
  sent: Uint8Array[] | null;
};
