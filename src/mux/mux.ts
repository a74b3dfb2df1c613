/**
 * The multiplexer: many {@linkcode MuxStream}s over one {@linkcode RecordLink},
 * with per-stream credit flow control, batching of frames into records, and
 * connection-level ping and go-away.
 *
 * @module
 */

import {
  CONNECTION_STREAM,
  decodeFrames,
  decodeOpen,
  decodeReason,
  decodeWindow,
  DEFAULT_MAX_PAYLOAD,
  EMPTY,
  encodedSize,
  encodeInto,
  encodeOpen,
  encodeReason,
  encodeWindow,
  type Frame,
  FrameKind,
  frameKindName,
  GoAwayCode,
  HEADER_SIZE,
  ProtocolError,
  type Reason,
  ResetCode,
} from "../protocol/mod.ts";
import { SendQueueFullError, StreamResetError, TunnelClosedError } from "./errors.ts";
import type { RecordLink } from "../link/mod.ts";
import { MuxStream, type StreamHost } from "./stream.ts";

/** Default initial per-stream receive window: 2 MiB (single-stream throughput on a LAN peaks there; see bench/results/profile-notes.md). */
export const DEFAULT_WINDOW = 2 * 1024 * 1024;

/** Default size a stream's receive window may grow to on a long path: 16 MiB. */
export const DEFAULT_MAX_WINDOW = 16 * 1024 * 1024;

/**
 * Default budget of a connection's receive windows: 64 MiB. Windows grow only
 * while their sum stays within it, which bounds what the peer may make this
 * side buffer (initial windows are always granted).
 */
export const DEFAULT_CONNECTION_BUFFER = 64 * 1024 * 1024;

/** Age after which the round-trip time is measured again (when a stream may grow). */
const RTT_REFRESH_MS = 2_000;
/** Samples above this are not round trips (a clock jump, or a pong to a ping long gone). */
const RTT_MAX_SAMPLE_MS = 10_000;

/** Default upper bound on the frames batched into one record: 256 KiB. */
export const DEFAULT_MAX_RECORD = 256 * 1024;

/**
 * Bytes of urgent frames (window updates, resets, control) that may wait for
 * a link that does not drain: 1 MiB. Honest traffic stays far below it (a
 * window update is sent per eighth of a window read, or per 64th once the
 * reader caught up); a peer that makes us
 * answer (opens, pings) and never reads is closed when it is reached.
 */
export const MAX_URGENT_QUEUE = 1 << 20;

/** Configuration of a {@linkcode Mux}. */
export interface MuxOptions {
  /**
   * Which side this is: stream ids opened by the server are even, by the
   * client odd, so both may open streams without colliding.
   */
  role: "server" | "client";
  /** Initial receive window granted to the peer per stream (announced in the hello). */
  window?: number;
  /** Size a stream's receive window may grow to (default 16 MiB; at least `window`). */
  maxWindow?: number;
  /** Budget of the sum of this connection's receive windows, for growth (default 64 MiB). */
  connectionBuffer?: number;
  /** Milliseconds for round trips and window epochs (default `performance.now`; tests replace it). */
  clock?: () => number;
  /** Largest frame payload accepted from the peer (and sent, until the peer says less). */
  maxPayload?: number;
  /** Bytes after which a record being batched is cut (it may exceed this by one frame). */
  maxRecord?: number;
  /** A peer opened a stream. Without this handler incoming streams are refused. */
  onStream?: (stream: MuxStream) => void;
  /**
   * A control frame (hello, app announced or withdrawn, app offered or
   * offer withdrawn) arrived on `mux`
   * (passed in, so a handler written before the mux exists needs no
   * reference to it).
   */
  onControl?: (frame: Frame, mux: Mux) => void;
  /** The peer announced it is going away. */
  onGoAway?: (reason: Reason) => void;
}

interface Queued {
  frame: Frame;
  taken?: (error?: Error) => void;
}

/** Streams of one side may be opened without waiting for the other side. */
export class Mux implements StreamHost {
  #link: RecordLink;
  #options: MuxOptions;
  #window: number;
  #maxWindow: number;
  #connectionBuffer: number;
  /** Sum of the receive windows of streams not yet released. */
  #reserved = 0;
  #clock: () => number;
  #rttMin = 0;
  #rttSampleAt = -Infinity;
  #probeSentAt: number | null = null;
  #maxPayload: number;
  #maxRecord: number;
  #peerWindow: number;
  #peerMaxPayload: number;

  #streams = new Map<number, MuxStream>();
  /** Streams opened here whose Open frame is still queued. */
  #unopened = new Set<number>();
  #nextLocalId: number;
  #highestPeerId = 0;

  #urgent: Queued[] = [];
  /** A retry of a flush while the link is closing (see `#flushNow`). */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #urgentBytes = 0;
  /** The queued answer to the peer's last ping: a newer ping replaces its payload. */
  #pong: Queued | null = null;
  #data: Queued[] = [];
  #dataHead = 0;
  #flushScheduled = false;
  #waitingWritable = false;

  #closed = false;
  #closeError: Error | undefined;
  #done = Promise.withResolvers<Error | undefined>();
  #linkEnded = Promise.withResolvers<void>();

  /** `performance.now()` when the last record arrived. */
  lastReceived: number = performance.now();
  /** Total streams opened either way, for metrics. */
  streamsTotal = 0;

  /** Starts multiplexing over `link`; inbound records are handled at once. */
  constructor(link: RecordLink, options: MuxOptions) {
    this.#link = link;
    this.#options = options;
    this.#window = options.window ?? DEFAULT_WINDOW;
    this.#maxWindow = Math.max(this.#window, options.maxWindow ?? DEFAULT_MAX_WINDOW);
    this.#connectionBuffer = options.connectionBuffer ?? DEFAULT_CONNECTION_BUFFER;
    this.#clock = options.clock ?? (() => performance.now());
    this.#maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    this.#maxRecord = options.maxRecord ?? DEFAULT_MAX_RECORD;
    this.#peerWindow = DEFAULT_WINDOW;
    this.#peerMaxPayload = this.#maxPayload;
    this.#nextLocalId = options.role === "server" ? 2 : 1;
    link.listen({
      record: (record) => this.#receive(record),
      closed: (error) => {
        this.#terminate(error ?? new TunnelClosedError());
        this.#linkEnded.resolve();
      },
    });
  }

  /** Largest data payload this side puts in one frame. */
  get maxFrame(): number {
    return Math.min(this.#maxPayload, this.#peerMaxPayload);
  }

  /** Initial receive window this side grants per stream. */
  get window(): number {
    return this.#window;
  }

  /** Size a stream's receive window may grow to. */
  get maxWindow(): number {
    return this.#maxWindow;
  }

  /** Sum of the receive windows of this connection's streams (at most the budget, unless initial windows alone exceed it). */
  get windowReserved(): number {
    return this.#reserved;
  }

  /** Round-trip time to the peer in ms (the smallest sample of the connection), or 0 before the first. */
  get rtt(): number {
    return this.#rttMin;
  }

  /** Largest payload this side accepts. */
  get maxPayload(): number {
    return this.#maxPayload;
  }

  /** Number of open streams. */
  get streamCount(): number {
    return this.#streams.size;
  }

  /** True once the connection is closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves when the connection is closed, with the error that closed it, if any. */
  get done(): Promise<Error | undefined> {
    return this.#done.promise;
  }

  /**
   * Resolves once the link below has reported its end, which may come after
   * {@linkcode done} (a local close): a sealed link reports it only when no
   * record is being sealed or opened any more, so nothing outlives it.
   */
  get linkEnded(): Promise<void> {
    return this.#linkEnded.promise;
  }

  /** Applies the peer's stream settings from its hello. */
  setPeerSettings(settings: { window: number; maxPayload: number }): void {
    this.#peerWindow = settings.window;
    this.#peerMaxPayload = settings.maxPayload;
    // The connection carries nothing yet: this round trip is the path's own,
    // with no data queued ahead of the ping or its answer.
    this.ping();
  }

  /** Opens a stream to `app` on the peer. Data may be written at once. */
  open(app: string): MuxStream {
    if (this.#closed) throw this.#closeError ?? new TunnelClosedError();
    const id = this.#nextLocalId;
    this.#nextLocalId += 2;
    const stream = this.#newStream(id, app);
    this.#unopened.add(id);
    this.#enqueueData({ frame: { kind: FrameKind.Open, stream: id, payload: encodeOpen(app) } });
    return stream;
  }

  /** Sends a connection-level control frame (hello, app announced, …). */
  sendControl(kind: FrameKind, payload: Uint8Array): void {
    if (this.#closed) return;
    this.#enqueueUrgent({ kind, stream: CONNECTION_STREAM, payload });
  }

  /**
   * Sends a ping; the peer answers with a pong, which refreshes
   * {@linkcode lastReceived} and gives a round-trip sample ({@linkcode rtt}).
   */
  ping(): void {
    if (this.#closed) return;
    const payload = new Uint8Array(8);
    const now = this.#clock();
    this.#probeSentAt = now;
    new DataView(payload.buffer).setFloat64(0, now);
    this.#enqueueUrgent({ kind: FrameKind.Ping, stream: CONNECTION_STREAM, payload });
  }

  /**
   * Tells the peer why the connection ends, sends what is queued, then closes
   * the link and resets every stream.
   */
  goAway(code: number, reason: string): void {
    if (this.#closed) return;
    this.#urgent.push({
      frame: {
        kind: FrameKind.GoAway,
        stream: CONNECTION_STREAM,
        payload: encodeReason({ code, reason }),
      },
    });
    this.#flushNow(true);
    this.#closeError ??= new TunnelClosedError(`Tunnel closed: ${reason}`);
    this.#link.close(reason);
    this.#terminate(this.#closeError);
  }

  /** Closes the link at once and resets every stream. Idempotent. */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closeError ??= error ?? new TunnelClosedError();
    this.#link.close(error?.message);
    this.#terminate(this.#closeError);
  }

  // ---- StreamHost ----

  /** @internal */
  sendData(stream: MuxStream, payload: Uint8Array, taken: (error?: Error) => void): void {
    if (this.#closed) {
      taken(stream.error ?? this.#closeError ?? new TunnelClosedError());
      return;
    }
    this.#enqueueData({ frame: { kind: FrameKind.Data, stream: stream.id, payload }, taken });
  }

  /** @internal */
  sendFin(stream: MuxStream): void {
    if (this.#closed) return;
    this.#enqueueData({ frame: { kind: FrameKind.Fin, stream: stream.id, payload: EMPTY } });
  }

  /** @internal */
  sendReset(stream: MuxStream, code: number, reason: string): void {
    if (this.#closed) return;
    const frame = {
      kind: FrameKind.Reset,
      stream: stream.id,
      payload: encodeReason({ code, reason }),
    };
    // A reset may not overtake the Open of its stream, or the peer would see
    // a reset for a stream it never heard of.
    if (this.#unopened.has(stream.id)) this.#enqueueData({ frame });
    else this.#enqueueUrgent(frame);
  }

  /** @internal */
  sendWindow(stream: MuxStream, increment: number): void {
    if (this.#closed) return;
    const payload = encodeWindow(increment);
    this.#enqueueUrgent({ kind: FrameKind.Window, stream: stream.id, payload });
  }

  /** @internal */
  release(stream: MuxStream): void {
    // A stream is released once (it guards that), so its window leaves the budget once.
    this.#reserved -= stream.window;
    if (this.#streams.get(stream.id) === stream) this.#streams.delete(stream.id);
  }

  /** @internal */
  now(): number {
    return this.#clock();
  }

  /** @internal */
  probeRtt(): void {
    const now = this.#clock();
    if (now - this.#rttSampleAt < RTT_REFRESH_MS) return;
    // One probe at a time; one whose answer never came is replaced after a refresh period.
    if (this.#probeSentAt !== null && now - this.#probeSentAt < RTT_REFRESH_MS) return;
    this.ping();
  }

  /** @internal */
  growWindow(_stream: MuxStream, bytes: number): number {
    const granted = Math.max(0, Math.min(bytes, this.#connectionBuffer - this.#reserved));
    this.#reserved += granted;
    return granted;
  }

  /** @internal */
  shrinkWindow(_stream: MuxStream, bytes: number): void {
    this.#reserved -= bytes;
  }

  #newStream(id: number, app: string): MuxStream {
    const stream = new MuxStream(this, id, app, this.#peerWindow, this.#window, this.#maxWindow);
    // Initial windows are granted whatever the budget: a stream cannot work without one.
    this.#reserved += stream.window;
    this.#streams.set(id, stream);
    this.streamsTotal++;
    return stream;
  }

  #pongReceived(payload: Uint8Array): void {
    // Our pings carry the time they were sent on our clock.
    if (payload.length !== 8) return;
    const now = this.#clock();
    const sample = now - new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0);
    if (!(sample >= 0) || sample > RTT_MAX_SAMPLE_MS) return;
    this.#probeSentAt = null;
    this.#rttSampleAt = now;
    // The smallest sample counts for the connection's life: one TCP
    // connection keeps its path, and larger samples measure our own queues
    // (a ping waits behind megabytes of records each way under load), which
    // would make windows grow for a bandwidth-delay product that is not there.
    if (this.#rttMin === 0 || sample <= this.#rttMin) {
      // Zero would read as "unknown": a loopback round trip can round down to it.
      this.#rttMin = Math.max(sample, 0.001);
    }
  }

  // ---- sending ----

  #enqueueUrgent(frame: Frame): Queued {
    const item = { frame };
    this.#urgent.push(item);
    this.#urgentBytes += HEADER_SIZE + frame.payload.length;
    if (this.#urgentBytes > MAX_URGENT_QUEUE) {
      this.close(new SendQueueFullError(this.#urgentBytes, MAX_URGENT_QUEUE));
    } else {
      this.#scheduleFlush();
    }
    return item;
  }

  #enqueueData(item: Queued): void {
    this.#data.push(item);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#waitingWritable) return;
    this.#flushScheduled = true;
    // Frames queued by callbacks of the same event-loop turn share a record.
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flushNow(false);
    });
  }

  /** Encodes queued frames into records while the link accepts them. */
  #flushNow(force: boolean): void {
    while (this.#urgent.length > 0 || this.#dataHead < this.#data.length) {
      if (this.#closed) return;
      if (!force && !this.#link.writable) {
        if (!this.#waitingWritable) {
          this.#waitingWritable = true;
          this.#link.waitWritable().then(() => {
            this.#waitingWritable = false;
            if (this.#closed || this.#link.writable) {
              this.#scheduleFlush();
              return;
            }
            // Resolved yet not writable: the link is closing, and its end is
            // on its way (a sealed link's, behind Web Crypto calls in flight).
            // Asking again at once would be a loop of microtasks that starves
            // the very calls that end it: ask on a later turn instead.
            this.#waitingWritable = true;
            this.#retry = setTimeout(() => {
              this.#retry = undefined;
              this.#waitingWritable = false;
              this.#scheduleFlush();
            }, 1);
          });
        }
        return;
      }
      const batch: Queued[] = [];
      let size = 0;
      while (this.#urgent.length > 0 && size < this.#maxRecord) {
        const item = this.#urgent.shift()!;
        if (item === this.#pong) this.#pong = null;
        batch.push(item);
        size += HEADER_SIZE + item.frame.payload.length;
      }
      this.#urgentBytes = Math.max(0, this.#urgentBytes - size);
      while (this.#dataHead < this.#data.length && size < this.#maxRecord) {
        const item = this.#data[this.#dataHead];
        this.#data[this.#dataHead++] = undefined as unknown as Queued;
        batch.push(item);
        size += HEADER_SIZE + item.frame.payload.length;
      }
      if (this.#dataHead === this.#data.length) {
        this.#data = [];
        this.#dataHead = 0;
      }
      const frames = batch.map((item) => item.frame);
      if (this.#unopened.size > 0) {
        for (const frame of frames) {
          if (frame.kind === FrameKind.Open) this.#unopened.delete(frame.stream);
        }
      }
      const record = new Uint8Array(encodedSize(frames));
      encodeInto(frames, record, 0, { maxPayload: this.#maxPayload });
      this.#link.send(record);
      for (const item of batch) item.taken?.();
    }
  }

  // ---- receiving ----

  #receive(record: Uint8Array): void {
    if (this.#closed) return;
    this.lastReceived = performance.now();
    let frames: Frame[];
    try {
      frames = decodeFrames(record, { maxPayload: this.#maxPayload });
      for (const frame of frames) {
        this.#dispatch(frame);
        if (this.#closed) return;
      }
    } catch (error) {
      // Bad input from the peer, or a handler that failed on it: this
      // connection cannot go on, but the process must.
      const protocol = error instanceof ProtocolError;
      this.#closeError = error instanceof Error ? error : new Error(String(error));
      this.goAway(
        protocol ? GoAwayCode.Protocol : GoAwayCode.Internal,
        protocol ? this.#closeError.message : "internal error",
      );
    }
  }

  #isPeerId(id: number): boolean {
    return (id % 2 === 0) === (this.#options.role === "client");
  }

  #dispatch(frame: Frame): void {
    const { kind, stream: id, payload } = frame;
    if (id === CONNECTION_STREAM) return this.#dispatchConnection(frame);
    if (kind === FrameKind.Open) return this.#accept(id, decodeOpen(payload));
    const stream = this.#streams.get(id);
    if (!stream) {
      // Frames racing a reset or close are dropped; frames for ids that were
      // never opened are a protocol violation.
      const opened = this.#isPeerId(id) ? id <= this.#highestPeerId : id < this.#nextLocalId;
      if (!opened) {
        throw new ProtocolError(
          "malformed",
          `Cannot accept ${frameKindName(kind)} frame: stream ${id} was never opened`,
        );
      }
      return;
    }
    switch (kind) {
      case FrameKind.Data:
        if (!stream.receiveData(payload)) {
          stream.reset(
            ResetCode.Protocol,
            `stream ${id}: ${payload.length} bytes exceed the window or follow FIN`,
          );
        }
        return;
      case FrameKind.Window:
        return stream.receiveWindow(decodeWindow(payload));
      case FrameKind.Fin:
        if (!stream.receiveFin()) stream.reset(ResetCode.Protocol, `stream ${id}: second FIN`);
        return;
      case FrameKind.Reset: {
        const { code, reason } = decodeReason(payload);
        this.#streams.delete(id);
        return stream.receiveReset(new StreamResetError(code, reason, true));
      }
      default:
        throw new ProtocolError(
          "malformed",
          `Cannot accept ${frameKindName(kind)} frame on stream ${id}`,
        );
    }
  }

  #accept(id: number, app: string): void {
    if (!this.#isPeerId(id) || id <= this.#highestPeerId) {
      throw new ProtocolError("malformed", `Cannot open stream ${id}: id out of sequence`);
    }
    this.#highestPeerId = id;
    const stream = this.#newStream(id, app);
    if (!this.#options.onStream) {
      stream.reset(ResetCode.UnknownApp, `this side accepts no streams`);
      return;
    }
    this.#options.onStream(stream);
  }

  #dispatchConnection(frame: Frame): void {
    switch (frame.kind) {
      case FrameKind.Ping:
        // Only the latest ping needs an answer: a peer that pings and does
        // not read must not grow the queue by one pong per ping.
        if (this.#pong) {
          this.#urgentBytes += frame.payload.length - this.#pong.frame.payload.length;
          this.#pong.frame.payload = frame.payload;
        } else {this.#pong = this.#enqueueUrgent({
            kind: FrameKind.Pong,
            stream: CONNECTION_STREAM,
            payload: frame.payload,
          });}
        return;
      case FrameKind.Pong:
        return this.#pongReceived(frame.payload);
      case FrameKind.GoAway:
        this.#options.onGoAway?.(decodeReason(frame.payload));
        return;
      case FrameKind.Hello:
      case FrameKind.AppAnnounce:
      case FrameKind.AppWithdraw:
      case FrameKind.AppOffer:
      case FrameKind.AppOfferWithdraw:
        this.#options.onControl?.(frame, this);
        return;
      default:
        throw new ProtocolError(
          "malformed",
          `Cannot accept ${frameKindName(frame.kind)} frame on stream 0`,
        );
    }
  }

  #terminate(error: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#closeError ??= error;
    const reason = this.#closeError.message;
    for (const item of this.#data.slice(this.#dataHead)) {
      item.taken?.(new StreamResetError(ResetCode.Aborted, reason, false, { cause: error }));
    }
    this.#data = [];
    this.#dataHead = 0;
    this.#urgent = [];
    this.#urgentBytes = 0;
    this.#pong = null;
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) {
      stream.receiveReset(
        new StreamResetError(ResetCode.Aborted, reason, false, { cause: this.#closeError }),
      );
    }
    this.#done.resolve(
      this.#closeError instanceof TunnelClosedError ? undefined : this.#closeError,
    );
  }
}
