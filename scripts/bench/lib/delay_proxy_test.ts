import assert from "node:assert/strict";
import { pattern } from "../../../src/mux/testing.ts";
import { readAll } from "../../../tests/harness/net.ts";
import { startDelayProxy } from "./delay_proxy.ts";

/** A one-connection echo-ish peer: records what it reads, then sends `reply` and half-closes. */
function peer(reply: Uint8Array) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const got = await readAll(conn);
    await writeAll(conn, reply);
    await conn.closeWrite();
    // Wait for the other side to close, so that nothing is cut short.
    const rest = await readAll(conn);
    conn.close();
    return { got, rest };
  })();
  return { port: (listener.addr as Deno.NetAddr).port, done };
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  // Uneven write sizes, so that chunk boundaries differ from the proxy's reads.
  let step = 1000;
  while (offset < data.length) {
    offset += await conn.write(data.subarray(offset, Math.min(data.length, offset + step)));
    step = step * 3 % 200_003 + 1;
  }
}

function assertSame(actual: Uint8Array, expected: Uint8Array, what: string) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const at = actual.findIndex((byte, i) => byte !== expected[i]);
  assert.equal(at, -1, `${what}: first difference at byte ${at}`);
}

for (const delayMs of [0, 3]) {
  Deno.test(`delay proxy (${delayMs} ms) keeps bytes and order both ways and passes half-close on`, async () => {
    const up = pattern(3 * 1024 * 1024 + 17, 7);
    const down = pattern(2 * 1024 * 1024 + 5, 9);
    const target = peer(down);
    // A small queue, so that the bound (the reader stopping) is exercised too.
    const proxy = startDelayProxy({ targetPort: target.port, delayMs, queueBytes: 256 * 1024 });
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
      await writeAll(conn, up);
      // Half-close: the target sees end of file only after every byte, and still answers.
      await conn.closeWrite();
      const got = await readAll(conn);
      conn.close();
      const seen = await target.done;
      assertSame(seen.got, up, "client → target");
      assertSame(got, down, "target → client");
      assert.equal(seen.rest.length, 0);
      assert.equal(proxy.accepted, 1);
      // Every byte it sent on is counted in its lateness report.
      const late = proxy.lateness();
      assert.equal(late.bytes, up.length + down.length);
      assert.ok(late.meanMs >= 0 && late.maxMs >= late.meanMs, JSON.stringify(late));
    } finally {
      await proxy.close();
    }
  });
}

Deno.test("delay proxy holds each chunk for at least the delay", async () => {
  const target = peer(new Uint8Array([1]));
  const proxy = startDelayProxy({ targetPort: target.port, delayMs: 40 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    const start = performance.now();
    await writeAll(conn, new Uint8Array([2]));
    await conn.closeWrite();
    const got = await readAll(conn);
    const elapsed = performance.now() - start;
    conn.close();
    await target.done;
    assert.deepEqual([...got], [1]);
    // A lower bound only (two one-way delays), which holds however loaded the machine is.
    assert.ok(elapsed >= 80, `round trip took ${elapsed} ms, less than 2 × 40`);
  } finally {
    await proxy.close();
  }
});

Deno.test("delay proxy closes the client's connection when the target refuses", async () => {
  const unused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (unused.addr as Deno.NetAddr).port;
  unused.close();
  const proxy = startDelayProxy({ targetPort: port, delayMs: 0 });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
    const got = await readAll(conn).catch(() => new Uint8Array(0));
    conn.close();
    assert.equal(got.length, 0);
  } finally {
    await proxy.close();
  }
});

Deno.test("delay proxy refuses a negative delay", () => {
  assert.throws(
    () => startDelayProxy({ targetPort: 1, delayMs: -1 }),
    /Cannot delay by -1 ms/,
  );
});
