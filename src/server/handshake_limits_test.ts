import assert from "node:assert/strict";
import { TokenBuckets } from "./handshake_limits.ts";

Deno.test("token buckets: a burst, then the refill rate, per key", () => {
  const buckets = new TokenBuckets({ burst: 3, perSecond: 0.5 });
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take("fp", 0)), [true, true, true, false]);
  assert.equal(buckets.take("other", 0), true, "keys are independent");
  assert.equal(buckets.take("fp", 1000), false, "half a token after 1 s");
  assert.equal(buckets.take("fp", 2000), true, "one token after 2 s");
  assert.equal(buckets.take("fp", 2000), false);
  // Refill stops at the burst.
  assert.deepEqual([1, 2, 3, 4].map(() => buckets.take("fp", 1_000_000)), [
    true,
    true,
    true,
    false,
  ]);
});

Deno.test("token buckets: a flood of fresh keys keeps at most 10,000 buckets", () => {
  const buckets = new TokenBuckets({ burst: 1, perSecond: 1 });
  for (let i = 0; i < 25_000; i++) buckets.take(`key-${i}`, 0);
  assert.equal(buckets.size, 10_000);
});

Deno.test("token buckets: nonsense limits are refused", () => {
  assert.throws(() => new TokenBuckets({ burst: 0, perSecond: 1 }), RangeError);
  assert.throws(() => new TokenBuckets({ burst: 1, perSecond: 0 }), RangeError);
});
