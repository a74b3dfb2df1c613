import assert from "node:assert/strict";
import { DEFAULT_MAX_HANDSHAKE_MESSAGE, serveTunnel, type ServeTunnelOptions } from "./serve.ts";
import type { WebSocketLink } from "./websocket_link.ts";
import { CloseCode, Opcode } from "./ws_frame.ts";
import { until } from "../testing.ts";
import { rawFrame, rawUpgrade, readCloseCode, writeUntilClosed } from "./testing.ts";

/** An endpoint on 127.0.0.1 that keeps every link it opens; dispose stops it all. */
async function endpoint(options: Partial<ServeTunnelOptions> = {}) {
  const abort = new AbortController();
  const links: WebSocketLink[] = [];
  const records: Uint8Array[] = [];
  const tunnel = await serveTunnel({
    hostname: "127.0.0.1",
    port: 0,
    path: "/wh/tunnel",
    signal: abort.signal,
    onConnection: (link) => {
      links.push(link);
      link.listen({ record: (record) => records.push(record), closed: () => {} });
    },
    ...options,
  });
  return {
    tunnel,
    links,
    records,
    async [Symbol.asyncDispose]() {
      abort.abort();
      for (const link of links) link.close();
      await Promise.all(links.map((link) => link.finished));
      await tunnel.finished;
    },
  };
}

const chunk = new Uint8Array(4096);

Deno.test("serve: a fragmented message that never ends is refused with 1009 after a few KiB", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  assert.equal(raw.status, "HTTP/1.1 101 Switching Protocols");
  let first = true;
  const frame = () => {
    const opcode = first ? Opcode.Binary : Opcode.Continuation;
    first = false;
    return rawFrame(opcode, chunk, { fin: false });
  };
  // The client tries 64 MiB; the server reads until the message passes its limit, then stops.
  const [code] = await Promise.all([
    readCloseCode(raw),
    writeUntilClosed(raw.conn, frame, 64 << 20),
  ]);
  raw.conn.close();
  assert.equal(code, CloseCode.TooBig);
  await until(() => server.links.length === 1, "the link");
  const link = server.links[0];
  await link.finished;
  // What it read: the message limit plus at most one read of a pre-auth link.
  assert.ok(
    link.bytesIn <= DEFAULT_MAX_HANDSHAKE_MESSAGE + 16 * 1024 + 4096,
    `the server read ${link.bytesIn} bytes`,
  );
  assert.equal(server.records.length, 0);
  assert.equal(server.tunnel.handshakes(), 0, "a closed connection frees its handshake slot");
});

Deno.test("serve: a message of endless empty fragments is refused with 1009 too", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  const empty = new Uint8Array(0);
  await raw.conn.write(rawFrame(Opcode.Binary, empty, { fin: false }));
  // 1,000 empty continuations per write, 1,000,000 in all, then the end of the stream.
  const one = rawFrame(Opcode.Continuation, empty, { fin: false });
  const batch = new Uint8Array(one.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(one, i * one.length);
  const [code] = await Promise.all([
    readCloseCode(raw),
    writeUntilClosed(raw.conn, () => batch, batch.length * 1000)
      .then(() => raw.conn.closeWrite().catch(() => {})),
  ]);
  raw.conn.close();
  assert.equal(code, CloseCode.TooBig);
  await until(() => server.links.length === 1, "the link");
  await server.links[0].finished;
  assert.ok(server.links[0].bytesIn <= 64 * 1024, `read ${server.links[0].bytesIn}`);
});

Deno.test("serve: one oversized frame is refused with 1009 from its header", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  // Claims 60 MiB, sends 4 KiB of it.
  const header = rawFrame(Opcode.Binary, chunk, { length: 60 << 20 });
  const [code] = await Promise.all([
    readCloseCode(raw),
    writeUntilClosed(raw.conn, () => header, header.length),
  ]);
  raw.conn.close();
  assert.equal(code, CloseCode.TooBig);
  await until(() => server.links.length === 1, "the link");
  await server.links[0].finished;
  assert.ok(server.links[0].bytesIn <= header.length, `read ${server.links[0].bytesIn}`);
});

Deno.test("serve: an admitted link takes records up to its new limit, and not one byte more", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  await until(() => server.links.length === 1, "the link");
  server.links[0].admit(64 * 1024);
  assert.equal(server.tunnel.handshakes(), 0, "admission frees the handshake slot");
  const record = new Uint8Array(64 * 1024).fill(7);
  await raw.conn.write(rawFrame(Opcode.Binary, record));
  await until(() => server.records.length === 1, "the record");
  assert.deepEqual(server.records[0], record);
  const tooBig = rawFrame(Opcode.Binary, new Uint8Array(64 * 1024 + 1));
  const [code] = await Promise.all([
    readCloseCode(raw),
    writeUntilClosed(raw.conn, () => tooBig, tooBig.length),
  ]);
  raw.conn.close();
  assert.equal(code, CloseCode.TooBig);
  assert.equal(server.records.length, 1);
});

Deno.test("serve: unmasked and text frames from a client close the link (1002, 1003)", async () => {
  await using server = await endpoint();
  for (
    const [frame, expected] of [
      [rawFrame(Opcode.Binary, chunk, { masked: false }), CloseCode.Protocol],
      [rawFrame(Opcode.Text, new TextEncoder().encode("hi")), CloseCode.Unsupported],
    ] as const
  ) {
    const raw = await rawUpgrade(server.tunnel.addr.port);
    const [code] = await Promise.all([
      readCloseCode(raw),
      writeUntilClosed(raw.conn, () => frame, frame.length),
    ]);
    raw.conn.close();
    assert.equal(code, expected);
  }
  assert.equal(server.records.length, 0);
});

Deno.test("serve: connections over maxHandshakes are closed at accept until a slot frees", async () => {
  await using server = await endpoint({ maxHandshakes: 2 });
  const held = [
    await rawUpgrade(server.tunnel.addr.port),
    await rawUpgrade(server.tunnel.addr.port),
  ];
  for (const raw of held) assert.equal(raw.status, "HTTP/1.1 101 Switching Protocols");
  const refused = await rawUpgrade(server.tunnel.addr.port);
  refused.conn.close();
  assert.equal(refused.status, "", "a third connection was upgraded");
  assert.equal(server.tunnel.handshakes(), 2);
  await until(() => server.links.length === 2, "the links");
  server.links[0].admit(64 * 1024);
  const next = await rawUpgrade(server.tunnel.addr.port);
  assert.equal(next.status, "HTTP/1.1 101 Switching Protocols");
  for (const raw of [...held, next]) raw.conn.close();
});

Deno.test("serve: a connection that never completes its upgrade request is closed", async () => {
  await using server = await endpoint({ headerTimeoutMs: 100 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.tunnel.addr.port });
  await conn.write(new TextEncoder().encode("GET /wh/tunnel HTTP/1.1\r\n"));
  assert.equal(await conn.read(new Uint8Array(16)), null);
  conn.close();
  await until(() => server.tunnel.handshakes() === 0, "the slot to be freed");
});

Deno.test("serve: other paths get 404, plain requests on the tunnel path 426", async () => {
  await using server = await endpoint();
  const base = `http://127.0.0.1:${server.tunnel.addr.port}`;
  const missing = await fetch(`${base}/x`);
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error, /Not found: \/x/);
  const plain = await fetch(`${base}/wh/tunnel`);
  assert.equal(plain.status, 426);
  await plain.body?.cancel();
});

Deno.test("serve: after the server closes a link it keeps nothing more and cuts a peer that never answers", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  await until(() => server.links.length === 1, "the link");
  const link = server.links[0];
  link.close("hello timeout");
  // Whole messages under the limit, sent after the close and never answering it.
  const message = rawFrame(Opcode.Binary, chunk);
  const [code, written] = await Promise.all([
    readCloseCode(raw),
    writeUntilClosed(raw.conn, () => message, 256 << 20),
  ]);
  raw.conn.close();
  await link.finished;
  assert.equal(code, CloseCode.Normal);
  // At most 1 MiB read after the close, plus what the sockets' buffers took (~4 MB here).
  assert.ok(written < 64 << 20, `the server took ${written} bytes after its close`);
  assert.equal(server.records.length, 0);
});

Deno.test("serve: regression: a peer that ignores the server's close and sends nothing is cut at the close deadline", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  await until(() => server.links.length === 1, "the link");
  const link = server.links[0];
  link.close("hello timeout");
  // The peer reads the close, never answers it and stays silent: no read
  // limit ends this connection, only the deadline (it stayed ESTABLISHED).
  assert.equal(await readCloseCode(raw), CloseCode.Normal);
  assert.equal(await raw.conn.read(new Uint8Array(16)).catch(() => null), null);
  raw.conn.close();
  await link.finished;
  assert.equal(server.tunnel.handshakes(), 0, "the cut connection frees its handshake slot");
});

Deno.test("serve: a client that pings and never reads gets no pong queue: one waits at most", async () => {
  await using server = await endpoint();
  const raw = await rawUpgrade(server.tunnel.addr.port);
  // 200,000 pings of 125 bytes (26 MB) without reading: one pong each would queue 25 MB.
  const pings = 200_000;
  const ping = rawFrame(Opcode.Ping, new Uint8Array(125).fill(1));
  const batch = new Uint8Array(ping.length * 1000);
  for (let i = 0; i < 1000; i++) batch.set(ping, i * ping.length);
  await writeUntilClosed(raw.conn, () => batch, ping.length * pings);
  await raw.conn.write(rawFrame(Opcode.Close, new Uint8Array([0x03, 0xe8])));
  let pongs = 0;
  const code = await readCloseCode(raw, (opcode) => {
    if (opcode === Opcode.Pong) pongs++;
  });
  raw.conn.close();
  assert.equal(code, CloseCode.Normal);
  // What the sockets' buffers took while the client was not reading, and no more.
  assert.ok(pongs < pings / 10, `${pongs} pongs for ${pings} pings`);
});

Deno.test("serve: an upgrade its owner does not admit is answered 429 with Retry-After, before any link", async () => {
  const asked: string[] = [];
  let allow = false;
  await using server = await endpoint({
    admit: (remote) => {
      asked.push(remote);
      return allow;
    },
  });
  const refused = await rawUpgrade(server.tunnel.addr.port);
  const body = new TextDecoder().decode(refused.leftover);
  refused.conn.close();
  assert.equal(refused.status, "HTTP/1.1 429 Too Many Requests");
  assert.match(body, /"error":"Too many handshakes from this address; try again later"/);
  assert.equal(server.tunnel.handshakes(), 0);
  // Not asked for requests that are not upgrades at all.
  const notFound = await rawUpgrade(server.tunnel.addr.port, "/elsewhere");
  notFound.conn.close();
  assert.equal(notFound.status, "HTTP/1.1 404 Not Found");
  allow = true;
  const admitted = await rawUpgrade(server.tunnel.addr.port);
  assert.equal(admitted.status, "HTTP/1.1 101 Switching Protocols");
  await until(() => server.links.length === 1, "the admitted link");
  admitted.conn.close();
  assert.equal(asked.length, 2);
  assert.match(asked[0], /^127\.0\.0\.1:\d+$/);
});
