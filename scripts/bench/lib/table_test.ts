import assert from "node:assert/strict";
import { buildTable, medianRun, type SystemRun } from "./table.ts";
import type { ConnRateResult, IperfResult, WrkResult } from "./measure.ts";

Deno.test("bench: the median run is the middle one, the lower middle for an even count", () => {
  const runs = [{ v: 3 }, { v: 1 }, { v: 2 }];
  assert.equal(medianRun(runs, (r) => r.v).v, 2);
  assert.equal(medianRun([{ v: 4 }, { v: 1 }, { v: 3 }, { v: 2 }], (r) => r.v).v, 2);
  assert.throws(() => medianRun([], (r: { v: number }) => r.v), RangeError);
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
    receivedBytes: 8 * 2 ** 30,
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

Deno.test("bench: CPU per new connection; results saved before CPU was measured show –", () => {
  const conns = (cpu?: ConnRateResult["cpu"]): ConnRateResult => ({
    ok: 20_000,
    errors: 0,
    errorKinds: {},
    seconds: 10,
    connPerSec: 2_000,
    p50ms: 1,
    p99ms: 2,
    concurrency: 16,
    ...(cpu === undefined ? {} : { cpu }),
  });
  const table = buildTable({
    direct: run("direct", { connRate: conns(null) }),
    ssh: run("ssh", { connRate: conns() }),
    wormhole: run("wormhole", { connRate: conns({ server: 6, client: 4 }) }),
  }, null);
  const line = table.markdown.split("\n").find((l) => l.includes("µs/conn"))!;
  // 10 s of CPU for 20,000 connections: 500 µs each; ssh's result has no cpu field at all.
  assert.deepEqual(line.split("|").map((c) => c.trim()).slice(2, 6), ["n/a", "–", "500", ""]);
});
