/**
 * End-to-end: real `wormhole server` and `wormhole client` processes, real
 * TCP upstreams and callers on 127.0.0.1.
 */

import assert from "node:assert/strict";
import {
  startClient,
  startServer,
  startTunnel,
  tempDir,
  type WormholeProcess,
} from "./harness/process.ts";
import {
  appPort,
  connect,
  echoUpstream,
  exchange,
  quietPorts,
  randomBytes,
  readAll,
  sha256,
  sleep,
  TcpUpstream,
  unusedPort,
  waitForApps,
  writeAll,
} from "./harness/net.ts";

Deno.test("tunnel: 64 MiB of random bytes arrive sha256-exact in both directions", async () => {
  await using dir = await tempDir();
  const size = 64 << 20;
  const down = randomBytes(size);
  let upHash = "";
  // The upstream sends `down` while reading everything the caller sends.
  await using upstream = new TcpUpstream(async (conn) => {
    const [received] = await Promise.all([
      readAll(conn),
      writeAll(conn, down).then(() => conn.closeWrite()),
    ]);
    upHash = await sha256(received);
  });
  await using tunnel = await startTunnel(dir.path, [`bulk=${upstream.address}`]);
  const { server } = tunnel;
  const port = await appPort(server.admin, "bulk");
  const up = randomBytes(size);
  const received = await exchange(port, up);
  assert.equal(received.length, size);
  assert.equal(await sha256(received), await sha256(down));
  // The upstream's hash is set once its connection finished.
  while (upHash === "") await sleep(10);
  assert.equal(upHash, await sha256(up));
});

Deno.test("tunnel: 200 concurrent connections each get their own payload echoed", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  await using tunnel = await startTunnel(dir.path, [`echo=${upstream.address}`]);
  const { server } = tunnel;
  const port = await appPort(server.admin, "echo");
  const results = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const payload = randomBytes(1024 + i * 97);
      const echoed = await exchange(port, payload);
      return (await sha256(echoed)) === (await sha256(payload));
    }),
  );
  assert.equal(results.filter(Boolean).length, 200);
});

Deno.test("tunnel: a caller that shuts its write side still reads the whole answer", async () => {
  await using dir = await tempDir();
  const answer = randomBytes(3 << 20);
  // The upstream reads the whole request first, then answers: it only
  // answers once it has seen the caller's FIN.
  await using upstream = new TcpUpstream(async (conn) => {
    const request = await readAll(conn);
    await writeAll(conn, new TextEncoder().encode(`${request.length}\n`));
    await writeAll(conn, answer);
  });
  await using tunnel = await startTunnel(dir.path, [`half=${upstream.address}`]);
  const { server } = tunnel;
  const port = await appPort(server.admin, "half");
  const conn = await connect(port);
  await writeAll(conn, randomBytes(12345));
  await conn.closeWrite();
  const received = await readAll(conn);
  conn.close();
  const header = new TextEncoder().encode("12345\n");
  assert.deepEqual(received.subarray(0, header.length), header);
  assert.equal(await sha256(received.slice(header.length)), await sha256(answer));
});

Deno.test("tunnel: an upstream refusing closes the caller's connection, the server keeps serving", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const closedPort = unusedPort();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--expose",
    `dead=127.0.0.1:${closedPort}`,
    "--expose",
    `echo=${upstream.address}`,
  ]);
  const deadPort = await appPort(server.admin, "dead");
  const echoPort = await appPort(server.admin, "echo");
  for (let i = 0; i < 3; i++) {
    const conn = await connect(deadPort);
    // The caller sees end-of-stream (or a reset) instead of hanging.
    const received = await readAll(conn).catch(() => new Uint8Array());
    conn.close();
    assert.equal(received.length, 0);
  }
  await client.waitForLog("upstream refused the connection");
  const echoed = await exchange(echoPort, new TextEncoder().encode("still alive"));
  assert.equal(new TextDecoder().decode(echoed), "still alive");
  // Still running: it has not exited, and it answers its probe.
  const running = await Promise.race([
    server.proc.exited().then(() => false),
    fetch(`${server.admin}/healthz`).then(async (response) => {
      await response.body?.cancel();
      return response.status === 200;
    }),
  ]);
  assert.equal(running, true, "the server exited or stopped answering");
});

Deno.test("tunnel: killing the client closes its listeners and drops its apps", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  const client = startClient(server.url, `${dir.path}/client`, [
    "--expose",
    `echo=${upstream.address}`,
  ]);
  let port: number;
  try {
    port = await appPort(server.admin, "echo");
  } finally {
    client.kill("SIGKILL");
    await client.exited();
  }
  await waitForApps(server.admin, (apps) => apps.length === 0);
  await assert.rejects(connect(port), Deno.errors.ConnectionRefused);
  await server.proc.waitForLog("peer disconnected");
});

Deno.test("tunnel: an app removed from the apps file is withdrawn, an added one exposed", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const file = `${dir.path}/apps.yaml`;
  await Deno.writeTextFile(file, `- name: one\n  address: ${upstream.address}\n`);
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, ["--apps-file", file]);
  const port = await appPort(server.admin, "one");
  await Deno.writeTextFile(file, JSON.stringify([{ name: "two", address: upstream.address }]));
  await waitForApps(server.admin, (apps) => apps.map((a) => a.app).join() === "two");
  await assert.rejects(connect(port), Deno.errors.ConnectionRefused);
  await client.waitForLog((line) => line.msg === "app withdrawn" && line.app === "one");
  // A broken file keeps the apps the client has.
  await Deno.writeTextFile(file, "- name: [unclosed\n");
  await client.waitForLog("cannot use apps file, keeping the apps I have");
  const apps = await waitForApps(server.admin, (list) => list.length === 1);
  assert.equal(apps[0].app, "two");
});

Deno.test("tunnel: after a server restart the client comes back by itself", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const tunnelPort = quietPorts();
  const first = await startServer(`${dir.path}/server`, ["--port", String(tunnelPort)]);
  await using client = startClient(first.url, `${dir.path}/client`, [
    "--expose",
    `echo=${upstream.address}`,
  ]);
  try {
    await appPort(first.admin, "echo");
  } finally {
    first.proc.kill("SIGKILL");
    await first.proc.exited();
  }
  await client.waitForLog("disconnected from server");
  const second = await startServer(`${dir.path}/server`, ["--port", String(tunnelPort)]);
  await using _second = second.proc;
  const port = await appPort(second.admin, "echo");
  const echoed = await exchange(port, new TextEncoder().encode("back again"));
  assert.equal(new TextDecoder().decode(echoed), "back again");
});

Deno.test("tunnel: a slow reader of a 256 MiB stream keeps both processes' memory bounded", async () => {
  await using dir = await tempDir();
  const size = 256 << 20;
  const block = randomBytes(1 << 20);
  await using upstream = new TcpUpstream(async (conn) => {
    for (let sent = 0; sent < size; sent += block.length) await writeAll(conn, block);
    await conn.closeWrite();
    await readAll(conn);
  });
  await using tunnel = await startTunnel(dir.path, [`big=${upstream.address}`]);
  const { server, client } = tunnel;
  const port = await appPort(server.admin, "big");
  const conn = await connect(port);
  const buffer = new Uint8Array(64 * 1024);
  let received = 0;
  let peakServer = 0;
  let peakClient = 0;
  let reads = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    received += n;
    // Read slowly for the first 16 MiB, while the upstream could flood the tunnel.
    if (++reads % 4 === 0 && received < 16 << 20) await sleep(20);
    if (reads % 64 === 0) {
      peakServer = Math.max(peakServer, await server.proc.rssKiB());
      peakClient = Math.max(peakClient, await client.rssKiB());
    }
  }
  conn.close();
  assert.equal(received, size);
  console.log(`peak RSS: server ${peakServer} KiB, client ${peakClient} KiB`);
  // Without flow control one of them would buffer most of the 256 MiB.
  assert.ok(peakServer < 128 * 1024, `server peak RSS ${peakServer} KiB`);
  assert.ok(peakClient < 128 * 1024, `client peak RSS ${peakClient} KiB`);
});

Deno.test("tunnel: garbage and oversized frames close only the offending connection", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  await using tunnel = await startTunnel(dir.path, [`echo=${upstream.address}`]);
  const { server } = tunnel;
  const port = await appPort(server.admin, "echo");

  const attack = async (payload: Uint8Array | string) => {
    const ws = new WebSocket(server.url);
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = reject;
    });
    const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
    ws.send(payload);
    return await closed;
  };
  // A ClientHello whose name claims 60000 bytes in a 100-byte message.
  const truncated = new Uint8Array(100);
  truncated.set([1, 1, 0xea, 0x60]);
  await attack(randomBytes(4096));
  await attack(truncated);
  await attack(randomBytes(2 << 20));
  await attack("text is not allowed");
  // Nothing is trusted before the handshake: each attempt fails there.
  for (let i = 0; i < 50 && count(server.proc, "handshake failed") < 3; i++) await sleep(50);
  assert.ok(count(server.proc, "handshake failed") >= 3, server.proc.dump());

  const echoed = await exchange(port, new TextEncoder().encode("unaffected"));
  assert.equal(new TextDecoder().decode(echoed), "unaffected");
  assert.equal((await waitForApps(server.admin, (apps) => apps.length === 1)).length, 1);
});

Deno.test("tunnel: a connection that never says hello is closed after --hello-timeout", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--hello-timeout", "300ms"]);
  await using _server = server.proc;
  const ws = new WebSocket(server.url);
  const closed = new Promise<CloseEvent>((resolve) => ws.onclose = resolve);
  const event = await closed;
  assert.match(event.reason, /handshake failed/);
  await server.proc.waitForLog((line) =>
    line.msg === "handshake failed" && line.code === "timeout"
  );
});

function count(proc: WormholeProcess, msg: string): number {
  return proc.logs.filter((line) => line.msg === msg).length;
}
