/**
 * End-to-end: a real `wormhole server` under hostile input and at its
 * limits (issue 15): unauthenticated memory, file descriptors, apps per peer.
 */

import assert from "node:assert/strict";
import { rssKiB } from "../scripts/bench/lib/proc.ts";
import { CloseCode, Opcode } from "../src/transport/mod.ts";
import { rawFrame, rawUpgrade, readCloseCode, writeUntilClosed } from "../src/transport/testing.ts";
import { appPort, connect, echoUpstream, exchangeText, sleep, waitForApps } from "./harness/net.ts";
import { startClient, startServer, tempDir } from "./harness/process.ts";

/** Runs the server with this few file descriptors (soft and hard). */
const FEW_FDS = ["prlimit", "--nofile=128:128"];

/** A server under the open-files limit of FEW_FDS. */
function startFewFdServer(stateDir: string, args: string[]) {
  return startServer(stateDir, args, undefined, undefined, FEW_FDS);
}

/** `count` TCP connections to the tunnel port of `url` that never say anything. */
async function idleSockets(url: string, count: number): Promise<Deno.TcpConn[]> {
  const port = Number(new URL(url).port);
  const idle = [];
  for (let i = 0; i < count; i++) idle.push(await connect(port));
  return idle;
}

Deno.test("hostile: unauthenticated never-ending messages cost the server KiB, not what was sent", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  const port = Number(new URL(server.url).port);
  const before = await rssKiB(server.proc.pid);
  const attempt = 64 << 20;
  const payload = new Uint8Array(64 * 1024);
  const results = await Promise.all([0, 1, 2, 3].map(async (i) => {
    const raw = await rawUpgrade(port);
    let first = true;
    // Two connections never finish a fragmented message; two send one frame claiming 1 GiB.
    const frame = i % 2 === 0
      ? () => {
        const opcode = first ? Opcode.Binary : Opcode.Continuation;
        first = false;
        return rawFrame(opcode, payload, { fin: false });
      }
      : () => rawFrame(Opcode.Binary, payload, { length: first ? 1 << 30 : payload.length });
    const [code, written] = await Promise.all([
      readCloseCode(raw),
      writeUntilClosed(raw.conn, frame, attempt),
    ]);
    raw.conn.close();
    return { code, written };
  }));
  const after = await rssKiB(server.proc.pid);
  for (const { code, written } of results) {
    assert.equal(code, CloseCode.TooBig);
    // What the kernel took before the server hung up, socket buffers included.
    assert.ok(written < attempt / 4, `${written} of ${attempt} bytes were taken`);
  }
  const grownMiB = (after - before) / 1024;
  assert.ok(grownMiB < 32, `the server grew by ${grownMiB.toFixed(1)} MiB`);
});

Deno.test("hostile: out of file descriptors, the server keeps its listeners and serves once they are free", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  // No handshake cap, and no upgrade timeout before the test is done: the idle
  // sockets exhaust the 128 descriptors until they are closed.
  const server = await startFewFdServer(`${dir.path}/server`, [
    "--max-handshakes",
    "1000",
    "--hello-timeout",
    "5m",
  ]);
  await using _server = server.proc;
  const idle = await idleSockets(server.url, 150);
  await server.proc.waitForLog("cannot accept connections, retrying");
  // The admin API is hit while no descriptor is free, as a probe would.
  await fetch(`${server.admin}/healthz`, { signal: AbortSignal.timeout(500) })
    .then((response) => response.body?.cancel(), () => {});
  await server.proc.waitForLog("admin API failed, restarting");
  for (const conn of idle) conn.close();
  // The admin API starts again (its runtime server failed) once descriptors are free.
  let health = 0;
  for (let i = 0; i < 100 && health !== 200; i++) {
    health = await fetch(`${server.admin}/healthz`).then(async (response) => {
      await response.body?.cancel();
      return response.status;
    }, () => sleep(50).then(() => 0));
  }
  assert.equal(health, 200);
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--expose",
    `echo=${upstream.address}`,
  ]);
  assert.equal(await exchangeText(await appPort(server.admin, "echo"), "still here"), "still here");
  // It ran through it: nothing uncaught (the runtime may warn about files it could not open).
  assert.deepEqual(server.proc.rawStderr.filter((line) => /Uncaught/.test(line)), []);
  await client.stop();
});

Deno.test("hostile: the server starts with its soft open-files limit raised to the hard one", async () => {
  await using dir = await tempDir();
  // The runtime does it (Deno raises RLIMIT_NOFILE when it starts): a shell's
  // soft limit of 1,024 is not what bounds the server.
  const server = await startServer(
    `${dir.path}/server`,
    [],
    undefined,
    undefined,
    ["prlimit", "--nofile=128:4096"],
  );
  await using _server = server.proc;
  // Read with prlimit: reading /proc/<pid>/limits takes --allow-all in Deno.
  const { stdout } = await new Deno.Command("prlimit", {
    args: [
      "--pid",
      String(server.proc.pid),
      "--nofile",
      "--raw",
      "--noheadings",
      "-o",
      "SOFT,HARD",
    ],
  }).output();
  const limits = new TextDecoder().decode(stdout).trim().split(/\s+/);
  assert.deepEqual(limits, ["4096", "4096"]);
});

Deno.test("hostile: --max-handshakes keeps idle sockets from exhausting descriptors", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startFewFdServer(`${dir.path}/server`, ["--hello-timeout", "1s"]);
  await using _server = server.proc;
  // More than the server's descriptors: without the cap (64) it would run out.
  const idle = await idleSockets(server.url, 150);
  await server.proc.waitForLog("refusing connections: too many handshakes");
  // The held sockets are dropped at the upgrade timeout; then a client gets in.
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--expose",
    `echo=${upstream.address}`,
  ]);
  assert.equal(await exchangeText(await appPort(server.admin, "echo"), "in"), "in");
  const metrics = await (await fetch(`${server.admin}/metrics`)).text();
  const refused = Number(/^wormhole_connections_refused_total (\d+)$/m.exec(metrics)?.[1]);
  assert.ok(refused > 0, metrics);
  assert.match(metrics, /^wormhole_handshakes 0$/m);
  assert.equal(
    server.proc.logs.filter((l) => l.msg === "cannot accept connections, retrying").length,
    0,
  );
  for (const conn of idle) conn.close();
  await client.stop();
});

Deno.test("hostile: announces over --max-apps are refused and the peer keeps working", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`, ["--max-apps", "2"]);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--expose",
    `a=${upstream.address}`,
    "--expose",
    `b=${upstream.address}`,
    "--expose",
    `c=${upstream.address}`,
  ]);
  const refused = await server.proc.waitForLog("refusing app: the peer exposes --max-apps apps");
  assert.equal(refused.maxApps, 2);
  const apps = await waitForApps(server.admin, (list) => list.length === 2);
  const expected = ["a", "b", "c"].filter((name) => name !== refused.app);
  assert.deepEqual(apps.map((app) => app.app).sort(), expected);
  assert.equal(await exchangeText(await appPort(server.admin, apps[0].app), "ok"), "ok");
  const metrics = await (await fetch(`${server.admin}/metrics`)).text();
  assert.match(metrics, /^wormhole_apps_refused_total 1$/m);
  await client.stop();
});
