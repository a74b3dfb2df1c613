/**
 * `GET /v1/events`: a Server-Sent Events stream of what changes on the
 * server, so that views update without polling.
 *
 * Events (`event:` line, JSON `data:` line):
 *
 * | event | data |
 * | --- | --- |
 * | `request.waiting` | {@linkcode RequestDetail} |
 * | `request.approved`, `request.declined`, `request.withdrawn` | `{ fingerprint, name }` |
 * | `peer.up`, `peer.down` | `{ name, remote }` |
 * | `app.exposed`, `app.withdrawn` | `{ peer, app, endpoint }` |
 * | `traffic` | `{ time, apps: TrafficSample[] }`, every second |
 * | `dropped` | `{ reason }`, the last event of a subscriber that fell behind |
 *
 * The hub compares snapshots of the state once a second (and right after a
 * write through the API) instead of hooking into the server: the server layer
 * stays unaware of it, and a change between two looks that undoes itself is
 * not worth a line on a dashboard. It runs while someone subscribes, or for
 * the life of the admin API when {@linkcode EventHub.keepSampling} was called
 * (the server and client do, so that `?detail=1` can show rates).
 *
 * Each subscriber has a bounded queue ({@linkcode EventHubOptions.queueLimit}
 * events). The HTTP server takes events from it as fast as the subscriber's
 * socket drains; one whose queue is full gets `dropped` and its stream ends,
 * so a slow or stuck browser costs a bounded amount of memory and never
 * delays the server or the other subscribers. It may reconnect.
 *
 * @module
 */

import type { AdminState } from "./state.ts";
import { type RequestDetail, requestDetails, type TrafficCounters } from "./detail.ts";

/** One app's counters and rates in a `traffic` event. */
export interface TrafficSample extends TrafficCounters {
  /** The peer. */
  peer: string;
  /** The app. */
  app: string;
  /** Bytes per second received from the peer since the previous sample. */
  bytesInPerSecond: number;
  /** Bytes per second sent to the peer since the previous sample. */
  bytesOutPerSecond: number;
  /** New tunnelled connections per second since the previous sample. */
  connectionsPerSecond: number;
}

/** Options of {@linkcode EventHub}. */
export interface EventHubOptions {
  /** Interval of looks and traffic samples (default 1000 ms). */
  intervalMs?: number;
  /** Events a subscriber may have queued before it is dropped (default 256). */
  queueLimit?: number;
}

interface Snapshot {
  requests: Map<string, RequestDetail>;
  peers: Map<string, string>;
  apps: Map<string, { peer: string; app: string; endpoint: string }>;
  traffic: Map<string, TrafficCounters>;
  time: number;
}

interface Subscriber {
  controller: ReadableStreamDefaultController<Uint8Array>;
}

const encoder = new TextEncoder();

/** Encodes one Server-Sent Event. */
export function sseEvent(event: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Fans the state's changes out to `/v1/events` subscribers. */
export class EventHub {
  #state: AdminState;
  #intervalMs: number;
  #queueLimit: number;
  #subscribers = new Set<Subscriber>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #last: Snapshot | undefined;
  #rates = new Map<string, TrafficSample>();
  #sampling = false;
  #closed = false;

  /** Creates a hub over `state`; nothing runs until the first subscriber. */
  constructor(state: AdminState, options: EventHubOptions = {}) {
    this.#state = state;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#queueLimit = options.queueLimit ?? 256;
  }

  /** Subscribers now. */
  get size(): number {
    return this.#subscribers.size;
  }

  /** The `text/event-stream` response of one new subscriber. */
  subscribe(): Response {
    let subscriber: Subscriber;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        subscriber = { controller };
        if (this.#closed) {
          controller.close();
          return;
        }
        this.#subscribers.add(subscriber);
        // A comment line first, so that the browser's fetch resolves at once.
        controller.enqueue(encoder.encode(": wormhole events\n\n"));
        this.#start();
      },
      cancel: () => this.#remove(subscriber),
    }, new CountQueuingStrategy({ highWaterMark: this.#queueLimit }));
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
      },
    });
  }

  /** Samples every interval until {@linkcode close}, subscribers or not. */
  keepSampling(): void {
    if (this.#closed) return;
    this.#sampling = true;
    this.#start();
  }

  /**
   * The last sample of each exposed app (`peer\0app` → sample), from the
   * last full interval; empty while the hub does not run.
   */
  rates(): ReadonlyMap<string, TrafficSample> {
    return this.#rates;
  }

  /** Looks at the state now (after a write), instead of at the next tick. */
  changed(): void {
    if (this.#timer !== undefined) this.#look(false);
  }

  /** Ends every stream and stops looking. */
  close(): void {
    this.#closed = true;
    this.#sampling = false;
    this.#stop();
    for (const subscriber of [...this.#subscribers]) {
      this.#remove(subscriber);
      subscriber.controller.close();
    }
  }

  #start(): void {
    if (this.#timer !== undefined) return;
    this.#last = this.#snapshot();
    this.#timer = setInterval(() => this.#look(true), this.#intervalMs);
  }

  #remove(subscriber: Subscriber): void {
    this.#subscribers.delete(subscriber);
    if (this.#subscribers.size === 0 && !this.#sampling) this.#stop();
  }

  #stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#last = undefined;
    this.#rates = new Map();
  }

  #publish(event: Uint8Array): void {
    for (const subscriber of [...this.#subscribers]) {
      const { controller } = subscriber;
      if ((controller.desiredSize ?? 0) <= 0) {
        // Over its queue: this one event more tells it why, then the stream ends.
        this.#remove(subscriber);
        controller.enqueue(sseEvent("dropped", { reason: "too slow: events queue full" }));
        controller.close();
        continue;
      }
      controller.enqueue(event);
    }
  }

  #snapshot(): Snapshot {
    const state = this.#state;
    return {
      requests: new Map(requestDetails(state).map((r) => [r.fingerprint, r])),
      peers: new Map(
        (state.peers?.() ?? []).filter((p) => p.connected).map((p) => [p.name, p.remote ?? ""]),
      ),
      apps: new Map(state.apps().map((a) => [`${a.peer}\0${a.app}`, a])),
      traffic: new Map(
        (state.stats?.().traffic ?? []).map((t) => [`${t.peer}\0${t.app}`, t]),
      ),
      time: performance.now(),
    };
  }

  #look(sample: boolean): void {
    const before = this.#last;
    if (!before) return;
    const now = this.#snapshot();
    this.#last = now;
    for (const [fingerprint, request] of now.requests) {
      if (!before.requests.has(fingerprint)) this.#publish(sseEvent("request.waiting", request));
    }
    for (const [fingerprint, request] of before.requests) {
      if (now.requests.has(fingerprint)) continue;
      this.#publish(sseEvent(`request.${this.#outcome(fingerprint)}`, {
        fingerprint,
        name: request.name,
      }));
    }
    for (const [name, remote] of before.peers) {
      if (!now.peers.has(name)) this.#publish(sseEvent("peer.down", { name, remote }));
    }
    for (const [name, remote] of now.peers) {
      if (!before.peers.has(name)) this.#publish(sseEvent("peer.up", { name, remote }));
    }
    for (const [key, app] of before.apps) {
      if (!now.apps.has(key)) this.#publish(sseEvent("app.withdrawn", app));
    }
    for (const [key, app] of now.apps) {
      if (!before.apps.has(key)) this.#publish(sseEvent("app.exposed", app));
    }
    if (!sample) {
      // Rates are per tick: a look between ticks keeps the tick's baseline.
      now.traffic = before.traffic;
      now.time = before.time;
      return;
    }
    const apps = samples(before, now);
    this.#rates = new Map(apps.map((a) => [`${a.peer}\0${a.app}`, a]));
    if (this.#subscribers.size === 0) return;
    this.#publish(sseEvent("traffic", { time: new Date().toISOString(), apps }));
  }

  /** Why a request stopped waiting: its key is approved now, or denied, or it left. */
  #outcome(fingerprint: string): "approved" | "declined" | "withdrawn" {
    if ((this.#state.peers?.() ?? []).some((p) => p.fingerprint === fingerprint)) return "approved";
    if ((this.#state.denied?.() ?? []).some((d) => d.fingerprint === fingerprint)) {
      return "declined";
    }
    return "withdrawn";
  }
}

/** Counters of the exposed apps and their rates since `before`. */
function samples(before: Snapshot, now: Snapshot): TrafficSample[] {
  const seconds = Math.max(now.time - before.time, 1) / 1000;
  const rate = (a: number, b: number) => Math.max(0, Math.round((a - b) / seconds));
  const out: TrafficSample[] = [];
  for (const [key, app] of now.apps) {
    const t = now.traffic.get(key) ?? { bytesIn: 0, bytesOut: 0, streamsOpen: 0, streamsTotal: 0 };
    const p = before.traffic.get(key) ?? t;
    out.push({
      peer: app.peer,
      app: app.app,
      bytesIn: t.bytesIn,
      bytesOut: t.bytesOut,
      streamsOpen: t.streamsOpen,
      streamsTotal: t.streamsTotal,
      bytesInPerSecond: rate(t.bytesIn, p.bytesIn),
      bytesOutPerSecond: rate(t.bytesOut, p.bytesOut),
      connectionsPerSecond: rate(t.streamsTotal, p.streamsTotal),
    });
  }
  return out;
}
