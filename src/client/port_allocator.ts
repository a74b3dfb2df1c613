/**
 * Binds the TCP listener of each (peer, app), preferring the port that pair
 * had before so a reconnecting client keeps its endpoint. The ports a pair
 * had are kept in a {@linkcode PortBook}: in memory, or in the process's state
 * ({@linkcode PortAssignments}) so that they survive a restart.
 *
 * @module
 */

/** The port each pair had last, by pair key. A `Map` is one (nothing kept across restarts). */
export interface PortBook {
  /** The port `key` had last. */
  get(key: string): number | undefined;
  /** Records that `key` now has `port`. */
  set(key: string, port: number): unknown;
  /** Every pair's port. */
  entries(): Iterable<[string, number]>;
  /** Waits for the records started so far to be stored, if they are stored anywhere. */
  flush?(): Promise<void>;
}

/** OS-chosen ports that land on another pair's remembered port are drawn again, this often. */
const OS_PORT_DRAWS = 8;

/** An inclusive range of ports. */
export interface PortRange {
  /** First port. */
  from: number;
  /** Last port. */
  to: number;
}

/** No free port was left in the configured range. */
export class PortsExhaustedError extends Error {
  /** Creates the error. */
  constructor(range: PortRange, options?: ErrorOptions) {
    super(`Cannot listen: every port in ${range.from}-${range.to} is taken`, options);
    this.name = "PortsExhaustedError";
  }
}

/** Hands out listeners from a range, or OS-chosen ports when there is none. */
export class PortAllocator {
  #hostname: string;
  #range: PortRange | undefined;
  #remembered: PortBook;
  #next: number;

  /** Creates an allocator binding `hostname`, remembering ports in `book`. */
  constructor(hostname: string, range?: PortRange, book: PortBook = new Map()) {
    this.#hostname = hostname;
    this.#range = range;
    this.#remembered = book;
    this.#next = range?.from ?? 0;
  }

  /**
   * Listens for `key` (a peer/app pair): on its previous port when that is
   * free (and in the range, if there is one: the range may have changed since),
   * else on the next free port of the range, else on an OS-chosen port.
   *
   * @throws {PortsExhaustedError} when a range is set and no port in it is free.
   */
  listen(key: string): Deno.TcpListener {
    const previous = this.#remembered.get(key);
    if (previous !== undefined && this.#inRange(previous)) {
      const listener = this.#tryListen(previous);
      if (listener) return listener;
    }
    let listener: Deno.TcpListener | null = null;
    if (!this.#range) {
      listener = this.#listenAnywhere(key);
    } else {
      const { from, to } = this.#range;
      const size = to - from + 1;
      // First pass keeps ports other pairs had, so they can get them back;
      // the second takes any free port.
      for (const spareReserved of [true, false]) {
        for (let i = 0; i < size && !listener; i++) {
          const port = from + ((this.#next - from + i) % size);
          if (spareReserved && this.#isReserved(port, key)) continue;
          listener = this.#tryListen(port);
          if (listener) this.#next = port + 1 > to ? from : port + 1;
        }
      }
      if (!listener) throw new PortsExhaustedError(this.#range);
    }
    this.#remembered.set(key, (listener.addr as Deno.NetAddr).port);
    return listener;
  }

  /** An OS-chosen port, not one another pair had if the OS offers others. */
  #listenAnywhere(key: string): Deno.TcpListener {
    const held: Deno.TcpListener[] = [];
    try {
      for (let draw = 1;; draw++) {
        const listener = Deno.listen({ hostname: this.#hostname, port: 0 });
        if (draw === OS_PORT_DRAWS || !this.#isReserved(listener.addr.port, key)) return listener;
        // Held open until the end, so the next draw gets another port.
        held.push(listener);
      }
    } finally {
      for (const listener of held) listener.close();
    }
  }

  #inRange(port: number): boolean {
    return !this.#range || (port >= this.#range.from && port <= this.#range.to);
  }

  /** True when `port` was last used by another pair. */
  #isReserved(port: number, key: string): boolean {
    for (const [other, remembered] of this.#remembered.entries()) {
      if (remembered === port && other !== key) return true;
    }
    return false;
  }

  #tryListen(port: number): Deno.TcpListener | null {
    try {
      return Deno.listen({ hostname: this.#hostname, port });
    } catch (error) {
      if (error instanceof Deno.errors.AddrInUse) return null;
      throw error;
    }
  }
}
