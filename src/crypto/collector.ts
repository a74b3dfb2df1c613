/**
 * Garbage collection paced by the bytes the data path moves, not by V8's
 * own triggers, which do not see them.
 *
 * Every record sealed or opened leaves two or three dead 64–256 KiB buffers
 * (the record, Web Crypto's copy of its input, its output). Their backing
 * stores live outside the JS heap, and V8 starts a young-generation
 * collection only when 1 MiB of *JS heap* has been allocated: under iperf3
 * through the tunnel that was every ~45 ms, i.e. tens of MiB of dead buffers
 * between two collections. The few that a collection finds still in use are
 * promoted, and their buffers then wait for a full collection, which V8
 * starts only near its global limit (~120 MiB with the project's V8 flags).
 * Together that made the receiving client peak at 130–170 MiB RSS.
 *
 * So this process asks for a young-generation collection every
 * {@linkcode MINOR_EVERY} bytes sealed or opened (~0.1 ms with a 1 MiB young
 * generation), and for a full one instead when ArrayBuffers hold at least
 * {@linkcode EXTERNAL_FLOOR} and twice what the last full collection left
 * (at most once per {@linkcode MAJOR_MIN}): promoted garbage is then bounded
 * by what is in use, and a process whose slow readers legitimately hold much
 * does not collect in vain. A full collection takes a few ms with a small
 * heap. It needs V8's `gc()` (`--expose-gc`, part of the project's V8
 * flags; `--no-concurrent-array-buffer-sweeping` makes a collection free the
 * buffers before it returns, so the figures it reads are current); without
 * it nothing happens (see "Memory" in docs/architecture.md).
 *
 * @module
 */

/** Bytes sealed or opened between two collections: 4 MiB. */
export const MINOR_EVERY = 4 * 1024 * 1024;
/** Fewest bytes sealed or opened between two full collections: 32 MiB. */
export const MAJOR_MIN = 32 * 1024 * 1024;
/** External memory (ArrayBuffers) below which no full collection is asked for: 32 MiB. */
export const EXTERNAL_FLOOR = 32 * 1024 * 1024;

/** V8's `gc()` as `--expose-gc` defines it. */
export type GcFunction = (options: { type: "minor" | "major"; execution: "sync" }) => unknown;

/** What a {@linkcode Collector} needs: V8's `gc()` and the bytes of live ArrayBuffers. */
export interface CollectorHost {
  gc: GcFunction;
  /** Bytes held by ArrayBuffers (`Deno.memoryUsage().external`). */
  external(): number;
}

/** Counts data-path bytes and collects garbage every so many of them. */
export class Collector {
  #host: CollectorHost | undefined;
  #minor = 0;
  #major = 0;
  #majorAt = EXTERNAL_FLOOR;
  #moved = 0;

  /** Collects with `host`; without one, {@linkcode noted} does nothing. */
  constructor(host: CollectorHost | undefined) {
    this.#host = host;
  }

  /** External bytes at or above which the next collection is a full one. */
  get majorAt(): number {
    return this.#majorAt;
  }

  /** Bytes sealed or opened since the process started (what {@linkcode noted} was told). */
  get moved(): number {
    return this.#moved;
  }

  /**
   * Runs a full collection now, if this process can; says whether it did.
   * What is still held afterwards sets the next full collection's threshold,
   * as after one that {@linkcode noted} asked for.
   */
  collectFully(): boolean {
    const host = this.#host;
    if (!host) return false;
    this.#major = 0;
    host.gc({ type: "major", execution: "sync" });
    // What is still held now is in use (data waiting for slow readers):
    // the next full collection waits until as much again is garbage.
    this.#majorAt = Math.max(EXTERNAL_FLOOR, 2 * host.external());
    return true;
  }

  /** `bytes` were sealed or opened: collects if that completes an interval. */
  noted(bytes: number): void {
    this.#moved += bytes;
    const host = this.#host;
    if (!host) return;
    this.#minor += bytes;
    this.#major += bytes;
    if (this.#minor < MINOR_EVERY) return;
    this.#minor = 0;
    if (this.#major >= MAJOR_MIN && host.external() >= this.#majorAt) {
      this.collectFully();
    } else {
      host.gc({ type: "minor", execution: "sync" });
    }
  }
}

/** This process's V8 `gc()`, if `--expose-gc` defined it. */
function exposedGc(): CollectorHost | undefined {
  const gc = (globalThis as { gc?: GcFunction }).gc;
  if (typeof gc !== "function") return undefined;
  return { gc, external: () => Deno.memoryUsage().external };
}

/** The process-wide collector that sealing and opening records report to. */
export const collector: Collector = new Collector(exposedGc());
