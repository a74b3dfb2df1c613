import assert from "node:assert/strict";
import { percentile, summarize } from "./stats.ts";

Deno.test("chaos stats: nearest-rank percentiles are samples that were measured", () => {
  const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
  assert.equal(percentile(samples, 50), 50);
  assert.equal(percentile(samples, 99), 99);
  assert.equal(percentile(samples, 100), 100);
  assert.equal(percentile([7], 99), 7);
  assert.equal(percentile([1, 2, 3], 50), 2);
  assert.equal(percentile([1, 2], 50), 1);
});

Deno.test("chaos stats: no samples or a percentile outside (0, 100] is refused", () => {
  assert.throws(() => percentile([], 50), RangeError);
  assert.throws(() => percentile([1], 0), RangeError);
  assert.throws(() => percentile([1], 101), RangeError);
  assert.throws(() => percentile([1], NaN), RangeError);
});

Deno.test("chaos stats: a summary has count, p50, p99 and max; none gives zeros", () => {
  assert.deepEqual(summarize([3, 1, 2, 10]), { count: 4, p50: 2, p99: 10, max: 10 });
  assert.deepEqual(summarize([]), { count: 0, p50: 0, p99: 0, max: 0 });
});
