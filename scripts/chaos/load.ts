/**
 * Traffic the chaos suite puts through the tunnel while faults happen: a
 * latency probe (one short connection per request, as a caller would make),
 * sha256-checked bulk transfers and bursts of short connections.
 *
 * @module
 */

import { connect, readAll, writeAll } from "../../tests/harness/net.ts";
import { type LatencySummary, summarize } from "./stats.ts";

const MiB = 1024 * 1024;

/** SHA-256 of a byte stream, computed by `sha256sum` as the bytes come (Web Crypto cannot stream). */
export class Sha256Stream {
  readonly #child = new Deno.Command("sha256sum", { stdin: "piped", stdout: "piped" }).spawn();
  readonly #writer = this.#child.stdin.getWriter();

  /** Adds `bytes`; the caller may reuse them once this resolves. */
  write(bytes: Uint8Array): Promise<void> {
    return this.#writer.write(bytes);
  }

  /** Ends the stream; resolves with the hex digest. */
  async hex(): Promise<string> {
    await this.#writer.close();
    const output = await this.#child.output();
    return new TextDecoder().decode(output.stdout).split(" ")[0];
  }
}

/** The sink upstream: reads to EOF, answers the SHA-256 of what it read in hex. */
export async function sinkHandler(conn: Deno.TcpConn): Promise<void> {
  const sum = new Sha256Stream();
  const buffer = new Uint8Array(256 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) break;
      await sum.write(buffer.subarray(0, n));
    }
  } finally {
    const hex = await sum.hex();
    await writeAll(conn, new TextEncoder().encode(hex)).catch(() => {});
  }
}

/** Outcome of one transfer. */
export interface TransferResult {
  /** The sink's digest equals the sender's. */
  exact: boolean;
  mib: number;
  ms: number;
  /** Why it did not complete, if it did not. */
  error?: string;
}

/**
 * Sends `mib` MiB through `port` to the sink and compares digests. Each MiB
 * carries its index, so a reordered, repeated or lost MiB changes the digest.
 */
export async function transfer(
  port: number,
  mib: number,
  timeoutMs: number,
): Promise<TransferResult> {
  const started = performance.now();
  const expected = new Sha256Stream();
  const block = crypto.getRandomValues(new Uint8Array(65536));
  const chunk = new Uint8Array(MiB);
  for (let at = 0; at < MiB; at += block.length) chunk.set(block, at);
  let conn: Deno.TcpConn | null = null;
  const timer = setTimeout(() => conn?.close(), timeoutMs);
  try {
    conn = await connect(port);
    const answer = readAll(conn);
    answer.catch(() => {}); // Awaited below; a reset during the writes must not go unhandled.
    for (let i = 0; i < mib; i++) {
      new DataView(chunk.buffer).setUint32(0, i);
      await Promise.all([writeAll(conn, chunk), expected.write(chunk)]);
    }
    await conn.closeWrite();
    const got = new TextDecoder().decode(await answer);
    const want = await expected.hex();
    const exact = got === want;
    return {
      exact,
      mib,
      ms: Math.round(performance.now() - started),
      ...(exact ? {} : { error: `digest ${got.slice(0, 16) || "(none)"} ≠ ${want.slice(0, 16)}` }),
    };
  } catch (error) {
    await expected.hex().catch(() => {});
    return {
      exact: false,
      mib,
      ms: Math.round(performance.now() - started),
      error: (error as Error).message,
    };
  } finally {
    clearTimeout(timer);
    try {
      conn?.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

/** One request through the tunnel: connect, send 64 bytes, read them back, close. */
export async function roundTrip(port: number, timeoutMs = 2000): Promise<number> {
  const started = performance.now();
  const conn = await connect(port);
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const data = new Uint8Array(64).fill(7);
    await writeAll(conn, data);
    await conn.closeWrite();
    const got = await readAll(conn);
    if (got.length !== data.length) throw new Error(`echo returned ${got.length} of 64 bytes`);
    return performance.now() - started;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

/** Latency and failures of a probe run. */
export interface ProbeResult extends LatencySummary {
  failures: number;
  /** The first few failures' messages. */
  errors: string[];
}

/** Sends a request every `intervalMs` to `port` until stopped; records latencies and failures. */
export class Prober {
  readonly #samples: number[] = [];
  readonly #errors: string[] = [];
  #failures = 0;
  #stopped = false;
  readonly #loop: Promise<void>;

  constructor(readonly port: number, readonly intervalMs = 10) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        this.#samples.push(await roundTrip(this.port));
      } catch (error) {
        this.#failures++;
        if (this.#errors.length < 3) this.#errors.push((error as Error).message);
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  /** Stops and summarizes. */
  async stop(): Promise<ProbeResult> {
    this.#stopped = true;
    await this.#loop;
    return { ...summarize(this.#samples), failures: this.#failures, errors: this.#errors };
  }
}

/** Probes `port` for `ms` and summarizes. */
export async function probeFor(port: number, ms: number): Promise<ProbeResult> {
  const prober = new Prober(port);
  await new Promise((r) => setTimeout(r, ms));
  return await prober.stop();
}

/** Makes `total` short connections through `port`, `concurrency` at a time; counts failures. */
export async function shortConnections(
  port: number,
  total: number,
  concurrency = 16,
): Promise<{ ok: number; failures: number; ms: number; errors: string[] }> {
  const started = performance.now();
  let next = 0;
  let ok = 0;
  let failures = 0;
  const errors: string[] = [];
  const worker = async () => {
    while (next < total) {
      next++;
      try {
        await roundTrip(port, 5000);
        ok++;
      } catch (error) {
        failures++;
        if (errors.length < 3) errors.push((error as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, failures, ms: Math.round(performance.now() - started), errors };
}
