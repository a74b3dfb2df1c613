// wormhole benchmark harness: `deno task bench [flags]` (see scripts/bench/README.md).
// Compares direct TCP, ssh -R and wormhole on loopback; prints a markdown table on stdout and
// writes bench/results/latest.json. Progress goes to stderr.

import { ensureTools, type Tool, TOOLS } from "./lib/deps.ts";
import { machineInfo } from "./lib/machine.ts";
import * as m from "./lib/measure.ts";
import { cleanupAll, type Proc, sleep, spawn } from "./lib/proc.ts";
import { freePort } from "./lib/net.ts";
import {
  buildTable,
  medianRun,
  type Results,
  SYSTEM_IDS,
  type SystemId,
  type SystemRun,
  type TestKey,
} from "./lib/table.ts";
import type { BenchSystem, Ports, RunningSystem } from "./systems/types.ts";
import { direct } from "./systems/direct.ts";
import { ssh } from "./systems/ssh.ts";
import { wormhole } from "./systems/wormhole.ts";
import { runWan, type WanResults, wanTable } from "./lib/wan.ts";

const SYSTEMS: Record<SystemId, BenchSystem> = { direct, ssh, wormhole };
const TESTS = ["idle", "iperf", "http", "connrate", "slow", "aead", "wan"] as const;
const WAN_RTTS = [10, 50, 100];
const WAN_SLOW_RTT = 50;
type TestName = typeof TESTS[number];

const USAGE = `usage: deno task bench [flags]
  --quick               short run: 3 s per timed test, 256 MiB slow read, 2 s AEAD
  --only LIST           systems, comma-separated: direct,ssh,wormhole (default: all)
  --tests LIST          ${TESTS.join(",")} (default: all)
  --rtts LIST           WAN round-trip times in ms (default ${WAN_RTTS.join(",")})
  --wan                 only the WAN rows (= --tests wan): ssh -R and wormhole through a delay
                        proxy at RTT ${
  WAN_RTTS.join(", ")
} ms, and a slow reader at ${WAN_SLOW_RTT} ms
  --seconds N           duration of each iperf3 / wrk / new-connection test (default 10)
  --conns N             idle connections to open (default 10000)
  --slow-mib N          slow-reader transfer size in MiB (default 1024)
  --slow-rate N         slow-reader pace in MiB/s (default 32)
  --repeat N            runs of each timed test per system, interleaved; the table shows the
                        median run, so an odd N is best (default 3, --quick 1)
  --aead-seconds N      AEAD ceiling measuring time (default 5)
  --out PATH            results file (default bench/results/latest.json, --wan: wan-latest.json;
                        "-" for none)
  --no-install          fail instead of apt-get installing missing tools
  -h, --help            this text`;

interface Config {
  quick: boolean;
  only: SystemId[];
  tests: TestName[];
  seconds: number;
  repeat: number;
  conns: number;
  slowMiB: number;
  slowRate: number;
  slowLimitS: number;
  aeadSeconds: number;
  out: string | null;
  install: boolean;
  rtts: number[];
}

function parseArgs(argv: string[]): Config {
  const quick = argv.includes("--quick");
  const cfg: Config = {
    quick,
    only: [...SYSTEM_IDS],
    tests: [...TESTS],
    seconds: quick ? 3 : 10,
    repeat: quick ? 1 : 3,
    conns: 10_000,
    slowMiB: quick ? 256 : 1024,
    slowRate: 32,
    slowLimitS: 60,
    aeadSeconds: quick ? 2 : 5,
    out: new URL("../../bench/results/latest.json", import.meta.url).pathname,
    install: true,
    rtts: WAN_RTTS,
  };
  const list = <T extends string>(v: string, allowed: readonly T[], flag: string): T[] => {
    const items = v.split(",").map((s) => s.trim()).filter(Boolean);
    for (const i of items) {
      if (!allowed.includes(i as T)) throw new Error(`${flag}: unknown "${i}" (${allowed})`);
    }
    return items as T[];
  };
  const num = (v: string, flag: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag}: expected a positive number`);
    return n;
  };
  let outGiven = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const [flag, inline] = a.includes("=")
      ? [a.slice(0, a.indexOf("=")), a.slice(a.indexOf("=") + 1)]
      : [a, undefined];
    const val = () => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        break;
      case "--wan":
        cfg.tests = ["wan"];
        break;
      case "--rtts":
        cfg.rtts = val().split(",").map((v) => {
          const n = Number(v);
          if (!(n >= 0)) throw new Error(`${flag}: expected numbers ≥ 0`);
          return n;
        });
        break;
      case "--only":
        cfg.only = list(val(), SYSTEM_IDS, flag);
        break;
      case "--tests":
        cfg.tests = list(val(), TESTS, flag);
        break;
      case "--seconds":
        cfg.seconds = num(val(), flag);
        break;
      case "--repeat": {
        const n = num(val(), flag);
        if (!Number.isInteger(n)) throw new Error(`${flag}: expected a whole number`);
        cfg.repeat = n;
        break;
      }
      case "--conns":
        cfg.conns = Math.floor(num(val(), flag));
        break;
      case "--slow-mib":
        cfg.slowMiB = num(val(), flag);
        break;
      case "--slow-rate":
        cfg.slowRate = num(val(), flag);
        break;
      case "--aead-seconds":
        cfg.aeadSeconds = num(val(), flag);
        break;
      case "--out": {
        outGiven = true;
        const v = val();
        cfg.out = v === "-" ? null : v.startsWith("/") ? v : `${Deno.cwd()}/${v}`;
        break;
      }
      case "--no-install":
        cfg.install = false;
        break;
      case "-h":
      case "--help":
        console.log(USAGE);
        Deno.exit(0);
        break;
      default:
        throw new Error(`unknown flag ${a}\n${USAGE}`);
    }
  }
  // A WAN-only run keeps its own file, so that it does not replace the LAN results.
  if (!outGiven && cfg.tests.length === 1 && cfg.tests[0] === "wan") {
    cfg.out = new URL("../../bench/results/wan-latest.json", import.meta.url).pathname;
  }
  return cfg;
}

const log = (s: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}`);
const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function startUpstreams(): Promise<{ ports: Ports; procs: Proc[] }> {
  const procs: Proc[] = [];
  const iperfPort = freePort();
  const iperf = spawn("iperf3-server", "iperf3", [
    "-s",
    "-B",
    "127.0.0.1",
    "-p",
    String(iperfPort),
    "--forceflush", // its stdout is a pipe: without this the "listening" line never arrives
  ]);
  procs.push(iperf);
  const [hc, ha] = m.denoTool("http_upstream.ts", []);
  const http = spawn("http-upstream", hc, ha);
  procs.push(http);
  const [tc, ta] = m.denoTool("tcp_upstream.ts", []);
  const tcp = spawn("tcp-upstream", tc, ta);
  procs.push(tcp);
  const portOf = async (p: Proc) =>
    Number((await p.waitForLine((l) => /^listening \d+$/.test(l), 30_000)).split(" ")[1]);
  await iperf.waitForLine((l) => l.includes("Server listening"), 10_000);
  return { ports: { iperf: iperfPort, http: await portOf(http), tcp: await portOf(tcp) }, procs };
}

/**
 * Starts `sys` for `what` and records it in `out`: status "ok" and its info, or, if it never
 * started before, why not ("unavailable" or "error").
 */
async function startSystem(
  sys: BenchSystem,
  upstream: Ports,
  out: SystemRun,
  what: string,
): Promise<{ running: RunningSystem } | { error: string }> {
  log(`${sys.label}: starting (for ${what})`);
  try {
    const running = await sys.start(upstream, log);
    out.status = "ok";
    out.info ??= running.info;
    return { running };
  } catch (e) {
    log(`${sys.label}: could not start: ${errText(e)}`);
    if (out.status !== "ok") {
      out.status = e instanceof Error && e.name === "Unavailable" ? "unavailable" : "error";
      out.reason = errText(e);
    }
    return { error: errText(e) };
  }
}

/** The timed tests, in the order they run, and the figure that picks the median run. */
const TIMED: {
  key: "iperf1" | "iperf8" | "http1" | "http64" | "connRate";
  test: TestName;
  what: string;
  run: (entry: Ports, seconds: number) => Promise<Results[TestKey]>;
  /** The figure the median run is chosen by (sorted ascending; p50 for wrk with 1 connection). */
  figure: (r: Results[TestKey]) => number;
}[] = [
  {
    key: "iperf1",
    test: "iperf",
    what: "iperf3 1 stream",
    run: (e, s) => m.iperf(e.iperf, s, 1),
    figure: (r) => (r as m.IperfResult).receiverGbps,
  },
  {
    key: "iperf8",
    test: "iperf",
    what: "iperf3 8 streams",
    run: (e, s) => m.iperf(e.iperf, s, 8),
    figure: (r) => (r as m.IperfResult).receiverGbps,
  },
  {
    key: "http1",
    test: "http",
    what: "wrk 1 connection",
    run: (e, s) => m.wrk(e.http, s, 1),
    figure: (r) => (r as m.WrkResult).p50us,
  },
  {
    key: "http64",
    test: "http",
    what: "wrk 64 connections",
    run: (e, s) => m.wrk(e.http, s, 64),
    figure: (r) => (r as m.WrkResult).reqPerSec,
  },
  {
    key: "connRate",
    test: "connrate",
    what: "new connections",
    run: (e, s) => m.connRate(e.http, s),
    figure: (r) => (r as m.ConnRateResult).connPerSec,
  },
];

/**
 * Runs the timed tests (iperf3, wrk, new connections) with every selected system started at
 * once, interleaved: repeat r of test t runs on each system in turn (the order rotating each
 * round) before the next test, so that the machine's drift over the run (±15–30 % here) affects
 * every system alike. Each
 * system's table figure is its median run; all runs are kept in the JSON (`repeats`).
 */
async function runTraffic(
  ids: SystemId[],
  upstream: Ports,
  cfg: Config,
  out: Record<SystemId, SystemRun>,
  eachRound: (rep: number) => Promise<void>,
) {
  const tests = TIMED.filter((t) => cfg.tests.includes(t.test));
  if (tests.length === 0) {
    for (let rep = 1; rep <= cfg.repeat; rep++) await eachRound(rep);
    return;
  }
  const running = new Map<SystemId, RunningSystem>();
  try {
    for (const id of ids) {
      const started = await startSystem(SYSTEMS[id], upstream, out[id], "the timed tests");
      if ("running" in started) running.set(id, started.running);
    }
    for (let rep = 1; rep <= cfg.repeat; rep++) {
      await eachRound(rep);
      for (const t of tests) {
        // The order rotates each round, so that no system always runs right after another's
        // load (sockets in TIME_WAIT, a warm or cold cache).
        const order = [...running];
        for (let i = 0; i < (rep - 1) % Math.max(1, order.length); i++) order.push(order.shift()!);
        for (const [id, r] of order) {
          const run = out[id];
          log(`${run.label}: ${t.what} (${rep}/${cfg.repeat})`);
          try {
            const result = await m.withCpu(r, () => t.run(r.entry, cfg.seconds));
            ((run.repeats ??= {})[t.key] ??= []).push(result);
          } catch (e) {
            ((run.failedRepeats ??= {})[t.key] ??= []).push(errText(e));
            log(`${run.label}: ${t.what} failed: ${errText(e)}`);
          }
          await sleep(1000); // let sockets settle between measurements
        }
      }
    }
  } finally {
    for (const r of running.values()) await r.stop();
  }
  for (const id of running.keys()) {
    const run = out[id];
    for (const t of tests) {
      const done = run.repeats?.[t.key] ?? [];
      if (done.length > 0) {
        // deno-lint-ignore no-explicit-any
        (run.results as any)[t.key] = medianRun(done, t.figure);
      } else {
        run.errors[t.key] = run.failedRepeats?.[t.key]?.at(-1) ?? "no run";
      }
    }
  }
}

/**
 * Runs the memory tests against one system. The RSS measurements (idle connections, slow
 * reader) each get freshly started tunnel processes, so that memory kept by an earlier test does
 * not hide (or inflate) what the test costs.
 */
async function runSystem(sys: BenchSystem, upstream: Ports, cfg: Config, out: SystemRun) {
  const has = (t: TestName) => cfg.tests.includes(t);
  const phases: { name: string; keys: TestKey[]; run: (r: RunningSystem) => Promise<void> }[] = [];
  const step = async <K extends TestKey>(key: K, what: string, fn: () => Promise<Results[K]>) => {
    log(`${sys.label}: ${what}`);
    try {
      out.results[key] = await fn();
    } catch (e) {
      out.errors[key] = errText(e);
      log(`${sys.label}: ${what} failed: ${errText(e)}`);
    }
    await sleep(1000); // let sockets settle between measurements
  };
  if (has("idle")) {
    phases.push({
      name: "idle",
      keys: ["idle"],
      run: (r) => step("idle", `${cfg.conns} idle connections`, () => m.idleConns(r, cfg.conns)),
    });
  }
  if (has("slow")) {
    const bytes = Math.floor(cfg.slowMiB * 1024 * 1024);
    phases.push({
      name: "slow",
      keys: ["slow"],
      run: (r) =>
        step(
          "slow",
          `slow reader ${cfg.slowMiB} MiB at ${cfg.slowRate} MiB/s`,
          () => m.slowReader(r, bytes, cfg.slowRate, cfg.slowLimitS),
        ),
    });
  }
  for (const phase of phases) {
    const started = await startSystem(sys, upstream, out, phase.name);
    if (!("running" in started)) {
      if (out.status !== "ok") return;
      // it did start for an earlier phase: keep those results, mark this phase's tests
      for (const k of phase.keys) out.errors[k] = `could not start: ${started.error}`;
      continue;
    }
    const running = started.running;
    try {
      await phase.run(running);
    } finally {
      await running.stop();
    }
  }
}

async function main(): Promise<number> {
  const cfg = parseArgs(Deno.args);
  const startedAt = new Date();
  const runs = Object.fromEntries(SYSTEM_IDS.map((id) => [id, {
    id,
    label: SYSTEMS[id].label,
    status: "skipped",
    results: {},
    errors: {},
  } as SystemRun])) as Record<SystemId, SystemRun>;
  let aeadRes: m.AeadResult | null = null;
  let aeadError: string | null = null;
  let machine: Awaited<ReturnType<typeof machineInfo>> | null = null;
  let upstreamPorts: Ports | null = null;
  let wan: WanResults | null = null;
  let fatal: string | null = null;

  const onSignal = async () => {
    log("interrupted: stopping every process started by the bench");
    await cleanupAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  try {
    const needed: Tool[] = [];
    if (cfg.tests.includes("iperf") || cfg.tests.includes("wan")) needed.push(TOOLS.iperf3);
    if (cfg.tests.includes("http")) needed.push(TOOLS.wrk);
    if (cfg.only.includes("ssh")) needed.push(TOOLS.ssh, TOOLS.sshKeygen, TOOLS.sshd);
    await ensureTools(needed, cfg.install, log);
    machine = await machineInfo();
    log(`machine: ${machine.cores} cores, ${machine.cpuModel}, kernel ${machine.kernel}`);

    // The AEAD ceiling is measured once per round of the timed tests, at the same times as
    // they run (the machine drifts), and its median is the table's ceiling.
    const aeadRuns: m.AeadResult[] = [];
    const aeadFailures: string[] = [];
    const aeadRound = async (rep: number) => {
      if (!cfg.tests.includes("aead")) return;
      log(`AEAD ceiling (${cfg.aeadSeconds} s) (${rep}/${cfg.repeat})`);
      try {
        aeadRuns.push(await m.aead(cfg.aeadSeconds));
      } catch (e) {
        aeadFailures.push(errText(e));
        log(`AEAD ceiling failed: ${errText(e)}`);
      }
    };

    const up = await startUpstreams();
    upstreamPorts = up.ports;
    log(`upstreams: ${JSON.stringify(up.ports)}`);
    try {
      const ids = SYSTEM_IDS.filter((id) => cfg.only.includes(id));
      await runTraffic(ids, up.ports, cfg, runs, aeadRound);
      if (aeadRuns.length > 0) {
        aeadRes = { ...medianRun(aeadRuns, (r) => r.Gbps), repeats: aeadRuns };
        if (aeadFailures.length > 0) {
          aeadRes.failedRepeats = aeadFailures;
          aeadError = `${aeadFailures.length} run(s) failed (${aeadFailures.at(-1)})`;
        }
      } else if (aeadFailures.length > 0) {
        aeadError = aeadFailures.at(-1)!;
      }
      for (const id of ids) {
        if (runs[id].status === "unavailable" || runs[id].status === "error") continue;
        await runSystem(SYSTEMS[id], up.ports, cfg, runs[id]);
      }
      if (cfg.tests.includes("wan")) {
        wan = await runWan(
          {
            rtts: cfg.rtts,
            seconds: cfg.seconds,
            repeat: cfg.repeat,
            slowMiB: cfg.slowMiB,
            slowRate: cfg.slowRate,
            slowLimitS: cfg.slowLimitS,
            slowRtt: WAN_SLOW_RTT,
          },
          up.ports,
          {
            ssh: ids.includes("ssh") ? SYSTEMS.ssh : undefined,
            wormhole: ids.includes("wormhole") ? SYSTEMS.wormhole : undefined,
          },
          log,
        );
      }
    } finally {
      for (const p of up.procs) await p.stop();
    }
  } catch (e) {
    fatal = errText(e);
    log(`fatal: ${fatal}`);
  } finally {
    await cleanupAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }

  const lan = cfg.tests.some((t) => t !== "wan");
  const table = buildTable(runs, aeadRes);
  const wanOut = wan ? wanTable(wan) : null;
  const notes = lan ? [...table.notes] : [];
  if (wanOut) notes.push(...wanOut.notes);
  if (aeadError) notes.push(`AEAD ceiling: ${aeadError}`);
  if (fatal) notes.push(`fatal: ${fatal}`);
  if (lan) console.log(table.markdown);
  if (wanOut) console.log((lan ? "\n" : "") + wanOut.markdown);
  if (notes.length) console.log("\n" + notes.map((n) => `- ${n}`).join("\n"));

  if (cfg.out) {
    const record = {
      date: startedAt.toISOString(),
      finished: new Date().toISOString(),
      machine,
      config: cfg,
      upstreamPorts,
      aead: aeadRes,
      aeadError,
      systems: runs,
      wan,
      fatal,
      notes,
      table: lan ? table.markdown : null,
      wanTable: wanOut?.markdown ?? null,
    };
    await Deno.mkdir(cfg.out.slice(0, cfg.out.lastIndexOf("/")) || "/", { recursive: true });
    await Deno.writeTextFile(cfg.out, JSON.stringify(record, null, 2) + "\n");
    log(`wrote ${cfg.out}`);
  }
  return fatal ? 1 : 0;
}

Deno.exit(await main());
