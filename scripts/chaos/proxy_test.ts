import assert from "node:assert/strict";
import {
  connect,
  echoUpstream,
  exchange,
  randomBytes,
  readAll,
  writeAll,
} from "../../tests/harness/net.ts";
import { ChaosProxy } from "./proxy.ts";

Deno.test("chaos proxy: every byte arrives once and in order, both ways, with half-close", async () => {
  await using upstream = echoUpstream();
  await using proxy = new ChaosProxy(upstream.port);
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const received = await exchange(proxy.port, data);
  assert.equal(received.length, data.length);
  assert.deepEqual(received, data);
  const again = await Promise.all([1, 2, 3].map((n) => exchange(proxy.port, randomBytes(n))));
  assert.deepEqual(again.map((r) => r.length), [1, 2, 3]);
});

Deno.test("chaos proxy: a partition drops bytes both ways; healing lets new connections through", async () => {
  await using upstream = echoUpstream();
  await using proxy = new ChaosProxy(upstream.port);
  const old = await connect(proxy.port);
  await writeAll(old, new Uint8Array([1]));
  const buffer = new Uint8Array(8);
  assert.equal(await old.read(buffer), 1);

  proxy.partition(true);
  await writeAll(old, new Uint8Array([2, 3]));
  const cut = await connect(proxy.port);
  await writeAll(cut, new Uint8Array([4]));
  // Both were read and dropped; the old connection stays open.
  for (let i = 0; i < 200 && proxy.dropped < 3; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(proxy.dropped, 3);

  proxy.partition(false);
  assert.deepEqual(await readAll(cut), new Uint8Array(0)); // closed by the heal
  cut.close();
  assert.deepEqual(await exchange(proxy.port, new Uint8Array([5, 6])), new Uint8Array([5, 6]));
  await writeAll(old, new Uint8Array([7]));
  assert.equal(await old.read(buffer), 1);
  assert.equal(buffer[0], 7); // bytes 2 and 3 never arrive
  old.close();
});

Deno.test("chaos proxy: a paused direction is not read until resumed, then nothing is lost", async () => {
  await using upstream = echoUpstream();
  await using proxy = new ChaosProxy(upstream.port);
  proxy.pause("down", true);
  const conn = await connect(proxy.port);
  const data = randomBytes(64 * 1024);
  await writeAll(conn, data);
  await conn.closeWrite();
  const late = readAll(conn);
  let early = false;
  late.then(() => early = true);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(early, false);
  proxy.pause("down", false);
  assert.deepEqual(await late, data);
  conn.close();
});

Deno.test("chaos proxy: a partition hides a close from the other side until the heal", async () => {
  await using upstream = echoUpstream();
  await using proxy = new ChaosProxy(upstream.port);
  const conn = await connect(proxy.port);
  await writeAll(conn, new Uint8Array([1]));
  const buffer = new Uint8Array(8);
  assert.equal(await conn.read(buffer), 1);

  proxy.partition(true);
  await conn.closeWrite(); // the FIN is lost: the upstream keeps waiting, and so does its echo
  let ended = false;
  const end = readAll(conn).then((rest) => {
    ended = true;
    return rest;
  });
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ended, false);
  assert.equal(upstream.connections.size, 1);

  proxy.partition(false); // now the close gets through, as the retransmitted FIN would
  assert.deepEqual(await end, new Uint8Array(0));
  conn.close();
});
