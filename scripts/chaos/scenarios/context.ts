/**
 * What every chaos scenario gets: the rig, the profile, where checks go, the
 * quiet baseline, and helpers to run the suite's tool processes.
 *
 * @module
 */

import { type Proc, spawn } from "../../bench/lib/proc.ts";
import type { ChaosProxy } from "../proxy.ts";
import type { Profile } from "../profile.ts";
import type { Checks } from "../report.ts";
import type { Rig, RigClient } from "../rig.ts";
import type { ProbeResult, TransferResult } from "../load.ts";

/** The shared state of one chaos run. */
export interface Context {
  rig: Rig;
  profile: Profile;
  checks: Checks;
  /** Client "a": dials the server directly; the approved peer whose traffic is measured. */
  a: RigClient;
  /** Client "b": dials through `proxy`, so it can be partitioned. */
  b: RigClient;
  proxy: ChaosProxy;
  /** The quiet baseline of client a's echo app. */
  quiet: ProbeResult;
  /** Progress on stderr. */
  log(text: string): void;
}

const TOOLS = new URL("../tools/", import.meta.url).pathname;

/** Starts `tools/NAME` in its own Deno process (stdin piped: closing it ends the peers tool). */
export function startTool(name: string, args: (string | number)[]): Proc {
  return spawn(name, Deno.execPath(), ["run", "-A", `${TOOLS}${name}`, ...args.map(String)], {
    stdin: "piped",
  });
}

/** The first JSON line of `tool` that has `key`, parsed. */
export async function toolSays(
  tool: Proc,
  key: string,
  timeoutMs: number,
): Promise<Record<string, unknown>> {
  const has = (line: string) => {
    if (!line.startsWith("{")) return false;
    try {
      return key in JSON.parse(line);
    } catch {
      return false;
    }
  };
  try {
    return JSON.parse(await tool.waitForLine(has, timeoutMs));
  } catch (error) {
    // The tool may exit right after its last line, before that line was read.
    await sleep(300);
    const late = tool.lines.find(has);
    if (late) return JSON.parse(late);
    throw error;
  }
}

/** Milliseconds since `start` (a `performance.now()`), rounded. */
export function since(start: number): number {
  return Math.round(performance.now() - start);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Records whether a transfer arrived sha256-exact (and, with `during` false, that it missed its fault). */
export function transferCheck(
  ctx: Context,
  scenario: string,
  moved: TransferResult,
  during = true,
): void {
  ctx.checks.add({
    scenario,
    name: `${moved.mib} MiB transfer sha256-exact`,
    pass: moved.exact && during,
    measured: moved.exact && during ? `exact, ${moved.ms} ms` : moved.error ?? "differs",
    limit: "exact",
    figures: { ...moved },
  });
}
