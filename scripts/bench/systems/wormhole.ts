// "wormhole": the project's own server + client processes (mod.ts CLI).
//
// CLI contract this module codes against (adjust here if the CLI changes):
//   server: mod.ts server --host 127.0.0.1 --port 0 --admin-port 0 --listen-host 127.0.0.1
//                  --acceptor dummy --log-format json --state-dir DIR
//     logs JSON lines (stderr or stdout); {"msg":"tunnel listening","url":"ws://..."} and
//     {"msg":"admin listening","url":"http://..."}
//   client: mod.ts client --server WS_URL --name bench --expose NAME=127.0.0.1:PORT (repeated)
//                  --log-format json --state-dir DIR
//   GET {admin}/v1/apps -> [{"app":"iperf","endpoint":"127.0.0.1:PORT","peer":"bench"}, ...]
// Anything that does not work out is reported as Unavailable (the bench goes on without it).

import {
  makeTempDir,
  type Proc,
  removeTempDir,
  sleep,
  spawn,
  treeCpuSeconds,
  treeRssKiB,
} from "../lib/proc.ts";
import { waitForPort } from "../lib/net.ts";
import {
  loopbackServerArgs,
  PERMISSIONS,
  RUNTIME_ENV,
  V8_FLAGS,
} from "../../lib/wormhole_process.ts";
import { startDelayProxy } from "../lib/measure.ts";
import { type BenchSystem, type Ports, Unavailable } from "./types.ts";

// BENCH_WORMHOLE_MOD: benchmark another checkout's mod.ts (default: this repository's).
const MOD = Deno.env.get("BENCH_WORMHOLE_MOD") ??
  new URL("../../../mod.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;
// Run as every other way of running wormhole does (V8 flags and permissions);
// BENCH_V8_FLAGS=--flag,--flag replaces the V8 flags.
const RUN_FLAGS = Deno.env.has("BENCH_V8_FLAGS")
  ? PERMISSIONS.map((f) => f === V8_FLAGS ? `--v8-flags=${Deno.env.get("BENCH_V8_FLAGS")}` : f)
  : PERMISSIONS;
// The environment every way of running wormhole sets; BENCH_RUNTIME_ENV="NAME=VALUE …" adds to or
// replaces it (MALLOC_ARENA_MAX=0 is glibc's default), for experiments.
const RUN_ENV: Record<string, string> = {
  ...RUNTIME_ENV,
  ...Object.fromEntries(
    (Deno.env.get("BENCH_RUNTIME_ENV") ?? "").split(/\s+/).filter(Boolean).map((pair) => {
      const eq = pair.indexOf("=");
      return eq > 0 ? [pair.slice(0, eq), pair.slice(eq + 1)] : [pair, ""];
    }),
  ),
};
const APPS = ["iperf", "http", "tcp"] as const;
// BENCH_WORMHOLE_ARGS="--flag value …": extra flags for both server and client, for experiments.
const EXTRA_ARGS = (Deno.env.get("BENCH_WORMHOLE_ARGS") ?? "").split(/\s+/).filter(Boolean);

function jsonLine(line: string): Record<string, unknown> | null {
  const i = line.indexOf("{");
  if (i < 0) return null;
  try {
    const v = JSON.parse(line.slice(i));
    return v && typeof v === "object" ? v as Record<string, unknown> : null;
  } catch {
    return null;
  }
}

/** Wait for the JSON log line with the given "msg" and return its "url". */
async function loggedUrl(p: Proc, msg: string): Promise<string> {
  const line = await p.waitForLine((l) => {
    const j = jsonLine(l);
    return j?.msg === msg && typeof j.url === "string";
  }, START_TIMEOUT_MS);
  return jsonLine(line)!.url as string;
}

interface AppRow {
  app: string;
  endpoint: string;
  peer?: string;
}

async function pollApps(admin: string, client: Proc): Promise<Map<string, number>> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last = "no answer yet";
  while (Date.now() < deadline) {
    if (!client.alive) throw new Error(`client exited (code ${client.status?.code})`);
    try {
      const res = await fetch(new URL("/v1/apps", admin), { signal: AbortSignal.timeout(2000) });
      const body = await res.text();
      last = `HTTP ${res.status} ${body.slice(0, 200)}`;
      if (res.ok) {
        const rows = JSON.parse(body) as AppRow[];
        const ports = new Map<string, number>();
        for (const r of rows) {
          const m = typeof r.endpoint === "string" ? r.endpoint.match(/:(\d+)$/) : null;
          if (m && (r.peer === undefined || r.peer === "bench")) ports.set(r.app, Number(m[1]));
        }
        if (APPS.every((a) => ports.has(a))) return ports;
      }
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(200);
  }
  throw new Error(`apps did not all appear in ${admin}/v1/apps (last: ${last})`);
}

export const wormhole: BenchSystem = {
  id: "wormhole",
  label: "wormhole",
  async start(upstream: Ports, log, options = {}) {
    if (!(await Deno.stat(MOD).then(() => true, () => false))) {
      throw new Unavailable(`${MOD} not found`);
    }
    const dir = await makeTempDir("wormhole");
    const procs: Proc[] = [];
    const stop = async () => {
      for (const p of [...procs].reverse()) await p.stop();
      await removeTempDir(dir);
    };
    const deno = Deno.execPath();
    try {
      await Deno.mkdir(`${dir}/server`);
      await Deno.mkdir(`${dir}/client`);
      const server = spawn("wormhole-server", deno, [
        "run",
        ...RUN_FLAGS,
        MOD,
        ...loopbackServerArgs(`${dir}/server`, [
          "--listen-host",
          "127.0.0.1",
          "--acceptor",
          "dummy",
          ...EXTRA_ARGS,
        ]),
      ], { env: RUN_ENV });
      procs.push(server);
      const [wsUrl, adminUrl] = await Promise.all([
        loggedUrl(server, "tunnel listening"),
        loggedUrl(server, "admin listening"),
      ]);
      log(`wormhole server: tunnel ${wsUrl}, admin ${adminUrl}`);
      let dialUrl = wsUrl;
      if (options.delayMs !== undefined) {
        const url = new URL(wsUrl);
        const proxy = await startDelayProxy("wormhole-delay", Number(url.port), options.delayMs);
        procs.push(proxy.proc);
        url.port = String(proxy.port);
        dialUrl = url.href;
        log(`wormhole: client dials through a delay proxy (${options.delayMs} ms each way)`);
      }

      const exposes = APPS.flatMap((a) => ["--expose", `${a}=127.0.0.1:${upstream[a]}`]);
      const client = spawn("wormhole-client", deno, [
        "run",
        ...RUN_FLAGS,
        MOD,
        "client",
        "--server",
        dialUrl,
        "--name",
        "bench",
        ...exposes,
        "--log-format",
        "json",
        "--state-dir",
        `${dir}/client`,
        ...EXTRA_ARGS,
      ], { env: RUN_ENV });
      procs.push(client);
      const ports = await pollApps(adminUrl, client);
      const entry: Ports = {
        iperf: ports.get("iperf")!,
        http: ports.get("http")!,
        tcp: ports.get("tcp")!,
      };
      // (not probing the iperf entry: a stray connection would upset the iperf3 server)
      await waitForPort(entry.http, 10_000, () => client.alive);
      await waitForPort(entry.tcp, 10_000, () => client.alive);
      return {
        entry,
        rss: async () => ({
          server: await treeRssKiB([server.pid]),
          client: await treeRssKiB([client.pid]),
        }),
        cpu: async () => ({
          server: await treeCpuSeconds([server.pid]),
          client: await treeCpuSeconds([client.pid]),
        }),
        info: { mod: MOD, tunnelUrl: wsUrl, adminUrl, entry, delayMs: options.delayMs },
        stop,
      };
    } catch (e) {
      const tails = procs.map((p) => `${p.name}: ${p.tail(2)}`).join("; ");
      await stop();
      const msg = e instanceof Error ? e.message : String(e);
      throw new Unavailable(`${msg}${tails ? ` [${tails}]` : ""}`.slice(0, 400));
    }
  },
};
