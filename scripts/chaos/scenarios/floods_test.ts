import assert from "node:assert/strict";
import { floodSize } from "./floods.ts";

Deno.test("chaos floods: a flood's size is its sockets opened or its handshakes started", () => {
  assert.deepEqual(floodSize("idle", 1000, 60, { opened: 1000, closedByServer: 936 }), {
    asked: 1000,
    reached: 1000,
  });
  // 500/s for 60 s asked; a tool held back by a slow server started fewer.
  assert.deepEqual(floodSize("handshakes", 500, 60, { started: 12_000 }), {
    asked: 30_000,
    reached: 12_000,
  });
  assert.deepEqual(floodSize("replay", 200, 60, { started: 11_910 }), {
    asked: 12_000,
    reached: 11_910,
  });
  assert.equal(floodSize("pings", 0, 60, { sent: 12_000_000 }), null);
});
