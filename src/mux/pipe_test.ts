import assert from "node:assert/strict";
import { encodeFrames, encodeOpen, encodeReason, FrameKind, ResetCode } from "../protocol/mod.ts";
import { StreamResetError } from "./errors.ts";
import { memoryLinkPair } from "../link/testing.ts";
import { Mux } from "./mux.ts";
import { type Duplex, pipe, type PipeResult } from "./pipe.ts";
import type { MuxStream } from "./stream.ts";
import { pattern, tick, waitFor } from "./testing.ts";

// ---- helpers ----

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function writeAll(conn: Deno.Conn, data: Uint8Array, chunk = 50_000): Promise<void> {
  for (let at = 0; at < data.length;) {
    at += await conn.write(data.subarray(at, Math.min(data.length, at + chunk)));
  }
}

/** Reads until EOF; a connection reset counts as the end too. */
async function readAll(conn: Deno.Conn): Promise<{ bytes: Uint8Array; reset: boolean }> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  let reset = false;
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      parts.push(buffer.slice(0, n));
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
    reset = true;
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return { bytes: out, reset };
}

/**
 * A tunnel on loopback: a user connects to a public listener, whose
 * connections the server side pipes into streams; the client side pipes each
 * stream to the upstream listener, whose connections `upstream` handles.
 */
function tunnel(upstream: (conn: Deno.Conn) => Promise<void>) {
  const [a, b] = memoryLinkPair();
  const upstreamListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const publicListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<unknown>[] = [];
  const clientPipes: Promise<PipeResult>[] = [];
  const clientStreams: MuxStream[] = [];
  const server = new Mux(a, { role: "server" });
  const client = new Mux(b, {
    role: "client",
    onStream: (stream) => {
      clientStreams.push(stream);
      clientPipes.push(
        Deno.connect({ hostname: "127.0.0.1", port: upstreamListener.addr.port })
          .then((conn) => pipe(stream, conn)),
      );
    },
  });
  tasks.push((async () => {
    for await (const conn of upstreamListener) {
      tasks.push(upstream(conn).finally(() => conn.close()));
    }
  })());

  /** Connects a user; returns its connection and the server-side pipe. */
  const connect = async () => {
    const user = await Deno.connect({ hostname: "127.0.0.1", port: publicListener.addr.port });
    const accepted = await publicListener.accept();
    const stream = server.open("web");
    const serverPipe = pipe(stream, accepted);
    return { user, stream, serverPipe };
  };

  const close = async () => {
    upstreamListener.close();
    publicListener.close();
    await Promise.all(tasks);
    await Promise.all(clientPipes);
    server.close();
  };
  return { server, client, connect, clientPipes, clientStreams, close };
}

// ---- tests ----

Deno.test("pipe: a few MiB go both ways byte-exact (sha-256)", async () => {
  const up = pattern(3 * 1024 * 1024 + 17, 11);
  const down = pattern(2 * 1024 * 1024 + 5, 22);
  let upstreamGot = "";
  const t = tunnel(async (conn) => {
    const [got] = await Promise.all([
      readAll(conn),
      writeAll(conn, down).then(() => conn.closeWrite()),
    ]);
    upstreamGot = await sha256(got.bytes);
  });
  const { user, serverPipe } = await t.connect();
  const [got] = await Promise.all([
    readAll(user),
    writeAll(user, up).then(() => user.closeWrite()),
  ]);
  user.close();
  const serverResult = await serverPipe;
  await waitFor(() => t.clientPipes.length === 1, "client pipe");
  const clientResult = await t.clientPipes[0];
  await t.close();

  assert.equal(got.reset, false);
  assert.equal(await sha256(got.bytes), await sha256(down));
  assert.equal(upstreamGot, await sha256(up));
  assert.deepEqual(serverResult, { bytesOut: up.length, bytesIn: down.length });
  assert.deepEqual(clientResult, { bytesOut: down.length, bytesIn: up.length });
});

Deno.test("pipe: half-close is carried while the other direction keeps flowing", async () => {
  const request = new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n");
  const reply = pattern(1024 * 1024, 3);
  let upstreamSawEof = false;
  const t = tunnel(async (conn) => {
    const got = await readAll(conn); // EOF only arrives if the user's closeWrite is carried
    upstreamSawEof = true;
    assert.deepEqual(got.bytes, request);
    // Only now, after the EOF, send the whole reply.
    await writeAll(conn, reply);
    await conn.closeWrite();
  });
  const { user, serverPipe } = await t.connect();
  await writeAll(user, request);
  await user.closeWrite();
  const got = await readAll(user);
  user.close();
  const result = await serverPipe;
  await t.close();
  assert.ok(upstreamSawEof);
  assert.equal(got.reset, false);
  assert.equal(await sha256(got.bytes), await sha256(reply));
  assert.equal(result.error, undefined);
  assert.equal(result.bytesOut, request.length);
  assert.equal(result.bytesIn, reply.length);
});

Deno.test("pipe: a remote reset closes the TCP connection and reports the reset", async () => {
  const release = Promise.withResolvers<void>();
  const t = tunnel(async (conn) => {
    await conn.write(new TextEncoder().encode("hello"));
    await release.promise;
  });
  const { user, serverPipe } = await t.connect();
  const first = new Uint8Array(5);
  let n = 0;
  while (n < 5) n += (await user.read(first.subarray(n)))!;
  await waitFor(() => t.clientStreams.length === 1, "client stream");
  t.clientStreams[0].reset(ResetCode.Refused, "upstream went away");

  const result = await serverPipe;
  const after = await readAll(user); // EOF (or reset) once the pipe closed the connection
  user.close();
  release.resolve();
  const clientResult = await t.clientPipes[0];
  await t.close();
  assert.equal(after.bytes.length, 0);
  assert.ok(result.error instanceof StreamResetError);
  assert.equal(result.error.remote, true);
  assert.equal(result.error.code, ResetCode.Refused);
  assert.equal(result.error.message, "upstream went away");
  assert.equal(result.bytesIn, 5);
  // The client pipe saw its own reset and closed the upstream connection.
  assert.ok(clientResult.error instanceof StreamResetError);
  assert.equal(clientResult.error.remote, false);
});

Deno.test("pipe: losing the tunnel closes every piped TCP connection", async () => {
  const t = tunnel(async (conn) => {
    await readAll(conn);
  });
  const { user, serverPipe } = await t.connect();
  await writeAll(user, pattern(1000));
  await waitFor(() => t.clientPipes.length === 1, "client pipe");
  t.server.close();
  const result = await serverPipe;
  const after = await readAll(user);
  user.close();
  await t.close();
  assert.equal(after.bytes.length, 0);
  assert.ok(result.error instanceof StreamResetError);
  assert.equal(result.error.code, ResetCode.Aborted);
});

// A scripted connection for failures a real socket cannot easily produce.
class FakeConn implements Duplex {
  closed = 0;
  #reads: (Uint8Array | Error | null)[];
  #pending = Promise.withResolvers<void>();
  constructor(reads: (Uint8Array | Error | null)[], readonly failWrite?: Error) {
    this.#reads = reads;
  }
  async read(buffer: Uint8Array): Promise<number | null> {
    const next = this.#reads.shift();
    if (next === undefined) {
      await this.#pending.promise; // blocks until closed
      throw new Deno.errors.BadResource("closed");
    }
    if (next instanceof Error) throw next;
    if (next === null) return null;
    buffer.set(next.subarray(0, buffer.length));
    return Math.min(next.length, buffer.length);
  }
  write(data: Uint8Array): Promise<number> {
    if (this.failWrite) return Promise.reject(this.failWrite);
    return Promise.resolve(data.length);
  }
  closeWrite(): Promise<void> {
    return Promise.reject(new Error("closeWrite failed"));
  }
  close(): void {
    this.closed++;
    this.#pending.resolve();
    if (this.closed > 1) throw new Deno.errors.BadResource("already closed");
  }
}

function fakePair() {
  const [a, b] = memoryLinkPair();
  const accepted: MuxStream[] = [];
  const server = new Mux(a, { role: "server" });
  new Mux(b, { role: "client", onStream: (s) => accepted.push(s) });
  return { server, accepted };
}

Deno.test("pipe: never rejects, and a socket error resets the stream for the peer", async () => {
  for (
    const [name, conn] of [
      ["read error", new FakeConn([new Error("read boom")])],
      ["write error", new FakeConn([], new Error("write boom"))],
      ["closeWrite error", new FakeConn([])],
    ] as const
  ) {
    const { server, accepted } = fakePair();
    const stream = server.open("web");
    await waitFor(() => accepted.length === 1, "accept");
    const peer = accepted[0];
    const peerRead = peer.read().then(() => null, (e) => e);
    if (name === "write error") await peer.write(new Uint8Array([1, 2, 3]));
    if (name === "closeWrite error") peer.end();
    const result = await pipe(stream, conn);
    assert.ok(result.error instanceof Error, `${name}: no error reported`);
    assert.ok(conn.closed >= 1, `${name}: connection not closed`);
    const error = await peerRead;
    assert.ok(error instanceof StreamResetError, `${name}: peer not reset (${error})`);
    assert.equal(error.code, ResetCode.Aborted);
    assert.equal(error.remote, true);
    assert.match(error.message, /boom|failed/);
    server.close();
  }
});

Deno.test("pipe: a connection closed by the runtime does not make pipe reject", async () => {
  const { server, accepted } = fakePair();
  const stream = server.open("web");
  await waitFor(() => accepted.length === 1, "accept");
  const conn = new FakeConn([new TextEncoder().encode("abc"), null]);
  conn.close(); // the first close happened elsewhere; pipe's own close now throws
  conn.closed = 1;
  accepted[0].end();
  const result = await pipe(stream, conn);
  assert.equal(result.bytesOut, 3);
  server.close();
});

Deno.test("pipe: a reset arriving right behind data aborts the connection, not a clean EOF", async () => {
  const [a, b] = memoryLinkPair();
  const accepted: MuxStream[] = [];
  const server = new Mux(a, { role: "server", onStream: (s) => accepted.push(s) });
  b.listen({ record: () => {}, closed: () => {} });
  const frame = (kind: FrameKind, payload: Uint8Array) => ({ kind, stream: 1, payload });
  b.send(encodeFrames([frame(FrameKind.Open, encodeOpen("web"))]));
  await waitFor(() => accepted.length === 1, "accept");
  let closedWrite = false;
  const blocked = Promise.withResolvers<void>();
  const conn: Duplex = {
    read: async () => {
      await blocked.promise;
      throw new Deno.errors.BadResource("closed");
    },
    write: (data) => Promise.resolve(data.length),
    closeWrite: () => {
      closedWrite = true;
      return Promise.resolve();
    },
    close: () => blocked.resolve(),
  };
  const piped = pipe(accepted[0], conn);
  await tick();
  // One record: the last bytes of a response, then the upstream failing.
  b.send(encodeFrames([
    frame(FrameKind.Data, new TextEncoder().encode("partial respon")),
    frame(FrameKind.Reset, encodeReason({ code: ResetCode.Aborted, reason: "upstream died" })),
  ]));
  const result = await piped;
  server.close();
  assert.equal(closedWrite, false, "a reset was passed on as a graceful half-close");
  assert.ok(result.error instanceof StreamResetError, `pipe ended without error`);
});

Deno.test("pipe: a reset after the peer's FIN closes a connection blocked on its read", async () => {
  // The upstream answers and ends its side; the user never ends its own, so
  // the server-side pipe is blocked reading the user when the reset comes.
  const release = Promise.withResolvers<void>();
  const t = tunnel(async (conn) => {
    await conn.write(new TextEncoder().encode("bye"));
    await conn.closeWrite();
    await release.promise;
  });
  const { user, serverPipe } = await t.connect();
  const answer = await readAll(user); // "bye", then EOF: the peer's FIN arrived
  assert.equal(new TextDecoder().decode(answer.bytes), "bye");
  await waitFor(() => t.clientStreams.length === 1, "client stream");
  t.clientStreams[0].reset(ResetCode.Aborted, "upstream reset");
  const result = await serverPipe; // resolves: the reset closed the user's connection
  user.close();
  release.resolve();
  await t.clientPipes[0];
  await t.close();
  assert.ok(result.error instanceof StreamResetError);
  assert.equal(result.error.message, "upstream reset");
});
