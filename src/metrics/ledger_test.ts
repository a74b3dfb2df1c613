import assert from "node:assert/strict";
import { TrafficLedger } from "./ledger.ts";

Deno.test("ledger: open connections count live; closing one moves its bytes without a dip", () => {
  const ledger = new TrafficLedger();
  const a = ledger.open();
  const b = ledger.open();
  a.bytesIn += 10;
  b.bytesOut += 7;
  assert.deepEqual(ledger.traffic(), { streamsOpen: 2, streamsTotal: 2, bytesIn: 10, bytesOut: 7 });
  ledger.close(a);
  assert.deepEqual(ledger.traffic(), { streamsOpen: 1, streamsTotal: 2, bytesIn: 10, bytesOut: 7 });
  b.bytesIn += 1;
  ledger.close(b);
  ledger.close(b);
  assert.deepEqual(ledger.traffic(), { streamsOpen: 0, streamsTotal: 2, bytesIn: 11, bytesOut: 7 });
});
