/**
 * Where the server's memory goes under the chaos churn, in phases: a real
 * server and client a (the chaos rig), then PHASES rounds of CYCLES
 * reconnects of a library client and CONNS short tunnelled connections with
 * a transfer; after each round (and a settle) it samples the server's
 * /proc figures and, with `--inspect`, V8's before and after a full GC.
 * With `--trim` it ends by asking glibc for its statistics and to give free
 * memory back (`malloc_stats()`, `malloc_trim(0)` through gdb; client a is
 * trimmed too), which tells free memory the allocator keeps from memory
 * still in use.
 *
 * Usage: rss_phases.ts [--phases N] [--cycles N] [--conns N] [--mib N]
 *   [--settle S] [--inspect] [--trim] [--env K=V]... [--client-env K=V]...
 *
 * `--env` sets the server's environment, `--client-env` client a's; with
 * `--inspect` client a's garbage is collected too before it is sampled.
 *
 * Prints one JSON line per sample on stdout, progress on stderr.
 *
 * @module
 */

import { shortConnections, transfer } from "../load.ts";
import { Rig } from "../rig.ts";
import { sleep } from "../scenarios/context.ts";
import { WormholeClient } from "../../../src/client/mod.ts";
import { generateIdentity, type Identity } from "../../../src/crypto/mod.ts";
import { gdbCall, Inspector, memorySample } from "../memory.ts";

const flags = { phases: 4, cycles: 100, conns: 5000, mib: 64, settle: 12, inspect: false };
/** The key the cycler reconnects with in every round. */
let cycler: Identity | null = null;
let trim = false;
let snapshots = false;
const env: Record<string, string> = {};
const clientEnv: Record<string, string> = {};
for (let i = 0; i < Deno.args.length; i++) {
  const arg = Deno.args[i];
  if (arg === "--inspect") flags.inspect = true;
  else if (arg === "--trim") trim = true;
  else if (arg === "--snapshots") snapshots = true;
  else if (arg === "--env" || arg === "--client-env") {
    const [k, v] = Deno.args[++i].split("=");
    (arg === "--env" ? env : clientEnv)[k] = v;
  } else if (arg.startsWith("--") && arg.slice(2) in flags) {
    (flags as Record<string, unknown>)[arg.slice(2)] = Number(Deno.args[++i]);
  } else throw new Error(`Unknown argument "${arg}"`);
}

const log = (text: string) => console.error(`rss: ${text}`);
const dir = await Deno.makeTempDir({ prefix: "wormhole-rss-" });
const rig = new Rig(dir, { keepaliveMs: 1000, reconnectMaxMs: 1000 }, {
  env,
  clientEnv,
  inspect: flags.inspect,
});
let inspector: Inspector | null = null;
let clientInspector: Inspector | null = null;
try {
  const server = await rig.startServer();
  const a = rig.startClient("a");
  await rig.approve(a);
  if (flags.inspect) {
    inspector = await Inspector.open(rig.inspectorPort!);
    clientInspector = await Inspector.open(a.inspectorPort!);
  }
  const echo = (await rig.appPort("a", "echo"))!;
  const sink = (await rig.appPort("a", "sink"))!;

  let lastSummary: Map<string, { count: number; size: number }> | null = null;
  let lastClientSummary: Map<string, { count: number; size: number }> | null = null;
  const sample = async (phase: string) => {
    const before = await memorySample(server.pid);
    const v8 = inspector ? await inspector.v8(false) : {};
    const v8gc = inspector ? await inspector.v8(true) : {};
    const afterGc = inspector ? await memorySample(server.pid) : null;
    if (clientInspector) await clientInspector.v8(true);
    const client = await memorySample(a.process.pid);
    const clientMaps = JSON.stringify(mapMib(client.maps));
    if (snapshots && clientInspector) {
      const summary = await clientInspector.heapSummary();
      if (lastClientSummary) {
        log(`client heap grown since last: ${grown(summary, lastClientSummary)}`);
      }
      lastClientSummary = summary;
    }
    if (snapshots && inspector) {
      const summary = await inspector.heapSummary();
      if (lastSummary) log(`heap grown since last: ${grown(summary, lastSummary)}`);
      lastSummary = summary;
    }
    const line = { phase, server: before, v8, v8gc, afterGc, clientRss: client.rss, client };
    console.log(JSON.stringify(line));
    log(
      `${phase}: server rss ${mib(before.rss)} anon ${mib(before.anon)} brk ${mib(before.brk)} ` +
        `maps ${JSON.stringify(mapMib(before.maps))}` +
        (inspector
          ? ` | v8 total ${mib(v8.heapTotal)} used ${mib(v8.heapUsed)} ext ${mib(v8.external)}` +
            ` | after gc total ${mib(v8gc.heapTotal)} used ${mib(v8gc.heapUsed)} ext ${
              mib(v8gc.external)
            } rss ${mib(afterGc!.rss)}`
          : "") +
        ` | client rss ${mib(client.rss)} anon ${mib(client.anon)} maps ${clientMaps}`,
    );
  };

  await shortConnections(echo, 300);
  await transfer(sink, flags.mib, 120_000);
  await sleep(flags.settle * 1000);
  await sample("start");
  for (let phase = 1; phase <= flags.phases; phase++) {
    if (flags.cycles > 0) await cycle(rig, flags.cycles);
    const moving = transfer(sink, flags.mib, 120_000);
    const conns = await shortConnections(echo, flags.conns);
    const moved = await moving;
    if (conns.failures || !moved.exact) log(`phase ${phase}: ${JSON.stringify({ conns, moved })}`);
    await sleep(flags.settle * 1000);
    await sample(`phase ${phase}`);
  }
  if (trim) {
    server.rawStderr.length = 0;
    await gdbCall(server.pid, "(void)malloc_stats()");
    await sleep(500);
    log(`malloc_stats: ${server.rawStderr.filter((l) => !l.startsWith("Arena")).join(" / ")}`);
    console.log(JSON.stringify({ mallocStats: server.rawStderr }));
    log(`malloc_trim(0): ${await gdbCall(server.pid, "(int)malloc_trim(0)")}`);
    log(`client malloc_trim(0): ${await gdbCall(a.process.pid, "(int)malloc_trim(0)")}`);
    await sample("after malloc_trim(0)");
  }
} finally {
  await inspector?.close();
  await clientInspector?.close();
  await rig.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** The 25 kinds of heap object that grew most from `was` to `now`, as JSON. */
function grown(
  now: Map<string, { count: number; size: number }>,
  was: Map<string, { count: number; size: number }>,
): string {
  return JSON.stringify(
    [...now].map(([k, v]) => {
      const before = was.get(k) ?? { count: 0, size: 0 };
      return { k, count: v.count - before.count, size: v.size - before.size };
    }).sort((x, y) => y.size - x.size).slice(0, 25),
  );
}

/**
 * Connects and disconnects one library client `cycles` times: the same key
 * and name in every round (approved in the first), as the churn's cycler.
 */
async function cycle(rig: Rig, cycles: number): Promise<void> {
  const approve = cycler === null;
  const identity = cycler ??= await generateIdentity();
  const start = () => {
    const c = new WormholeClient({
      server: `ws://127.0.0.1:${rig.tunnelPort}/wh/tunnel`,
      name: "cycler",
      identity,
      apps: [{ name: "echo", host: "127.0.0.1", port: rig.echo.port }],
      keepaliveMs: 5000,
      reconnect: { minMs: 100, maxMs: 1000 },
    });
    c.start();
    return c;
  };
  let client = start();
  if (approve) await rig.approveAll([identity.fingerprint]);
  for (let i = 0; i <= cycles; i++) {
    await rig.waitFor("the cycler to connect", () => Promise.resolve(client.state === "connected"));
    await client.close();
    if (i < cycles) client = start();
  }
}

function mib(kib: number | undefined): string {
  return kib === undefined ? "?" : (kib / 1024).toFixed(1);
}

function mapMib(maps: Record<string, number>): Record<string, string> {
  return Object.fromEntries(Object.entries(maps).map(([k, v]) => [k, mib(v)]));
}
