/**
 * A paused WebSocket read must cost nothing once it ended, however long the
 * link lives: each pause used to leave a reaction (a promise, two closures
 * and a context, ~310 bytes) on a promise that lived as long as the link,
 * which grew a client's live heap from 15 to 84 MiB in the chaos soak.
 */

import assert from "node:assert/strict";

Deno.test("paused reads: regression: 10,000 pauses on one open link leave no heap behind", async () => {
  const fixture = new URL("./fixtures/paused_reads_heap.ts", import.meta.url).pathname;
  // Its own process: measuring the heap needs gc(), which needs a V8 flag.
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", "--allow-net", fixture, "10000"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const { pauses, bytesPerPause } = JSON.parse(text);
  assert.equal(pauses, 10_000);
  // With the leak: ~310 bytes a pause; without it, what is left is noise (a few bytes).
  assert.ok(bytesPerPause < 64, `${bytesPerPause.toFixed(1)} bytes of heap left per pause`);
});
