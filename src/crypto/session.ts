/**
 * The session: a {@linkcode RecordLink} that seals every record it sends and
 * opens every record it receives, with the keys of a completed handshake.
 *
 * ## Records
 *
 * See `record.ts`: `[0x01][u32 epoch][u64 counter]` (13 bytes, authenticated
 * as AAD) followed by the AES-256-GCM ciphertext and tag; the nonce is
 * `[u8 direction][u24 epoch][u64 counter]`.
 *
 * ## Rules
 *
 * - Each direction counts its records from 0 in each epoch. The receiver
 *   accepts exactly the next counter of the current epoch, or counter 0 of
 *   the next epoch (then moves to it). Anything else (a replayed, reordered,
 *   dropped or injected record; an epoch out of step), a failed
 *   authentication or a malformed record closes the link: the handler's
 *   `closed(error)` gets a {@linkcode SessionError}, after the records that
 *   preceded the bad one and nothing after it.
 * - Rekey, per direction: after `rekeyBytes` plaintext bytes, `rekeyRecords`
 *   records or `rekeyMs` (checked when sending), whichever comes first, the
 *   sender moves to epoch + 1 with counter 0 and the key derived from the
 *   next traffic secret (`schedule.ts`); the receiver follows when it sees
 *   epoch + 1. The previous epoch's key is dropped. Streams are unaffected.
 * - Pipelining: `send()` assigns the counter at once and seals up to
 *   `maxInFlight` records concurrently (only one after a small record, so
 *   that small frames batch up); sealed records go to the inner link
 *   strictly in counter order. Received records are opened concurrently (up
 *   to `maxInFlight`) and delivered strictly in order.
 * - The handler's `closed()` comes after the last record delivered and once
 *   no seal or open is running any more.
 *
 * @module
 */

import type { RecordHandler, RecordLink } from "../link/mod.ts";
import { SessionError } from "./errors.ts";
import { Direction, MAX_EPOCH, open, readHeader, seal } from "./record.ts";
import { epochKey, nextSecret, type SessionKeys } from "./schedule.ts";

/** Records below this size count as small (see `#inFlightLimit`). */
export const SMALL_RECORD = 16 * 1024;

/** Default plaintext bytes per epoch and direction: 1 GiB. */
export const DEFAULT_REKEY_BYTES = 2 ** 30;
/** Default records per epoch and direction: 2^32 (also the most allowed). */
export const DEFAULT_REKEY_RECORDS = 2 ** 32;
/** Default epoch duration: 1 hour. */
export const DEFAULT_REKEY_MS = 60 * 60 * 1000;

/** Options of {@linkcode SealedLink}. */
export interface SessionOptions {
  /** Plaintext bytes after which the sender moves to the next epoch (default 1 GiB). */
  rekeyBytes?: number;
  /** Records after which the sender moves to the next epoch (default and most 2^32). */
  rekeyRecords?: number;
  /** Time after which the sender moves to the next epoch, checked on send (default 1 h). */
  rekeyMs?: number;
  /** Seals (and opens) in flight at once (default twice navigator.hardwareConcurrency, at least 4). */
  maxInFlight?: number;
}

interface Outbound {
  done: boolean;
  sealed: Uint8Array | null;
}

type Inbound =
  | { kind: "record"; done: boolean; plain: Uint8Array | null; error: SessionError | null }
  | { kind: "end"; done: true; error: Error | undefined };

interface PendingOpen {
  entry: Inbound & { kind: "record" };
  key: Promise<CryptoKey>;
  record: Uint8Array;
  epoch: number;
  counter: number;
}

/** One direction's key chain. */
class KeyChain {
  epoch = 0;
  #secret: Promise<CryptoKey>;
  key: Promise<CryptoKey>;

  constructor(secret: CryptoKey) {
    this.#secret = Promise.resolve(secret);
    this.key = epochKey(secret);
    this.key.catch(() => {});
  }

  /** Moves to the next epoch; the key derivation runs in the background. */
  advance(): void {
    this.epoch++;
    this.#secret = this.#secret.then(nextSecret);
    this.key = this.#secret.then(epochKey);
    this.#secret.catch(() => {});
    this.key.catch(() => {});
  }
}

/** A RecordLink that seals every record sent and opens every record received over `inner`; role says which direction key to use. */
export class SealedLink implements RecordLink {
  #inner: RecordLink;
  #handler: RecordHandler | null = null;
  #maxInFlight: number;
  #lastRecordSize = 0;
  #rekeyBytes: number;
  #rekeyRecords: number;
  #rekeyMs: number;

  #outDirection: Direction;
  #out: KeyChain;
  #outCounter = 0;
  #outBytes = 0;
  #outEpochStart = performance.now();
  /** Records sent but not yet passed to `inner`, in counter order. */
  #outQueue: Outbound[] = [];
  #outHead = 0;
  /** Seals waiting for a free slot. */
  #toSeal: (() => void)[] = [];
  #sealing = 0;
  #slotWaiters: (() => void)[] = [];

  #inDirection: Direction;
  #in: KeyChain;
  #inCounter = 0;
  /** Received records (and the link's end) in arrival order, awaiting delivery. */
  #inQueue: Inbound[] = [];
  #inHead = 0;
  #toOpen: PendingOpen[] = [];
  #opening = 0;
  /**
   * Received records not yet delivered at or above which `inner` is asked to
   * stop reading: records waiting here live long enough to reach V8's old
   * generation, where their buffers stay until a full collection (see
   * "Memory" in docs/architecture.md).
   */
  #backlogLimit: number;
  #backlogWaiters: (() => void)[] = [];
  #pumping = false;

  /** New records are taken from `inner`. */
  #accepting = true;
  /** New records may be sent. */
  #sending = true;
  /** `close()` was called; `inner` closes once the records sent before are out. */
  #closeReason: string | undefined;
  #closing = false;
  #innerClosed = false;
  /** `handler.closed` was called. */
  #ended = false;

  /** Wraps `inner`, on which nobody else may listen; records that arrive before `listen()` are held. */
  constructor(
    inner: RecordLink,
    keys: SessionKeys,
    role: "client" | "server",
    options?: SessionOptions,
  ) {
    this.#inner = inner;
    this.#maxInFlight = positiveInteger(
      options?.maxInFlight ?? Math.max(4, 2 * (navigator.hardwareConcurrency || 0)),
      "maxInFlight",
    );
    this.#backlogLimit = 2 * this.#maxInFlight;
    this.#rekeyBytes = positiveInteger(options?.rekeyBytes ?? DEFAULT_REKEY_BYTES, "rekeyBytes");
    this.#rekeyRecords = positiveInteger(
      options?.rekeyRecords ?? DEFAULT_REKEY_RECORDS,
      "rekeyRecords",
    );
    if (this.#rekeyRecords > DEFAULT_REKEY_RECORDS) {
      throw new RangeError(`Cannot use rekeyRecords ${this.#rekeyRecords}: the limit is 2^32`);
    }
    this.#rekeyMs = options?.rekeyMs ?? DEFAULT_REKEY_MS;
    if (!(this.#rekeyMs > 0)) throw new RangeError(`Cannot use rekeyMs ${this.#rekeyMs}`);
    const client = role === "client";
    this.#outDirection = client ? Direction.ClientToServer : Direction.ServerToClient;
    this.#inDirection = client ? Direction.ServerToClient : Direction.ClientToServer;
    this.#out = new KeyChain(client ? keys.c2s : keys.s2c);
    this.#in = new KeyChain(client ? keys.s2c : keys.c2s);
    inner.listen({
      record: (record) => this.#receive(record),
      closed: (error) => this.#innerEnded(error),
    });
  }

  /** Epoch of the records this side sends. */
  get epochOut(): number {
    return this.#out.epoch;
  }

  /** Epoch of the records this side receives. */
  get epochIn(): number {
    return this.#in.epoch;
  }

  /** Sets where opened records go; records opened before are delivered to it first. */
  listen(handler: RecordHandler): void {
    this.#handler = handler;
    this.#deliver();
  }

  /** False while `maxInFlight` records are being sealed or `inner` is not writable. */
  get writable(): boolean {
    return this.#sending && this.#outstanding < this.#inFlightLimit && this.#inner.writable;
  }

  /**
   * Seals allowed in flight. A small record is mostly per-call cost, so
   * after one, only one seal runs at a time: frames queued meanwhile leave
   * together in the next record (fewer, larger records under load, and no
   * added wait when idle). Large records are mostly cipher work and are
   * sealed `maxInFlight` at a time.
   */
  get #inFlightLimit(): number {
    return this.#lastRecordSize < SMALL_RECORD ? 1 : this.#maxInFlight;
  }

  /** Resolves once a seal slot is free and `inner` is writable, or the link closed. */
  async waitWritable(): Promise<void> {
    while (this.#sending && this.#outstanding >= this.#inFlightLimit) {
      await new Promise<void>((resolve) => this.#slotWaiters.push(resolve));
    }
    if (this.#sending && !this.#inner.writable) await this.#inner.waitWritable();
  }

  /**
   * Queues one record for sealing and sending; its counter is assigned now.
   * `record` must not change afterwards (it may be sealed later).
   */
  send(record: Uint8Array): void {
    if (!this.#sending) return;
    if (
      this.#outCounter >= this.#rekeyRecords || this.#outBytes >= this.#rekeyBytes ||
      performance.now() - this.#outEpochStart >= this.#rekeyMs
    ) {
      if (this.#out.epoch >= MAX_EPOCH) {
        this.#fail(
          new SessionError("exhausted", `Cannot seal record: epoch ${MAX_EPOCH} is the last`),
        );
        return;
      }
      this.#out.advance();
      this.#outCounter = 0;
      this.#outBytes = 0;
      this.#outEpochStart = performance.now();
    }
    const epoch = this.#out.epoch;
    const counter = this.#outCounter++;
    const key = this.#out.key;
    this.#outBytes += record.length;
    this.#lastRecordSize = record.length;
    const job: Outbound = { done: false, sealed: null };
    this.#outQueue.push(job);
    const run = () => {
      this.#sealing++;
      key
        .then((key) => seal(key, this.#outDirection, epoch, counter, record))
        .then(
          (sealed) => {
            job.sealed = sealed;
            job.done = true;
          },
          (cause) =>
            this.#fail(
              new SessionError("internal", `Cannot seal record ${counter} of epoch ${epoch}`, {
                cause,
              }),
            ),
        )
        .finally(() => {
          this.#sealing--;
          this.#toSeal.shift()?.();
          this.#flushOut();
          this.#deliver();
        });
    };
    if (this.#sealing < this.#maxInFlight) run();
    else this.#toSeal.push(run);
  }

  /**
   * Closes the link: stops sending and delivering; the records already
   * passed to `send()` are sealed and sent, then `inner` closes with
   * `reason`. The handler's `closed()` follows when `inner` has closed and
   * no seal or open is running. Idempotent.
   */
  close(reason?: string): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#closeReason = reason;
    this.#sending = false;
    this.#accepting = false;
    this.#wakeSlots();
    // Local close: nothing more reaches the handler but the end. When the
    // inner link ended first, its end is queued already (waiting for Web
    // Crypto calls in flight): keep it, or `closed` would never come.
    const end = this.#inQueue.slice(this.#inHead).find((entry) => entry?.kind === "end");
    this.#inQueue = end ? [end] : [];
    this.#inHead = 0;
    this.#toOpen = [];
    this.#flushOut();
    this.#deliver();
  }

  get #outstanding(): number {
    return this.#outQueue.length - this.#outHead;
  }

  /** Passes sealed records to `inner` in counter order. */
  #flushOut(): void {
    const queue = this.#outQueue;
    while (this.#outHead < queue.length && queue[this.#outHead].done) {
      const job = queue[this.#outHead];
      queue[this.#outHead++] = undefined as unknown as Outbound;
      this.#inner.send(job.sealed!);
    }
    if (this.#outHead === queue.length) {
      this.#outQueue = [];
      this.#outHead = 0;
    } else if (this.#outHead > 1024) {
      this.#outQueue = queue.slice(this.#outHead);
      this.#outHead = 0;
    }
    if (this.#outstanding < this.#inFlightLimit) this.#wakeSlots();
    if (this.#closing && this.#outstanding === 0) this.#closeInner(this.#closeReason);
  }

  #wakeSlots(): void {
    for (const wake of this.#slotWaiters.splice(0)) wake();
  }

  #closeInner(reason?: string): void {
    if (this.#innerClosed) return;
    this.#innerClosed = true;
    this.#inner.close(reason);
  }

  /** Stops sending and receiving; the error reaches the handler after the records before it. */
  #fail(error: SessionError, entry?: Inbound & { kind: "record" }): void {
    if (entry) {
      entry.error = error;
      entry.done = true;
    } else if (this.#accepting) {
      this.#inQueue.push({ kind: "record", done: true, plain: null, error });
    }
    this.#accepting = false;
    this.#sending = false;
    // Opens not yet started stay: those before the failure are still delivered.
    this.#toSeal = [];
    this.#outQueue = [];
    this.#outHead = 0;
    this.#wakeSlots();
    this.#closeInner(error.message);
    this.#deliver();
  }

  #receive(record: Uint8Array): Promise<void> | undefined {
    if (!this.#accepting) return;
    const entry: Inbound & { kind: "record" } = {
      kind: "record",
      done: false,
      plain: null,
      error: null,
    };
    this.#inQueue.push(entry);
    let epoch: number, counter: number;
    try {
      ({ epoch, counter } = readHeader(record));
    } catch (error) {
      this.#fail(error as SessionError, entry);
      return;
    }
    const current = this.#in.epoch;
    if (epoch === current + 1 && counter === 0 && current < MAX_EPOCH) {
      this.#in.advance();
      this.#inCounter = 0;
    } else if (epoch !== current && epoch !== current + 1) {
      this.#fail(
        new SessionError(
          "epoch",
          `Cannot open record: epoch ${epoch} is neither the current ${current} nor the next ${
            current + 1
          }`,
        ),
        entry,
      );
      return;
    } else if (epoch !== current || counter !== this.#inCounter) {
      const expected = epoch === current ? this.#inCounter : 0;
      this.#fail(
        new SessionError(
          "counter",
          `Cannot open record: counter ${counter} is not the expected ${expected}`,
        ),
        entry,
      );
      return;
    }
    this.#inCounter++;
    this.#toOpen.push({ entry, key: this.#in.key, record, epoch, counter });
    this.#startOpens();
    if (this.#inQueue.length - this.#inHead < this.#backlogLimit) return;
    return new Promise((resolve) => this.#backlogWaiters.push(resolve));
  }

  #startOpens(): void {
    while (this.#opening < this.#maxInFlight && this.#toOpen.length > 0) {
      const { entry, key, record, epoch, counter } = this.#toOpen.shift()!;
      this.#opening++;
      key
        .then((key) => open(key, this.#inDirection, record, epoch, counter))
        .then(
          (plain) => {
            entry.plain = plain;
            entry.done = true;
            this.#deliver();
          },
          (error) =>
            this.#fail(
              error instanceof SessionError ? error : new SessionError(
                "internal",
                `Cannot open record ${counter} of epoch ${epoch}`,
                { cause: error },
              ),
              entry,
            ),
        )
        .finally(() => {
          this.#opening--;
          this.#startOpens();
          this.#deliver();
        });
    }
  }

  #innerEnded(error?: Error): void {
    this.#innerClosed = true;
    this.#accepting = false;
    this.#sending = false;
    this.#toSeal = [];
    this.#outQueue = [];
    this.#outHead = 0;
    this.#wakeSlots();
    this.#inQueue.push({ kind: "end", done: true, error });
    this.#deliver();
  }

  /** Hands finished entries to the handler, strictly in order. */
  #deliver(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#handler && !this.#ended && this.#inHead < this.#inQueue.length) {
        const entry = this.#inQueue[this.#inHead];
        if (!entry.done) break;
        if (entry.kind === "record" && entry.error === null) {
          this.#inQueue[this.#inHead++] = undefined as unknown as Inbound;
          this.#handler.record(entry.plain!);
          continue;
        }
        // The end: nothing more starts, and `closed` waits for the Web
        // Crypto calls still running, so none outlives the link.
        this.#toOpen = [];
        this.#toSeal = [];
        if (this.#sealing + this.#opening > 0) break;
        this.#ended = true;
        this.#inQueue = [];
        this.#inHead = 0;
        this.#toOpen = [];
        this.#handler.closed(entry.error ?? undefined);
      }
      if (this.#inHead > 1024) {
        this.#inQueue = this.#inQueue.slice(this.#inHead);
        this.#inHead = 0;
      }
    } finally {
      this.#pumping = false;
    }
    if (
      this.#backlogWaiters.length > 0 &&
      (!this.#accepting || this.#inQueue.length - this.#inHead < this.#backlogLimit)
    ) {
      for (const wake of this.#backlogWaiters.splice(0)) wake();
    }
  }
}

function positiveInteger(value: number, what: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Cannot use ${what} ${value}: must be a positive integer`);
  }
  return value;
}
