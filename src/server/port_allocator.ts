/**
 * Binds the TCP listener of each (peer, app), preferring the port that pair
 * had before so a reconnecting client keeps its endpoint.
 *
 * @module
 */

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
  #remembered = new Map<string, number>();
  #next: number;

  /** Creates an allocator binding `hostname`. */
  constructor(hostname: string, range?: PortRange) {
    this.#hostname = hostname;
    this.#range = range;
    this.#next = range?.from ?? 0;
  }

  /**
   * Listens for `key` (a peer/app pair): on its previous port when that is
   * free, else on the next free port of the range, else on an OS-chosen port.
   *
   * @throws {PortsExhaustedError} when a range is set and no port in it is free.
   */
  listen(key: string): Deno.TcpListener {
    const previous = this.#remembered.get(key);
    if (previous !== undefined) {
      const listener = this.#tryListen(previous);
      if (listener) return listener;
    }
    let listener: Deno.TcpListener | null = null;
    if (!this.#range) {
      listener = Deno.listen({ hostname: this.#hostname, port: 0 });
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

  /** True when `port` was last used by another pair. */
  #isReserved(port: number, key: string): boolean {
    for (const [other, remembered] of this.#remembered) {
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
