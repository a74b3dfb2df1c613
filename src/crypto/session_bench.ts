/**
 * Throughput of the session: seal + open of 64 KiB and 1 KiB records, both
 * through a pair of {@linkcode SealedLink}s (pipelined, as in production)
 * and one record at a time. MB/s = bytes per iteration / time per iteration.
 *
 * Run: `npx deno bench src/crypto/session_bench.ts`
 *
 * @module
 */

import { memoryLinkPair } from "../link/testing.ts";
import { Direction, open, readHeader, seal } from "./record.ts";
import { deriveHandshakeKeys, epochKey } from "./schedule.ts";
import { SealedLink, type SessionOptions } from "./session.ts";

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const { keys } = await deriveHandshakeKeys(random(64), random(32));
const key = await epochKey(keys.c2s);

/** Sends `count` records of `size` bytes from client to server and waits for the last. */
async function transfer(size: number, count: number, options?: SessionOptions): Promise<void> {
  const [a, b] = memoryLinkPair({ highWater: 8 << 20 });
  const client = new SealedLink(a, keys, "client", options);
  const server = new SealedLink(b, keys, "server", options);
  const done = Promise.withResolvers<void>();
  let received = 0;
  server.listen({
    record: () => {
      if (++received === count) done.resolve();
    },
    closed: () => {},
  });
  const record = random(size);
  for (let i = 0; i < count; i++) {
    if (!client.writable) await client.waitWritable();
    client.send(record);
  }
  await done.promise;
  client.close();
}

async function sealOpen(plaintext: Uint8Array): Promise<void> {
  const sealed = await seal(key, Direction.ClientToServer, 0, 1, plaintext);
  const { epoch, counter } = readHeader(sealed);
  await open(key, Direction.ClientToServer, sealed, epoch, counter);
}

const RECORD_64K = random(64 * 1024);
const RECORD_1K = random(1024);

Deno.bench({
  name: "SealedLink 64 KiB records, 16 MiB per iteration",
  group: "64 KiB",
  baseline: true,
  fn: async () => await transfer(64 * 1024, 256),
});
Deno.bench({
  name: "SealedLink 64 KiB records, maxInFlight 8, 16 MiB per iteration",
  group: "64 KiB",
  fn: async () => await transfer(64 * 1024, 256, { maxInFlight: 8 }),
});
Deno.bench({
  name: "seal+open one 64 KiB record at a time",
  group: "64 KiB",
  fn: async () => await sealOpen(RECORD_64K),
});
Deno.bench({
  name: "SealedLink 1 KiB records, 4 MiB per iteration",
  group: "1 KiB",
  baseline: true,
  fn: async () => await transfer(1024, 4096),
});
Deno.bench({
  name: "SealedLink 1 KiB records, maxInFlight 8, 4 MiB per iteration",
  group: "1 KiB",
  fn: async () => await transfer(1024, 4096, { maxInFlight: 8 }),
});
Deno.bench({
  name: "seal+open one 1 KiB record at a time",
  group: "1 KiB",
  fn: async () => await sealOpen(RECORD_1K),
});
