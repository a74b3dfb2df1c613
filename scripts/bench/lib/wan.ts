// The WAN rows: ssh -R and wormhole with a delay proxy (tools/delay_proxy.ts) between the tunnel
// client and server, at several round-trip times. Per RTT both systems are started at once (each
// with its own proxy) and the tests interleave as in the LAN rows: run r of a test goes to each
// system in turn, the order rotating each round. Peak RSS of every tunnel process is sampled
// during each run. The slow reader runs once per system, on fresh processes, at its own RTT.

import * as m from "./measure.ts";
import { medianRun } from "./table.ts";
import { sleep } from "./proc.ts";
import type { BenchSystem, Ports, RssKiB, RunningSystem } from "../systems/types.ts";

export type WanSystemId = "ssh" | "wormhole";
export const WAN_SYSTEM_IDS: WanSystemId[] = ["ssh", "wormhole"];

export interface WanConfig {
  /** Round-trip times in ms (the proxy delays each direction by half). */
  rtts: number[];
  seconds: number;
  repeat: number;
  slowMiB: number;
  slowRate: number;
  slowLimitS: number;
  /** RTT of the slow-reader row. */
  slowRtt: number;
}

export type WanIperf = m.IperfResult & { peakRssKiB: RssKiB | null };

export interface WanSystemResult {
  status: "ok" | "error";
  reason?: string;
  /** Every run, by test. */
  runs: { iperf1: WanIperf[]; iperf4: WanIperf[] };
  failed: string[];
  /** The median runs (by receiver Gbit/s). */
  iperf1?: WanIperf;
  iperf4?: WanIperf;
  /** The largest RSS of each process over every run at this RTT. */
  peakRssKiB?: RssKiB | null;
}

export interface WanResults {
  config: WanConfig;
  /** iperf3 1 stream straight through a 0 ms delay proxy: the proxy's own ceiling. */
  proxyCeiling: { runs: m.IperfResult[]; median?: m.IperfResult; error?: string };
  byRtt: { rtt: number; systems: Partial<Record<WanSystemId, WanSystemResult>> }[];
  slow: Partial<Record<WanSystemId, { result?: m.SlowResult; error?: string }>>;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

const TESTS = [{ key: "iperf1", streams: 1 }, { key: "iperf4", streams: 4 }] as const;

/** Runs the WAN rows for `systems` against the upstreams. */
export async function runWan(
  cfg: WanConfig,
  upstream: Ports,
  systems: Partial<Record<WanSystemId, BenchSystem>>,
  log: (s: string) => void,
): Promise<WanResults> {
  const out: WanResults = { config: cfg, proxyCeiling: { runs: [] }, byRtt: [], slow: {} };
  const ids = WAN_SYSTEM_IDS.filter((id) => systems[id]);

  log(`WAN: delay proxy ceiling (0 ms, iperf3 1 stream, no tunnel)`);
  try {
    const proxy = await m.startDelayProxy("ceiling-delay", upstream.iperf, 0);
    try {
      for (let rep = 1; rep <= cfg.repeat; rep++) {
        out.proxyCeiling.runs.push(await m.iperf(proxy.port, cfg.seconds, 1));
        await sleep(1000);
      }
      out.proxyCeiling.median = medianRun(out.proxyCeiling.runs, (r) => r.receiverGbps);
    } finally {
      await proxy.proc.stop();
    }
  } catch (e) {
    out.proxyCeiling.error = errText(e);
    log(`WAN: delay proxy ceiling failed: ${errText(e)}`);
  }

  for (const rtt of cfg.rtts) {
    const row: WanResults["byRtt"][number] = { rtt, systems: {} };
    out.byRtt.push(row);
    const running = new Map<WanSystemId, RunningSystem>();
    try {
      for (const id of ids) {
        const result: WanSystemResult = {
          status: "ok",
          runs: { iperf1: [], iperf4: [] },
          failed: [],
        };
        row.systems[id] = result;
        log(`WAN ${rtt} ms: ${systems[id]!.label}: starting`);
        try {
          running.set(id, await systems[id]!.start(upstream, log, { delayMs: rtt / 2 }));
        } catch (e) {
          result.status = "error";
          result.reason = errText(e);
          log(`WAN ${rtt} ms: ${systems[id]!.label} could not start: ${errText(e)}`);
        }
      }
      for (let rep = 1; rep <= cfg.repeat; rep++) {
        for (const test of TESTS) {
          const order = [...running];
          for (let i = 0; i < (rep - 1) % Math.max(1, order.length); i++) {
            order.push(order.shift()!);
          }
          for (const [id, sys] of order) {
            const result = row.systems[id]!;
            log(
              `WAN ${rtt} ms: ${systems[id]!.label}: iperf3 ${test.streams} (${rep}/${cfg.repeat})`,
            );
            try {
              const run = await m.withPeakRss(
                sys,
                () => m.iperf(sys.entry.iperf, cfg.seconds, test.streams),
              );
              result.runs[test.key].push(run);
            } catch (e) {
              result.failed.push(`${test.key}: ${errText(e)}`);
              log(`WAN ${rtt} ms: ${systems[id]!.label}: failed: ${errText(e)}`);
            }
            await sleep(1000);
          }
        }
      }
    } finally {
      for (const sys of running.values()) await sys.stop();
    }
    for (const result of Object.values(row.systems)) {
      for (const test of TESTS) {
        const runs = result.runs[test.key];
        if (runs.length > 0) result[test.key] = medianRun(runs, (r) => r.receiverGbps);
      }
      const all = [...result.runs.iperf1, ...result.runs.iperf4].map((r) => r.peakRssKiB);
      result.peakRssKiB = all.reduce<RssKiB | null>(
        (peak, r) =>
          r
            ? {
              server: Math.max(peak?.server ?? 0, r.server),
              client: Math.max(peak?.client ?? 0, r.client),
            }
            : peak,
        null,
      );
    }
  }

  const bytes = Math.floor(cfg.slowMiB * 1024 * 1024);
  for (const id of ids) {
    const label = systems[id]!.label;
    log(`WAN ${cfg.slowRtt} ms: ${label}: slow reader ${cfg.slowMiB} MiB at ${cfg.slowRate} MiB/s`);
    try {
      const sys = await systems[id]!.start(upstream, log, { delayMs: cfg.slowRtt / 2 });
      try {
        out.slow[id] = { result: await m.slowReader(sys, bytes, cfg.slowRate, cfg.slowLimitS) };
      } finally {
        await sys.stop();
      }
    } catch (e) {
      out.slow[id] = { error: errText(e) };
      log(`WAN: ${label}: slow reader failed: ${errText(e)}`);
    }
    await sleep(1000);
  }
  return out;
}

const MiB = 1024;
const fmt = (n: number | null | undefined, digits: number) =>
  n === null || n === undefined || !Number.isFinite(n) ? "–" : n.toFixed(digits);
const rssCell = (r: RssKiB | null | undefined) =>
  r ? `${fmt(r.server / MiB, 0)} / ${fmt(r.client / MiB, 0)}` : "–";

/** The WAN table (markdown) and notes on runs that failed. */
export function wanTable(w: WanResults): { markdown: string; notes: string[] } {
  const notes: string[] = [];
  const lines = [
    "| WAN: delay proxy between tunnel client and server | ssh -R | wormhole | wormhole÷ssh |",
    "| ------------------------------------------------- | -----: | -------: | -----------: |",
  ];
  const ratio = (a?: number, b?: number) => a && b ? `${(a / b).toFixed(2)}×` : "";
  for (const row of w.byRtt) {
    const ssh = row.systems.ssh;
    const wh = row.systems.wormhole;
    for (const system of [ssh, wh]) {
      if (system?.status === "error") {
        notes.push(`RTT ${row.rtt} ms: could not start: ${system.reason}`);
      }
      for (const f of system?.failed ?? []) notes.push(`RTT ${row.rtt} ms: ${f}`);
    }
    for (const test of TESTS) {
      const a = ssh?.[test.key]?.receiverGbps;
      const b = wh?.[test.key]?.receiverGbps;
      lines.push(
        `| RTT ${row.rtt} ms: iperf3 ${test.streams} stream${
          test.streams > 1 ? "s" : ""
        }, Gbit/s ↑ | ${fmt(a, 3)} | ${fmt(b, 3)} | ${ratio(b, a)} |`,
      );
    }
    lines.push(
      `| RTT ${row.rtt} ms: peak RSS server / client, MiB ↓ | ${rssCell(ssh?.peakRssKiB)} | ${
        rssCell(wh?.peakRssKiB)
      } | |`,
    );
  }
  const slowCell = (id: WanSystemId) => {
    const s = w.slow[id];
    if (!s?.result) return s?.error ? "failed" : "–";
    const r = s.result;
    return `${fmt(r.MiBps, 1)} MiB/s${r.complete ? "" : " (incomplete)"}, ${rssCell(r.peakRssKiB)}`;
  };
  for (const id of WAN_SYSTEM_IDS) {
    if (w.slow[id]?.error) notes.push(`slow reader (${id}): ${w.slow[id]!.error}`);
  }
  lines.push(
    `| RTT ${w.config.slowRtt} ms: slow reader ${w.config.slowMiB} MiB at ${w.config.slowRate} MiB/s: rate, peak RSS server / client MiB | ${
      slowCell("ssh")
    } | ${slowCell("wormhole")} | |`,
  );
  const ceiling = w.proxyCeiling.median?.receiverGbps;
  lines.push(
    `| delay proxy alone at 0 ms (iperf3 1 stream, no tunnel), Gbit/s | ${fmt(ceiling, 3)} | | |`,
  );
  if (w.proxyCeiling.error) notes.push(`delay proxy ceiling: ${w.proxyCeiling.error}`);
  return { markdown: lines.join("\n"), notes };
}
