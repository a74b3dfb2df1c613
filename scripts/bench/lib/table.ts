// Turns the raw results into the markdown table printed on stdout (and stored in the JSON).

import type {
  AeadResult,
  ConnRateResult,
  IdleResult,
  IperfResult,
  SlowResult,
  WrkResult,
} from "./measure.ts";
import type { CpuSeconds } from "../systems/types.ts";

export type SystemId = "direct" | "ssh" | "wormhole";
export const SYSTEM_IDS: SystemId[] = ["direct", "ssh", "wormhole"];

export interface Results {
  iperf1: IperfResult;
  iperf8: IperfResult;
  http1: WrkResult;
  http64: WrkResult;
  connRate: ConnRateResult;
  idle: IdleResult;
  slow: SlowResult;
}
export type TestKey = keyof Results;

export interface SystemRun {
  id: SystemId;
  label: string;
  status: "ok" | "skipped" | "unavailable" | "error";
  reason?: string;
  info?: Record<string, unknown>;
  results: Partial<Results>;
  errors: Partial<Record<TestKey, string>>;
  /** Every run of the timed tests (`results` holds the median one). */
  repeats?: Partial<Record<TestKey, Results[TestKey][]>>;
  /** Errors of timed-test runs that failed while others of the same test may have succeeded. */
  failedRepeats?: Partial<Record<TestKey, string[]>>;
}

const MiB = 1024; // KiB per MiB

/** The run whose figure is the median (the lower middle one for an even count). */
export function medianRun<T>(runs: T[], figure: (r: T) => number): T {
  if (runs.length === 0) throw new RangeError("Cannot take the median of no runs");
  const sorted = [...runs].sort((a, b) => figure(a) - figure(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

interface RowSpec {
  label: string;
  test: TestKey;
  get: (r: Results[TestKey]) => number | null | undefined;
  digits: number;
  ratio: boolean;
  /** Extra text after the number (e.g. growth over the baseline). */
  extra?: (r: Results[TestKey]) => string;
}

/** One table row; `digits` decimals; `ratio: false` leaves the wormhole÷ssh cell empty. */
function row<K extends TestKey>(
  label: string,
  test: K,
  get: (r: Results[K]) => number | null | undefined,
  digits = 2,
  ratio = true,
  extra?: (r: Results[K]) => string,
): RowSpec {
  return {
    label,
    test,
    get: get as RowSpec["get"],
    digits,
    ratio,
    extra: extra as RowSpec["extra"],
  };
}

const growth = (r: SlowResult, k: "server" | "client") =>
  r.peakRssKiB && r.rssBeforeKiB
    ? ` (+${((r.peakRssKiB[k] - r.rssBeforeKiB[k]) / MiB).toFixed(1)})`
    : "";

/** CPU seconds of both tunnel processes during a test: null without a tunnel (or a failed
 * reading), undefined when not measured (results from before the bench measured CPU). */
const tunnelCpu = (r: { cpu?: CpuSeconds | null }) =>
  r.cpu === undefined ? undefined : r.cpu ? r.cpu.server + r.cpu.client : null;

/** Tunnel CPU seconds per GiB that reached the iperf3 receiver. */
const cpuPerGiB = (r: IperfResult) => {
  const cpu = tunnelCpu(r);
  const GiB = (r.receivedBytes ?? (r.receiverGbps * 1e9 * r.seconds) / 8) / 2 ** 30;
  return cpu === undefined ? undefined : cpu === null || GiB <= 0 ? null : cpu / GiB;
};

/** Tunnel CPU microseconds per unit of work (request, connection). */
const cpuPer = (r: { cpu?: CpuSeconds | null }, units: number) => {
  const cpu = tunnelCpu(r);
  return cpu === undefined ? undefined : cpu === null || units <= 0 ? null : (cpu * 1e6) / units;
};

const rows: RowSpec[] = [
  row("iperf3 1 stream, sender (Gbit/s) ↑", "iperf1", (r) => r.senderGbps),
  row("iperf3 1 stream, receiver (Gbit/s) ↑", "iperf1", (r) => r.receiverGbps),
  row("iperf3 1 stream, tunnel CPU (s/GiB) ↓", "iperf1", cpuPerGiB),
  row("iperf3 8 streams, sender (Gbit/s) ↑", "iperf8", (r) => r.senderGbps),
  row("iperf3 8 streams, receiver (Gbit/s) ↑", "iperf8", (r) => r.receiverGbps),
  row("iperf3 8 streams, tunnel CPU (s/GiB) ↓", "iperf8", cpuPerGiB),
  row("HTTP keep-alive, 1 conn, p50 (µs) ↓", "http1", (r) => r.p50us, 0),
  row("HTTP keep-alive, 1 conn, p99 (µs) ↓", "http1", (r) => r.p99us, 0),
  row("HTTP keep-alive, 1 conn (req/s) ↑", "http1", (r) => r.reqPerSec, 0),
  row("HTTP 1 conn, tunnel CPU (µs/req) ↓", "http1", (r) => cpuPer(r, r.requests), 0),
  row("HTTP keep-alive, 64 conns (req/s) ↑", "http64", (r) => r.reqPerSec, 0),
  row("HTTP 64 conns, errors ↓", "http64", (r) => r.errors, 0, false),
  row("HTTP 64 conns, tunnel CPU (µs/req) ↓", "http64", (r) => cpuPer(r, r.requests), 0),
  row("new connections (conn/s) ↑", "connRate", (r) => r.connPerSec, 0),
  row("new connections, errors ↓", "connRate", (r) => r.errors, 0, false),
  row("new connections, tunnel CPU (µs/conn) ↓", "connRate", (r) => cpuPer(r, r.ok), 0),
  row("idle conns established", "idle", (r) => r.open, 0, false),
  row("idle conns, time to open all (s) ↓", "idle", (r) => r.openSeconds, 1),
  row("idle conns, server (KiB/conn) ↓", "idle", (r) => r.serverKiBPerConn, 1),
  row("idle conns, client (KiB/conn) ↓", "idle", (r) => r.clientKiBPerConn, 1),
  row(
    "slow reader, server peak RSS (+growth) (MiB) ↓",
    "slow",
    (r) => r.peakRssKiB && r.peakRssKiB.server / MiB,
    1,
    true,
    (r) => growth(r, "server"),
  ),
  row(
    "slow reader, client peak RSS (+growth) (MiB) ↓",
    "slow",
    (r) => r.peakRssKiB && r.peakRssKiB.client / MiB,
    1,
    true,
    (r) => growth(r, "client"),
  ),
  row("slow reader, read rate (MiB/s)", "slow", (r) => r.MiBps, 1, false),
];

function fmt(n: number, digits: number): string {
  return n.toFixed(digits);
}

function cell(run: SystemRun, spec: RowSpec): { text: string; value: number | null } {
  if (run.status !== "ok") return { text: "–", value: null };
  if (run.errors[spec.test]) return { text: "error", value: null };
  const r = run.results[spec.test];
  if (!r) return { text: "–", value: null };
  const v = spec.get(r);
  if (v === undefined) return { text: "–", value: null }; // not measured
  if (v === null || Number.isNaN(v)) return { text: "n/a", value: null };
  return { text: fmt(v, spec.digits) + (spec.extra?.(r) ?? ""), value: v };
}

function statusText(run: SystemRun): string {
  switch (run.status) {
    case "ok":
      return "ok";
    case "skipped":
      return "not run";
    default: {
      const reason = (run.reason ?? "").replaceAll("|", "/").replaceAll("\n", " ");
      return `${run.status}: ${
        reason.length > 48 ? reason.slice(0, 47) + "… (see below)" : reason
      }`;
    }
  }
}

export interface Table {
  markdown: string;
  notes: string[];
}

export function buildTable(runs: Record<SystemId, SystemRun>, aeadRes: AeadResult | null): Table {
  const header = ["measurement", "direct", "ssh -R", "wormhole", "wormhole÷ssh"];
  const body: string[][] = [];
  body.push(["status", ...SYSTEM_IDS.map((id) => statusText(runs[id])), ""]);
  for (const spec of rows) {
    const cells = SYSTEM_IDS.map((id) => cell(runs[id], spec));
    const [, s, w] = cells;
    const ratio = spec.ratio && s.value && w.value !== null
      ? `${(w.value / s.value).toFixed(2)}×`
      : "";
    if (cells.every((c) => c.text === "–")) continue; // test not selected anywhere
    body.push([spec.label, ...cells.map((c) => c.text), ratio]);
  }
  if (aeadRes) {
    const ceiling = aeadRes.Gbps;
    body.push([
      `AEAD ceiling: AES-256-GCM enc+dec, best of 64 KiB and 1 MiB calls (here ${
        aeadRes.frameBytes >= 1 << 20
          ? `${aeadRes.frameBytes >> 20} MiB`
          : `${aeadRes.frameBytes >> 10} KiB`
      }), ${aeadRes.concurrency} in flight (Gbit/s)${
        aeadRes.repeats && aeadRes.repeats.length > 1 ? `, median of ${aeadRes.repeats.length}` : ""
      }`,
      "",
      "",
      fmt(ceiling, 2),
      "",
    ]);
    if (aeadRes.cpuSecondsPerGiB) {
      body.push([
        "AEAD ceiling, CPU to encrypt and decrypt (s/GiB)",
        "",
        "",
        fmt(aeadRes.cpuSecondsPerGiB, 2),
        "",
      ]);
    }
    const w = runs.wormhole;
    for (const [key, label] of [["iperf1", "1 stream"], ["iperf8", "8 streams"]] as const) {
      const r = w.status === "ok" ? w.results[key] : undefined;
      body.push([
        `wormhole iperf3 ${label} receiver ÷ AEAD ceiling`,
        "",
        "",
        r ? `${((r.receiverGbps / ceiling) * 100).toFixed(0)}%` : "–",
        "",
      ]);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ")} |`;
  const markdown = [
    line(header),
    `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : "-".repeat(w + 1) + ":")).join("|")}|`,
    ...body.map(line),
  ].join("\n");
  const notes: string[] = [];
  for (const id of SYSTEM_IDS) {
    const r = runs[id];
    if (r.status === "unavailable" || r.status === "error") {
      notes.push(`${r.label} ${r.status}: ${r.reason}`);
    }
    for (const [test, msg] of Object.entries(runs[id].errors)) {
      notes.push(`${runs[id].label} / ${test}: ${msg}`);
    }
    for (const [test, msgs] of Object.entries(runs[id].failedRepeats ?? {})) {
      if (runs[id].errors[test as TestKey]) continue;
      notes.push(`${runs[id].label} / ${test}: ${msgs.length} run(s) failed (${msgs.at(-1)})`);
    }
  }
  return { markdown, notes };
}
