/**
 * A user-space TCP proxy that delays each direction by a fixed one-way time,
 * so that the bench can put a WAN-like path (RTT = 2 × delay) between a
 * tunnel's two ends on loopback.
 *
 * Per accepted connection and direction: a reader stamps each chunk with the
 * time it arrived and appends it to a queue; a writer sends the chunks in
 * order, each no earlier than its arrival plus the delay. The queue is
 * bounded in bytes: when it is full the reader stops reading, so the sender
 * sees TCP back-pressure as it would from a full router buffer. End of file is
 * queued like data and passed on as a half-close after the bytes before it;
 * an error in either direction closes both connections.
 *
 * @module
 */

/** Configuration of {@linkcode startDelayProxy}. */
export interface DelayProxyOptions {
  /** Where each accepted connection is forwarded (on 127.0.0.1). */
  targetPort: number;
  /** One-way delay added in each direction, in milliseconds (0: none). */
  delayMs: number;
  /** Bytes a direction may hold before it stops reading (default 64 MiB). */
  queueBytes?: number;
  /** Port to listen on, on 127.0.0.1 (default 0: any free port). */
  port?: number;
}

/** A running proxy. */
export interface DelayProxy {
  /** The port it listens on. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /**
   * How late bytes left, beyond their delay, in ms (timers, the event loop,
   * socket writes): what the proxy adds to the RTT it is asked for.
   */
  lateness(): Lateness;
  /** Stops accepting, closes every connection and waits for their tasks to end. */
  close(): Promise<void>;
}

/** How late the proxy's bytes left, over every direction of every connection so far. */
export interface Lateness {
  /** Bytes sent on. */
  bytes: number;
  /** Mean lateness of a byte (when the write of its chunk ended, past its due time), in ms. */
  meanMs: number;
  /** Largest lateness of a chunk, in ms. */
  maxMs: number;
}

/** Default bound of one direction's queue: 64 MiB (≥ 2.5 Gbit/s × 200 ms). */
export const DEFAULT_QUEUE_BYTES = 64 << 20;

const READ_SIZE = 64 * 1024;

interface Chunk {
  /** Bytes, or null for end of file. */
  data: Uint8Array | null;
  due: number;
}

/** Starts a delay proxy on 127.0.0.1. */
export function startDelayProxy(options: DelayProxyOptions): DelayProxy {
  if (!(options.delayMs >= 0)) {
    throw new RangeError(`Cannot delay by ${options.delayMs} ms: not a number ≥ 0`);
  }
  const queueBytes = options.queueBytes ?? DEFAULT_QUEUE_BYTES;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.port ?? 0 });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  let accepted = 0;
  let closing = false;
  const late = { bytes: 0, weighted: 0, maxMs: 0 };

  const serve = async (inbound: Deno.Conn) => {
    let outbound: Deno.Conn;
    try {
      outbound = await Deno.connect({ hostname: "127.0.0.1", port: options.targetPort });
    } catch {
      closeQuietly(inbound);
      conns.delete(inbound);
      return;
    }
    conns.add(outbound);
    if (closing) closeQuietly(outbound);
    const both = () => {
      closeQuietly(inbound);
      closeQuietly(outbound);
    };
    await Promise.all([
      relay(inbound, outbound, options.delayMs, queueBytes, both, late),
      relay(outbound, inbound, options.delayMs, queueBytes, both, late),
    ]);
    both();
    conns.delete(inbound);
    conns.delete(outbound);
  };

  const acceptLoop = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conns.add(conn);
        const task = serve(conn);
        tasks.add(task);
        task.finally(() => tasks.delete(task));
      }
    } catch {
      // The listener was closed.
    }
  })();

  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    lateness: () => ({
      bytes: late.bytes,
      meanMs: late.bytes ? late.weighted / late.bytes : 0,
      maxMs: late.maxMs,
    }),
    async close() {
      closing = true;
      closeQuietly(listener);
      for (const conn of conns) closeQuietly(conn);
      await acceptLoop;
      await Promise.all([...tasks]);
    },
  };
}

/**
 * Copies `from` to `to` with the delay; ends `to`'s writing side after the
 * last byte. Calls `fail` on an error in either socket.
 */
async function relay(
  from: Deno.Conn,
  to: Deno.Conn,
  delayMs: number,
  queueBytes: number,
  fail: () => void,
  late: { bytes: number; weighted: number; maxMs: number },
): Promise<void> {
  const queue: Chunk[] = [];
  let queued = 0;
  let failed = false;
  /** Wakes the writer (a chunk arrived) or the reader (room freed). */
  let wakeWriter: (() => void) | null = null;
  let wakeReader: (() => void) | null = null;

  const read = async () => {
    try {
      while (!failed) {
        while (queued >= queueBytes && !failed) {
          await new Promise<void>((resolve) => wakeReader = resolve);
        }
        if (failed) return;
        const buffer = new Uint8Array(READ_SIZE);
        const n = await from.read(buffer);
        const due = performance.now() + delayMs;
        queue.push({ data: n === null ? null : buffer.subarray(0, n), due });
        if (n !== null) queued += n;
        wakeWriter?.();
        if (n === null) return;
      }
    } catch {
      failed = true;
      wakeWriter?.();
      fail();
    }
  };

  const write = async () => {
    try {
      while (!failed) {
        if (queue.length === 0) {
          await new Promise<void>((resolve) => wakeWriter = resolve);
          wakeWriter = null;
          continue;
        }
        const chunk = queue[0];
        // A timer may fire a little early: the delay is a lower bound.
        let wait: number;
        while ((wait = chunk.due - performance.now()) > 0) {
          await new Promise((resolve) => setTimeout(resolve, wait));
        }
        queue.shift();
        if (chunk.data === null) {
          await to.closeWrite();
          return;
        }
        let offset = 0;
        while (offset < chunk.data.length) offset += await to.write(chunk.data.subarray(offset));
        const lateMs = Math.max(0, performance.now() - chunk.due);
        late.bytes += chunk.data.length;
        late.weighted += lateMs * chunk.data.length;
        late.maxMs = Math.max(late.maxMs, lateMs);
        queued -= chunk.data.length;
        if (wakeReader) {
          const wake = wakeReader;
          wakeReader = null;
          wake();
        }
      }
    } catch {
      failed = true;
      wakeReader?.();
      fail();
    }
  };

  await Promise.all([read(), write()]);
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // Already closed.
  }
}
