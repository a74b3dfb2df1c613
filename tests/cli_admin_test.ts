/**
 * The operator's story through the CLI against real processes: who waits
 * (name, address), accept, who is connected and what flows, `--watch`,
 * revoke, and `-o json` on the actions.
 */

import assert from "node:assert/strict";
import {
  runWormhole,
  startClient,
  startServer,
  tempDir,
  WormholeProcess,
} from "./harness/process.ts";
import { appPort, echoUpstream, eventually, exchangeText } from "./harness/net.ts";

Deno.test("cli admin: requests, accept, peers and apps with traffic, --watch, revoke", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--name",
    "edge-7",
    "--expose",
    `echo=${upstream.address}`,
  ]);
  await client.waitForLog("waiting for the operator to approve this key");
  const admin = ["--admin", server.admin];

  const requests = await runWormhole(["requests", "list", ...admin]);
  assert.equal(requests.code, 0, requests.stderr);
  const [head, row, ...rest] = requests.stdout.trim().split("\n");
  assert.match(head, /^NAME\s+ADDRESS\s+WAITING\s+FINGERPRINT$/);
  assert.match(row, /^edge-7\s+127\.0\.0\.1:\d+\s+\d+s\s+[0-9a-f]{40}$/);
  assert.deepEqual(rest, []);
  const fingerprint = row.split(/\s+/)[3];

  const accept = await runWormhole(["requests", "accept", fingerprint, ...admin, "-o", "json"]);
  assert.equal(accept.code, 0, accept.stderr);
  assert.deepEqual(JSON.parse(accept.stdout), { result: "accepted", subject: fingerprint });

  const port = await appPort(server.admin, "echo");
  assert.equal(await exchangeText(port, "hello through the tunnel"), "hello through the tunnel");
  const apps = await eventually(async () => {
    const out = await runWormhole(["apps", "list", ...admin, "-o", "json"]);
    const [app] = JSON.parse(out.stdout);
    return app?.streamsTotal === 1 && app.streamsOpen === 0 ? app : undefined;
  }, "the finished connection in apps list");
  assert.equal(apps.bytesIn, "hello through the tunnel".length);
  assert.equal(apps.bytesOut, "hello through the tunnel".length);
  for (const rate of ["bytesInPerSecond", "bytesOutPerSecond", "connectionsPerSecond"]) {
    assert.equal(typeof apps[rate], "number", rate);
  }

  const peers = await runWormhole(["peers", "list", ...admin]);
  assert.equal(peers.code, 0, peers.stderr);
  const [peersHead, peer] = peers.stdout.trim().split("\n");
  assert.match(peersHead, /^NAME\s+STATUS\s+ADDRESS\s+SINCE\s+IN\s+OUT\s+STREAMS$/);
  assert.match(peer, /^edge-7\s+connected\s+127\.0\.0\.1:\d+\s+\d+s\s+24 B\s+24 B\s+0$/);
  const wide = await runWormhole(["peers", "list", ...admin, "-o", "wide"]);
  assert.match(
    wide.stdout,
    /STREAMS\s+TOTAL\s+IN\/S\s+OUT\/S\s+CONNS\/S\s+APPS\s+LAST SEEN\s+FINGERPRINT\n/,
  );
  assert.ok(wide.stdout.includes(fingerprint), wide.stdout);

  // --watch prints the list, then again when the peer goes away; SIGTERM ends it with 0.
  await using watcher = new WormholeProcess(["peers", "list", "--watch", "-o", "json", ...admin]);
  const first = await eventually(() => watcher.stdout[0], "the first list");
  assert.equal(JSON.parse(first)[0].status, "connected");
  const revoke = await runWormhole(["peers", "revoke", "edge-7", ...admin]);
  assert.equal(revoke.code, 0, revoke.stderr);
  assert.equal(revoke.stdout, "Revoked edge-7\n");
  const after = await eventually(
    () => watcher.stdout.find((line) => line.includes('"status":"offline"') || line === "[]"),
    "a list printed after the revoke",
  );
  assert.deepEqual(JSON.parse(after), [], "a revoked peer is forgotten");
  const status = await watcher.stop();
  assert.equal(status.code, 0, watcher.dump());
});
