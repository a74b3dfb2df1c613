/**
 * Memory back to the system once the load ends, as V8's memory reducer does
 * for its own heap: when a process that moved data has gone quiet, one full
 * garbage collection (its buffers freed) and one `malloc_trim(0)` (the
 * pages those frees left inside malloc's heap given back).
 *
 * Without it the heap keeps its high-water mark: a server's RSS after a
 * full collection ended 5–15 % above its start after 15 minutes of load,
 * while its live heap had not grown (scripts/chaos/README.md, "Memory").
 *
 * @module
 */

/** What a {@linkcode MemoryReleaser} needs from the process. */
export interface ReleaserHost {
  /** Bytes the data path has moved so far (a counter that only grows). */
  moved(): number;
  /** A full garbage collection, when the process can run one. */
  collect(): void;
  /** glibc's `malloc_trim(0)`; true when it gave pages back. */
  trim(): boolean;
  /** Resident set size in bytes, for the log line. */
  rss(): number;
}

/** Options of a {@linkcode MemoryReleaser}. */
export interface ReleaserOptions {
  /** How often it looks (ms). Default {@linkcode RELEASE_EVERY_MS}. */
  everyMs?: number;
  /** Bytes moved within one look above which the process counts as busy. */
  busyBytes?: number;
  /** Told of each release. */
  onRelease?: (release: { rssBefore: number; rssAfter: number; trimmed: boolean }) => void;
}

/** How often a releaser looks whether the load ended: 5 s. */
export const RELEASE_EVERY_MS = 5_000;
/** Bytes within one look that count as load (keepalives do not): 1 MiB. */
export const BUSY_BYTES = 1024 * 1024;

/**
 * Releases memory once after each stretch of load: on the first look that
 * finds fewer than `busyBytes` moved since the last, after one or more that
 * found more. An idle process is left alone, and a busy one is never
 * trimmed while it works (the pages would be faulted straight back in).
 *
 * @example
 * ```ts ignore
 * const releaser = new MemoryReleaser(host, { onRelease: (r) => log.debug("released", r) });
 * releaser.start();
 * // ... on shutdown:
 * releaser.stop();
 * ```
 */
export class MemoryReleaser {
  #host: ReleaserHost;
  #everyMs: number;
  #busyBytes: number;
  #onRelease: ReleaserOptions["onRelease"];
  #last: number;
  #busy = false;
  #timer: ReturnType<typeof setInterval> | undefined;
  #releases = 0;

  /** Watches `host`; nothing happens until {@linkcode start} or {@linkcode look}. */
  constructor(host: ReleaserHost, options: ReleaserOptions = {}) {
    this.#host = host;
    this.#everyMs = options.everyMs ?? RELEASE_EVERY_MS;
    this.#busyBytes = options.busyBytes ?? BUSY_BYTES;
    this.#onRelease = options.onRelease;
    this.#last = host.moved();
  }

  /** Releases so far. */
  get releases(): number {
    return this.#releases;
  }

  /** Looks every `everyMs` until {@linkcode stop}; the timer never keeps the process alive. */
  start(): void {
    if (this.#timer !== undefined) return;
    const timer = setInterval(() => this.look(), this.#everyMs);
    Deno.unrefTimer(timer as unknown as number);
    this.#timer = timer;
  }

  /** Stops looking. */
  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One look: releases if the load just ended; says whether it did. */
  look(): boolean {
    const moved = this.#host.moved();
    const delta = moved - this.#last;
    this.#last = moved;
    if (delta >= this.#busyBytes) {
      this.#busy = true;
      return false;
    }
    if (!this.#busy) return false;
    this.#busy = false;
    const rssBefore = this.#host.rss();
    this.#host.collect();
    const trimmed = this.#host.trim();
    this.#releases++;
    this.#onRelease?.({ rssBefore, rssAfter: this.#host.rss(), trimmed });
    return true;
  }
}
