// The measurements. Each one is bounded in time and returns plain numbers for the JSON file.

import { type Proc, run, sleep, spawn } from "./proc.ts";
import type { CpuSeconds, RssKiB, RunningSystem } from "../systems/types.ts";

const TOOLS_DIR = new URL("../tools/", import.meta.url).pathname;
const WRK_LUA = new URL("../wrk_report.lua", import.meta.url).pathname;
const DENO = Deno.execPath();

export function denoTool(name: string, args: (string | number)[]): [string, string[]] {
  return [DENO, ["run", "-A", `${TOOLS_DIR}${name}`, ...args.map(String)]];
}

function lastJson(text: string, prefix = ""): Record<string, unknown> {
  const lines = text.split("\n").filter((l) => l.startsWith(prefix + "{"));
  if (!lines.length) throw new Error(`no JSON result in output: ${text.slice(-300)}`);
  return JSON.parse(lines[lines.length - 1].slice(prefix.length));
}

/**
 * Runs `fn` and records the CPU seconds the tunnel processes used meanwhile: null for direct, and
 * null when a reading failed or went backwards (a tunnel process died during the test).
 */
export async function withCpu<T extends object>(
  sys: RunningSystem,
  fn: () => Promise<T>,
): Promise<T & { cpu: CpuSeconds | null }> {
  const before = await sys.cpu();
  const result = await fn();
  const after = await sys.cpu();
  let cpu: CpuSeconds | null = null;
  if (before && after) {
    const server = after.server - before.server;
    const client = after.client - before.client;
    if (server >= 0 && client >= 0) cpu = { server, client };
  }
  return { ...result, cpu };
}

// ---------------------------------------------------------------- iperf3

export interface IperfResult {
  streams: number;
  seconds: number;
  senderGbps: number;
  receiverGbps: number;
  /** Bytes the receiver got, from iperf3's summary. */
  receivedBytes: number;
  retransmits: number | null;
  /** CPU seconds of the tunnel processes during the test (see withCpu). */
  cpu?: CpuSeconds | null;
}

export async function iperf(port: number, seconds: number, streams: number): Promise<IperfResult> {
  const r = await run("iperf3", [
    "-c",
    "127.0.0.1",
    "-p",
    String(port),
    "-t",
    String(seconds),
    "-P",
    String(streams),
    "-J",
    "--connect-timeout",
    "5000",
  ], { timeoutMs: (seconds + 30) * 1000 });
  if (r.timedOut) throw new Error(`iperf3 timed out`);
  // deno-lint-ignore no-explicit-any
  let j: any;
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new Error(`iperf3 exit ${r.code}: ${(r.stdout + r.stderr).slice(-300)}`);
  }
  if (j.error) throw new Error(`iperf3: ${j.error}`);
  return {
    streams,
    seconds,
    senderGbps: j.end.sum_sent.bits_per_second / 1e9,
    receiverGbps: j.end.sum_received.bits_per_second / 1e9,
    receivedBytes: j.end.sum_received.bytes,
    retransmits: j.end.sum_sent.retransmits ?? null,
  };
}

// ---------------------------------------------------------------- wrk (HTTP keep-alive)

export interface WrkResult {
  connections: number;
  threads: number;
  requests: number;
  seconds: number;
  reqPerSec: number;
  p50us: number;
  p90us: number;
  p99us: number;
  p999us: number;
  meanUs: number;
  errors: number;
  errorKinds: Record<string, number>;
  /** CPU seconds of the tunnel processes during the test (see withCpu). */
  cpu?: CpuSeconds | null;
}

export async function wrk(port: number, seconds: number, connections: number): Promise<WrkResult> {
  const threads = Math.min(connections, navigator.hardwareConcurrency);
  const r = await run("wrk", [
    `-t${threads}`,
    `-c${connections}`,
    `-d${seconds}s`,
    "--timeout",
    "5s",
    "-s",
    WRK_LUA,
    `http://127.0.0.1:${port}/`,
  ], { timeoutMs: (seconds + 30) * 1000 });
  if (r.timedOut) throw new Error("wrk timed out");
  const j = lastJson(r.stdout, "BENCH_JSON ") as Record<string, number>;
  const errorKinds = {
    connect: j.err_connect,
    read: j.err_read,
    write: j.err_write,
    status: j.err_status,
    timeout: j.err_timeout,
  };
  const secs = j.duration_us / 1e6;
  return {
    connections,
    threads,
    requests: j.requests,
    seconds: secs,
    reqPerSec: j.requests / secs,
    p50us: j.p50_us,
    p90us: j.p90_us,
    p99us: j.p99_us,
    p999us: j.p999_us,
    meanUs: j.mean_us,
    errors: Object.values(errorKinds).reduce((a, b) => a + b, 0),
    errorKinds,
  };
}

// ---------------------------------------------------------------- new connections per second

export interface ConnRateResult {
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  seconds: number;
  connPerSec: number;
  p50ms: number;
  p99ms: number;
  concurrency: number;
  /** CPU seconds of the tunnel processes during the test (see withCpu). */
  cpu?: CpuSeconds | null;
}

export async function connRate(port: number, seconds: number): Promise<ConnRateResult> {
  const [cmd, args] = denoTool("conn_rate.ts", [port, seconds, 16, 500_000]);
  const r = await run(cmd, args, { timeoutMs: (seconds + 60) * 1000 });
  if (r.timedOut) throw new Error("conn_rate timed out");
  return lastJson(r.stdout) as unknown as ConnRateResult;
}

// ---------------------------------------------------------------- many idle connections

export interface IdleResult {
  requested: number;
  open: number;
  errors: Record<string, number>;
  openSeconds: number;
  rssBeforeKiB: RssKiB | null;
  rssAfterKiB: RssKiB | null;
  rssAfterCloseKiB: RssKiB | null;
  serverKiBPerConn: number | null;
  clientKiBPerConn: number | null;
}

export async function idleConns(sys: RunningSystem, count: number): Promise<IdleResult> {
  const before = await sys.rss();
  const [cmd, args] = denoTool("idle_clients.ts", [sys.entry.tcp, count, 128, 180, 300]);
  const p = spawn("idle-clients", cmd, args, { stdin: "piped" });
  try {
    const line = await p.waitForLine((l) => l.includes('"ready":true'), 240_000);
    const ready = JSON.parse(line);
    await sleep(2000); // let the tunnel processes settle
    const after = await sys.rss();
    await p.closeStdin();
    await Promise.race([p.exited, sleep(30_000)]);
    await sleep(2000);
    const afterClose = await sys.rss();
    const per = (k: keyof RssKiB) =>
      before && after && ready.open > 0 ? (after[k] - before[k]) / ready.open : null;
    return {
      requested: count,
      open: ready.open,
      errors: ready.errors,
      openSeconds: ready.openSeconds,
      rssBeforeKiB: before,
      rssAfterKiB: after,
      rssAfterCloseKiB: afterClose,
      serverKiBPerConn: per("server"),
      clientKiBPerConn: per("client"),
    };
  } finally {
    await p.stop();
  }
}

// ---------------------------------------------------------------- slow reader

export interface SlowResult {
  bytes: number;
  requested: number;
  complete: boolean;
  seconds: number;
  MiBps: number;
  targetMiBps: number;
  error: string | null;
  rssBeforeKiB: RssKiB | null;
  peakRssKiB: RssKiB | null;
  samples: number;
}

export async function slowReader(
  sys: RunningSystem,
  bytes: number,
  rateMiB: number,
  limitS: number,
): Promise<SlowResult> {
  const before = await sys.rss();
  const peak: RssKiB | null = before ? { ...before } : null;
  let samples = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const now = await sys.rss();
      if (now && peak) {
        peak.server = Math.max(peak.server, now.server);
        peak.client = Math.max(peak.client, now.client);
        samples++;
      }
      await sleep(100);
    }
  })();
  try {
    const [cmd, args] = denoTool("slow_reader.ts", [sys.entry.tcp, bytes, rateMiB, 16384, limitS]);
    const r = await run(cmd, args, { timeoutMs: (limitS + 30) * 1000 });
    if (r.timedOut) throw new Error("slow_reader timed out");
    const j = lastJson(r.stdout) as Record<string, unknown>;
    return {
      ...(j as unknown as Omit<SlowResult, "rssBeforeKiB" | "peakRssKiB" | "samples">),
      rssBeforeKiB: before,
      peakRssKiB: peak,
      samples,
    };
  } finally {
    done = true;
    await sampler;
  }
}

// ---------------------------------------------------------------- AEAD ceiling

export interface AeadResult {
  concurrency: number;
  frameBytes: number;
  frames: number;
  seconds: number;
  MBps: number;
  Gbps: number;
  /** CPU seconds (all threads) per GiB encrypted and decrypted. */
  cpuSecondsPerGiB: number;
  /** The measurement at each call size (this result is the best one). */
  sizes?: Omit<AeadResult, "sizes" | "repeats" | "failedRepeats">[];
  /** Every measurement when it was repeated (this result is the median one by Gbit/s). */
  repeats?: Omit<AeadResult, "repeats" | "failedRepeats">[];
  /** Errors of measurements that failed while others succeeded. */
  failedRepeats?: string[];
}

/** Call sizes the AEAD ceiling is measured at: the best counts, so that larger records stay honest. */
export const AEAD_FRAME_SIZES = [64 * 1024, 1024 * 1024];

/** The AEAD ceiling: the best of {@linkcode AEAD_FRAME_SIZES}, `seconds` each; `sizes` keeps all. */
export async function aead(seconds: number): Promise<AeadResult> {
  const sizes: AeadResult[] = [];
  for (const frame of AEAD_FRAME_SIZES) {
    const [cmd, args] = denoTool("aead.ts", [seconds, frame]);
    const r = await run(cmd, args, { timeoutMs: (seconds + 30) * 1000, ulimit: false });
    if (r.code !== 0) throw new Error(`aead.ts exit ${r.code}: ${r.stdout.slice(-300)}`);
    sizes.push(lastJson(r.stdout) as unknown as AeadResult);
  }
  const best = sizes.reduce((a, b) => b.Gbps > a.Gbps ? b : a);
  return { ...best, sizes };
}

// ---------------------------------------------------------------- delay proxy

/**
 * Starts tools/delay_proxy.ts in front of 127.0.0.1:targetPort with `delayMs` one way; resolves
 * with the process and the port to connect to instead.
 */
export async function startDelayProxy(
  name: string,
  targetPort: number,
  delayMs: number,
): Promise<{ proc: Proc; port: number }> {
  const [cmd, args] = denoTool("delay_proxy.ts", [targetPort, delayMs]);
  const proc = spawn(name, cmd, args);
  try {
    const line = await proc.waitForLine((l) => /^listening \d+$/.test(l), 30_000);
    return { proc, port: Number(line.split(" ")[1]) };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/**
 * Runs `fn` while sampling the tunnel processes' RSS every 100 ms; returns its result with the
 * peak of each process (null for direct).
 */
export async function withPeakRss<T extends object>(
  sys: RunningSystem,
  fn: () => Promise<T>,
): Promise<T & { peakRssKiB: RssKiB | null }> {
  const first = await sys.rss();
  const peak: RssKiB | null = first ? { ...first } : null;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      const now = await sys.rss().catch(() => null);
      if (now && peak) {
        peak.server = Math.max(peak.server, now.server);
        peak.client = Math.max(peak.client, now.client);
      }
      await sleep(100);
    }
  })();
  try {
    return { ...(await fn()), peakRssKiB: peak };
  } finally {
    done = true;
    await sampler;
  }
}
