import assert from "node:assert/strict";
import { buildTable, medianRun, type SystemRun } from "./table.ts";
import { statCpuSeconds } from "./proc.ts";
import type { IperfResult, WrkResult } from "./measure.ts";

Deno.test("bench: the median run is the middle one, the lower middle for an even count", () => {
  const runs = [{ v: 3 }, { v: 1 }, { v: 2 }];
  assert.equal(medianRun(runs, (r) => r.v).v, 2);
  assert.equal(medianRun([{ v: 4 }, { v: 1 }, { v: 3 }, { v: 2 }], (r) => r.v).v, 2);
  assert.throws(() => medianRun([], (r: { v: number }) => r.v), RangeError);
});

// (Only literal lines: Deno lets no test read /proc/<pid>/stat without --allow-all.)
Deno.test("bench: CPU times come from /proc/<pid>/stat, whatever the command name holds", () => {
  const rest = "S 1 2 3 4 5 6 7 8 9 10 150 50 20 30 0 0 1 0 100 200";
  assert.equal(statCpuSeconds(`42 (deno) ${rest}`), 2.5);
  assert.equal(statCpuSeconds(`42 (a) b (c)) ${rest}\n`), 2.5);
  assert.throws(() => statCpuSeconds("42 (deno) S 1 2"), SyntaxError);
});

function run(id: "direct" | "ssh" | "wormhole", results: SystemRun["results"]): SystemRun {
  return { id, label: id, status: "ok", results, errors: {} };
}

Deno.test("bench: the table shows tunnel CPU per GiB and per request, n/a without a tunnel", () => {
  const iperf = (cpu: IperfResult["cpu"]): IperfResult => ({
    streams: 1,
    seconds: 8,
    senderGbps: 2 ** 30 * 8 / 1e9, // 1 GiB per second
    receiverGbps: 2 ** 30 * 8 / 1e9,
    retransmits: 0,
    cpu,
  });
  const wrk = (cpu: WrkResult["cpu"]): WrkResult => ({
    connections: 64,
    threads: 2,
    requests: 100_000,
    seconds: 10,
    reqPerSec: 10_000,
    p50us: 100,
    p90us: 200,
    p99us: 300,
    p999us: 400,
    meanUs: 120,
    errors: 0,
    errorKinds: {},
    cpu,
  });
  const table = buildTable({
    direct: run("direct", { iperf1: iperf(null), http64: wrk(null) }),
    ssh: run("ssh", {
      iperf1: iperf({ server: 24, client: 16 }),
      http64: wrk({ server: 3, client: 3 }),
    }),
    wormhole: run("wormhole", {
      iperf1: iperf({ server: 40, client: 40 }),
      http64: wrk({ server: 6, client: 6 }),
    }),
  }, null);
  const line = (label: string) =>
    table.markdown.split("\n").find((l) => l.includes(label))!.split("|").map((c) => c.trim());
  // 8 GiB in 8 s: ssh 40 s of CPU = 5 s/GiB, wormhole 80 s = 10 s/GiB.
  assert.deepEqual(line("1 stream, tunnel CPU").slice(2, 6), ["n/a", "5.00", "10.00", "2.00×"]);
  // 100,000 requests: ssh 6 s = 60 µs each, wormhole 12 s = 120 µs.
  assert.deepEqual(line("64 conns, tunnel CPU").slice(2, 6), ["n/a", "60", "120", "2.00×"]);
});
