/**
 * `deno task chaos [--long] [--json] [--out PATH] [--only LIST] [--client-env NAME=VALUE]`: real
 * wormhole processes on 127.0.0.1 under faults and floods, measured against
 * the product's documented promises. Prints a table of named pass/fail
 * checks (progress on stderr), writes them as JSON, and exits 1 when a check
 * failed (2 on a bad flag). Every process it starts is stopped by PID, also
 * on error or Ctrl-C.
 *
 * @module
 */

import { cleanupAll } from "../bench/lib/proc.ts";
import { probeFor, shortConnections, transfer } from "./load.ts";
import { ChaosUsageError, type Flags, parseFlags } from "./flags.ts";
import { ChaosProxy } from "./proxy.ts";
import { Checks, renderTable } from "./report.ts";
import { Rig } from "./rig.ts";
import { type Context, transferCheck } from "./scenarios/context.ts";
import { clientKill, partition, serverRestart, serverStop } from "./scenarios/faults.ts";
import { floods } from "./scenarios/floods.ts";
import { kubeClientKill } from "./scenarios/kube.ts";
import { churn, manyPeers, steady } from "./scenarios/soak.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** The scenarios, in the order they run. */
export const SCENARIOS: Record<string, (ctx: Context) => Promise<void>> = {
  floods,
  churn,
  soak: steady,
  peers: manyPeers,
  "client-kill": clientKill,
  "kube-client-kill": kubeClientKill,
  partition,
  stop: serverStop,
  restart: async (ctx) => {
    for (let round = 1; round <= ctx.profile.restarts; round++) await serverRestart(ctx, round);
  },
};

/** The rig of the run in progress, for Ctrl-C. */
let current: Rig | null = null;

async function run(flags: Flags, checks: Checks, dir: string): Promise<void> {
  const profile = flags.profile;
  const log = (text: string) => console.error(`chaos: ${text}`);
  // The inspector lets the churn and soak checks collect the server's garbage before reading its RSS.
  const rig = new Rig(dir, {
    keepaliveMs: profile.keepaliveMs,
    reconnectMaxMs: profile.reconnectMaxMs,
  }, { inspect: true, env: flags.serverEnv, clientEnv: flags.clientEnv });
  current = rig;
  const proxy = new ChaosProxy(rig.tunnelPort);
  try {
    log(`${profile.name} profile; server on 127.0.0.1:${rig.tunnelPort}`);
    await rig.startServer();
    const a = rig.startClient("a");
    const b = rig.startClient("b", proxy.port);
    // Approved once, through the CLI; every later scenario relies on that approval.
    await rig.approve(a);
    await rig.approve(b);
    const echo = (await rig.appPort("a"))!;
    // Warm up (JIT, buffers) so that the baseline is the steady state.
    await shortConnections(echo, 300);
    log(`quiet baseline (${profile.quietSeconds} s)`);
    const quiet = await probeFor(echo, profile.quietSeconds * 1000);
    const ctx: Context = { rig, profile, checks, a, b, proxy, quiet, log };
    checks.atMost("quiet", "approved peer's requests failed", quiet.failures, 0, "", {
      probe: quiet,
    });
    checks.add({
      scenario: "quiet",
      name: "baseline latency (one connection per request)",
      pass: quiet.count > 0,
      measured: `p50 ${quiet.p50.toFixed(2)} ms, p99 ${quiet.p99.toFixed(2)} ms (n=${quiet.count})`,
      limit: "measured",
      figures: { ...quiet },
    });
    const sink = (await rig.appPort("a", "sink"))!;
    transferCheck(
      ctx,
      "quiet",
      await transfer(sink, profile.transferMiB, profile.transferTimeoutMs),
    );
    for (const name of flags.only) await SCENARIOS[name](ctx);
  } finally {
    await proxy.close();
    await rig.close();
  }
}

async function main(): Promise<number> {
  let flags: Flags;
  try {
    flags = parseFlags(Deno.args, Object.keys(SCENARIOS));
  } catch (error) {
    if (!(error instanceof ChaosUsageError)) throw error;
    console.error(`chaos: ${error.message}`);
    console.error(
      "usage: deno task chaos [--long] [--json] [--out PATH|-] [--only a,b] [--server-env NAME=VALUE] [--client-env NAME=VALUE]",
    );
    return 2;
  }
  const checks = new Checks();
  const dir = await Deno.makeTempDir({ prefix: "wormhole-chaos-" });
  const onSignal = async () => {
    await current?.close();
    await cleanupAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const started = performance.now();
  try {
    await run(flags, checks, dir);
  } catch (error) {
    checks.error("setup", error);
  } finally {
    await cleanupAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  const report = {
    date: new Date().toISOString(),
    profile: flags.profile,
    seconds: Math.round((performance.now() - started) / 1000),
    machine: { cores: navigator.hardwareConcurrency, deno: Deno.version.deno },
    passed: checks.passed,
    failed: checks.failed,
    checks: checks.list,
  };
  // The short profile's report is the one CI and the README compare; a soak gets its own file.
  const name = flags.profile.name === "long" ? "chaos-long-latest" : "chaos-latest";
  const out = flags.out ?? `${ROOT}bench/results/${name}.json`;
  if (out !== "-") await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
  if (flags.json) console.log(JSON.stringify(report, null, 2));
  else {
    console.log(renderTable(checks.list));
    console.log(
      `\nchaos (${flags.profile.name}, ${report.seconds} s): ${checks.passed} passed, ${checks.failed} failed`,
    );
  }
  return checks.failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
