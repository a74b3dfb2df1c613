import assert from "node:assert/strict";
import { IDLE_SERIES_MS, ServerAccounting, SWEEP_EVERY_MS } from "./accounting.ts";

/** One finished connection of `bytes` each way on `app` of `peer`. */
function carry(accounting: ServerAccounting, peer: string, app: string, bytes: number): void {
  const ledger = accounting.ledger(peer, app);
  const counts = ledger.open();
  counts.bytesIn = bytes;
  counts.bytesOut = bytes;
  ledger.close(counts);
}

Deno.test("accounting: regression: apps that come and go do not leave a series each forever", () => {
  const accounting = new ServerAccounting();
  const exposed = new Set<string>(["edge/keep"]);
  const isExposed = (peer: string, app: string) => exposed.has(`${peer}/${app}`);
  carry(accounting, "edge", "keep", 1);
  // 5,000 apps, each exposed once, used, withdrawn.
  for (let i = 0; i < 5_000; i++) carry(accounting, "edge", `churn-${i}`, 10);
  accounting.sweep(isExposed, 0);
  assert.equal(accounting.traffic().length, 5_001, "kept while their counters are fresh");
  accounting.sweep(isExposed, IDLE_SERIES_MS - 1);
  assert.equal(accounting.traffic().length, 5_001);
  accounting.sweep(isExposed, IDLE_SERIES_MS);
  assert.deepEqual(accounting.traffic().map((t) => t.app), ["keep"], "the exposed one stays");
  // The peer's own totals keep what the dropped ledgers counted.
  assert.deepEqual(accounting.retired("edge"), {
    streamsOpen: 0,
    streamsTotal: 5_000,
    bytesIn: 50_000,
    bytesOut: 50_000,
  });
});

Deno.test("accounting: regression: a server nobody scrapes drops gone apps' ledgers too", () => {
  let now = 0;
  const accounting = new ServerAccounting({ exposed: () => false, now: () => now });
  // One app a second comes, carries a connection and goes, for 5,000 s; no scrape sweeps.
  for (let i = 0; i < 5_000; i++) {
    now = i * 1000;
    carry(accounting, "edge", `churn-${i}`, 10);
  }
  // Those of the last idle period (and two sweep intervals) are kept, the older are dropped.
  const kept = accounting.traffic().length;
  assert.ok(kept <= (IDLE_SERIES_MS + 2 * SWEEP_EVERY_MS) / 1000, `${kept} of 5,000 ledgers kept`);
  assert.equal(accounting.retired("edge")?.streamsTotal, 5_000 - kept);
});

Deno.test("accounting: a gone app with an open connection, or still moving, is never dropped", () => {
  const accounting = new ServerAccounting();
  const ledger = accounting.ledger("edge", "web");
  const open = ledger.open();
  const never = () => false;
  accounting.sweep(never, 0);
  accounting.sweep(never, 10 * IDLE_SERIES_MS);
  assert.equal(accounting.traffic().length, 1, "an open connection keeps it");
  open.bytesIn = 5;
  ledger.close(open);
  accounting.sweep(never, 11 * IDLE_SERIES_MS); // counters moved: the idle clock starts again
  accounting.sweep(never, 12 * IDLE_SERIES_MS - 1);
  assert.equal(accounting.traffic().length, 1);
  accounting.sweep(never, 12 * IDLE_SERIES_MS);
  assert.equal(accounting.traffic().length, 0);
  // Back again: a new ledger from 0 (Prometheus reads a reset, as after a restart).
  assert.equal(accounting.ledger("edge", "web").traffic().bytesIn, 0);
});
