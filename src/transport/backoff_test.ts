import assert from "node:assert/strict";
import { Backoff } from "./backoff.ts";

Deno.test("backoff: ceilings double from the minimum up to the maximum; delays are the jittered share", () => {
  const backoff = new Backoff({ minMs: 100, maxMs: 1000, random: () => 0.5 });
  const ceilings: number[] = [];
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    ceilings.push(backoff.ceiling);
    delays.push(backoff.next());
  }
  assert.deepEqual(ceilings, [100, 200, 400, 800, 1000, 1000]);
  assert.deepEqual(delays, [50, 100, 200, 400, 500, 500]);
  assert.equal(backoff.attempt, 6);
});

Deno.test("backoff: full jitter spans zero to the ceiling; reset starts over", () => {
  let draw = 0;
  const backoff = new Backoff({ minMs: 10, maxMs: 40, random: () => [0, 0.999999][draw++ % 2] });
  assert.equal(backoff.next(), 0);
  assert.equal(backoff.next(), 20);
  backoff.reset();
  assert.equal(backoff.attempt, 0);
  assert.equal(backoff.ceiling, 10);
});

Deno.test("backoff: a huge attempt count stays at the maximum, never Infinity", () => {
  const backoff = new Backoff({ minMs: 1, maxMs: 5, random: () => 0.999999 });
  for (let i = 0; i < 2000; i++) backoff.next();
  assert.equal(backoff.ceiling, 5);
  assert.equal(backoff.next(), 5);
});

Deno.test("backoff: bounds that cannot work are a RangeError naming them", () => {
  assert.throws(() => new Backoff({ minMs: 0 }), /Cannot back off between 0 and 30000 ms/);
  assert.throws(() => new Backoff({ minMs: 10, maxMs: 5 }), RangeError);
  assert.throws(() => new Backoff({ minMs: NaN }), RangeError);
});
