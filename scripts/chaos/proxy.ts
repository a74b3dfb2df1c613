/**
 * A TCP proxy on 127.0.0.1 that the chaos suite puts between a client and the
 * server to make network faults: a partition (every byte in both directions
 * silently dropped, connections left open, as when a route disappears) and a
 * peer that stops reading (one direction no longer read, so the sender's
 * kernel buffers fill and it must queue or stop).
 *
 * @module
 */

/** A direction through the proxy: `up` is caller → target, `down` target → caller. */
export type Direction = "up" | "down";

interface Pair {
  caller: Deno.TcpConn;
  target: Deno.TcpConn | null;
  done: Promise<void>;
  /** One side ended during a partition; the other was not told (nothing crosses a partition). */
  severed: boolean;
}

/** Forwards every connection on its port to 127.0.0.1:`targetPort`. */
export class ChaosProxy {
  readonly #listener: Deno.TcpListener;
  readonly #pairs = new Set<Pair>();
  readonly #loop: Promise<void>;
  #blackhole = false;
  #paused = new Map<Direction, PromiseWithResolvers<void>>();
  /** Bytes dropped while partitioned. */
  dropped = 0;
  /** Connections accepted so far. */
  accepted = 0;

  /** Starts listening on an OS-chosen port of 127.0.0.1. */
  constructor(readonly targetPort: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#loop = this.#accept();
  }

  /** The port callers connect to. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /**
   * Partitions (`true`) or heals (`false`). While partitioned every byte read
   * from either side is dropped, and so is a side's close (FIN or reset):
   * each side must find out by itself that the other is gone. New
   * connections get no target. Healing closes the connections made during
   * the partition (their first bytes are lost, so they could never work) and
   * those one side closed meanwhile (as the retransmitted FIN or a reset
   * would); the others carry on (their bytes sent meanwhile are lost, which
   * the peers' own checks must notice).
   */
  partition(on: boolean): void {
    this.#blackhole = on;
    if (on) return;
    for (const pair of this.#pairs) {
      if (pair.target === null || pair.severed) {
        close(pair.caller);
        if (pair.target) close(pair.target);
      }
    }
  }

  /** Stops (`true`) or resumes reading `direction`'s source on every connection. */
  pause(direction: Direction, on: boolean): void {
    if (on && !this.#paused.has(direction)) this.#paused.set(direction, Promise.withResolvers());
    if (!on) {
      this.#paused.get(direction)?.resolve();
      this.#paused.delete(direction);
    }
  }

  async #accept(): Promise<void> {
    for (;;) {
      let caller: Deno.TcpConn;
      try {
        caller = await this.#listener.accept();
      } catch {
        return;
      }
      this.accepted++;
      const pair: Pair = { caller, target: null, done: Promise.resolve(), severed: false };
      pair.done = this.#run(pair).finally(() => this.#pairs.delete(pair));
      this.#pairs.add(pair);
    }
  }

  async #run(pair: Pair): Promise<void> {
    if (this.#blackhole) {
      // No route: whatever the caller sends is lost until it or the heal closes it.
      await this.#pump(pair, pair.caller, null, "up");
      close(pair.caller);
      return;
    }
    try {
      pair.target = await Deno.connect({ hostname: "127.0.0.1", port: this.targetPort });
      pair.target.setNoDelay(true);
      pair.caller.setNoDelay(true);
    } catch {
      close(pair.caller);
      return;
    }
    await Promise.all([
      this.#pump(pair, pair.caller, pair.target, "up"),
      this.#pump(pair, pair.target, pair.caller, "down"),
    ]);
    close(pair.caller);
    close(pair.target);
  }

  /**
   * Copies `from` to `to` until EOF or an error; half-closes `to` on EOF,
   * closes both on an error, unless partitioned (then `to` learns nothing).
   */
  async #pump(
    pair: Pair,
    from: Deno.TcpConn,
    to: Deno.TcpConn | null,
    direction: Direction,
  ): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const paused = this.#paused.get(direction);
        if (paused) await paused.promise;
        const n = await from.read(buffer);
        if (n === null) break;
        if (this.#blackhole || to === null) {
          this.dropped += n;
          continue;
        }
        let at = 0;
        while (at < n) at += await to.write(buffer.subarray(at, n));
      }
      if (this.#blackhole) pair.severed = true;
      else await to?.closeWrite().catch(() => {});
    } catch {
      // One side failed: end both, as a router's reset would (a partition passes no reset).
      if (this.#blackhole) pair.severed = true;
      else {
        close(from);
        if (to) close(to);
      }
    }
  }

  /** Stops listening, resumes paused reads and closes every connection. */
  async close(): Promise<void> {
    close(this.#listener);
    await this.#loop;
    for (const direction of [...this.#paused.keys()]) this.pause(direction, false);
    for (const pair of this.#pairs) {
      close(pair.caller);
      if (pair.target) close(pair.target);
    }
    await Promise.all([...this.#pairs].map((p) => p.done));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function close(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
