import assert from "node:assert/strict";
import { memoryLinkPair } from "../link/testing.ts";
import type { RecordHandler } from "../link/mod.ts";
import { linkChannel } from "./channel.ts";
import { HandshakeError } from "./errors.ts";

const bytes = (...values: number[]) => new Uint8Array(values);

function collector(): RecordHandler & { records: number[]; ends: (Error | undefined)[] } {
  const records: number[] = [];
  const ends: (Error | undefined)[] = [];
  return {
    records,
    ends,
    record: (record) => records.push(record[0]),
    closed: (error) => ends.push(error),
  };
}

Deno.test("linkChannel delivers messages in order, queued or awaited", async () => {
  const [a, b] = memoryLinkPair();
  const channel = linkChannel(b);
  a.send(bytes(1));
  a.send(bytes(2));
  const waiting = channel.receive().then((m) => m[0]);
  assert.equal(await waiting, 1);
  assert.equal((await channel.receive())[0], 2);
  const later = channel.receive();
  a.send(bytes(3));
  assert.equal((await later)[0], 3);
  a.close();
});

Deno.test("linkChannel rejects receives with `closed` when the link closes", async () => {
  const [a, b] = memoryLinkPair();
  const channel = linkChannel(b);
  const waiting = channel.receive();
  a.close();
  await assert.rejects(waiting, (e: unknown) => e instanceof HandshakeError && e.code === "closed");
  await assert.rejects(channel.receive(), (e: unknown) => (e as HandshakeError).code === "closed");
});

Deno.test("linkChannel.release returns a link that replays records that came after the handshake", async () => {
  const [a, b] = memoryLinkPair();
  const channel = linkChannel(b);
  a.send(bytes(1)); // the handshake's last message
  a.send(bytes(2)); // the session's first records, right behind it
  a.send(bytes(3));
  assert.equal((await channel.receive())[0], 1);
  const session = channel.release();
  assert.throws(() => channel.release(), /twice/);
  a.send(bytes(4)); // after release, before the session listens
  await new Promise((resolve) => setTimeout(resolve, 0));
  const handler = collector();
  session.listen(handler);
  a.send(bytes(5)); // straight to the session's listener
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(handler.records, [2, 3, 4, 5]);
  session.send(bytes(8));
  const back = collector();
  a.listen(back);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(back.records, [8]);
  session.close();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(handler.ends.length, 1);
});

Deno.test("linkChannel.release passes on the link's end that came before the next listener", async () => {
  const [a, b] = memoryLinkPair();
  const channel = linkChannel(b);
  const pending = channel.receive();
  const session = channel.release();
  await assert.rejects(pending, (e: unknown) => (e as HandshakeError).code === "closed");
  assert.throws(() => channel.send(bytes(0)), /released/);
  a.send(bytes(7));
  a.close();
  await new Promise((resolve) => setTimeout(resolve, 0));
  const handler = collector();
  session.listen(handler);
  assert.deepEqual(handler.records, [7]);
  assert.deepEqual(handler.ends, [undefined]);
});
