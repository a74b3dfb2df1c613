/**
 * What operators rely on: wss:// with a private CA, Prometheus metrics on
 * the admin port, the client's health endpoint, and logs without secrets.
 */

import assert from "node:assert/strict";
import { startClient, startServer, tempDir } from "./harness/process.ts";
import { appPort, echoUpstream, exchangeText, sleep } from "./harness/net.ts";

const hasOpenssl = await new Deno.Command("openssl", { args: ["version"] }).output()
  .then((out) => out.success, () => false);
if (!hasOpenssl) {
  console.log("openssl not found: the TLS test is skipped (apt-get install openssl)");
}

async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "null", stderr: "piped" })
    .output();
  if (!out.success) throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

/** A throwaway CA and a certificate for 127.0.0.1 signed by it. */
async function makeCertificates(dir: string): Promise<void> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "1",
    "-subj",
    "/CN=wormhole test CA",
  );
  await openssl(
    dir,
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=127.0.0.1",
  );
  await Deno.writeTextFile(`${dir}/san.ext`, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "1",
    "-extfile",
    "san.ext",
  );
}

Deno.test({
  name: "operations: wss:// with a private CA carries traffic; without the CA the client refuses",
  ignore: !hasOpenssl,
  async fn() {
    await using dir = await tempDir();
    await makeCertificates(dir.path);
    await using upstream = echoUpstream();
    const server = await startServer(`${dir.path}/server`, [
      "--tls-cert",
      `${dir.path}/server.pem`,
      "--tls-key",
      `${dir.path}/server.key`,
    ]);
    await using _server = server.proc;
    assert.match(server.url, /^wss:\/\/127\.0\.0\.1:\d+\/wh\/tunnel$/);
    await using untrusting = startClient(server.url, `${dir.path}/untrusting`, [
      "--expose",
      `nope=${upstream.address}`,
    ]);
    const refused = await untrusting.waitForLog("cannot connect to server");
    assert.match(String(refused.error), /certificate|UnknownIssuer|invalid peer/i);
    await using _client = startClient(server.url, `${dir.path}/client`, [
      "--ca-file",
      `${dir.path}/ca.pem`,
      "--expose",
      `echo=${upstream.address}`,
    ]);
    const port = await appPort(server.admin, "echo");
    assert.equal(await exchangeText(port, "over TLS"), "over TLS");
  },
});

function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-z_]+)(\{[^}]*\})? (.+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const wanted = Object.entries(labels).every(([k, v]) => match[2]?.includes(`${k}="${v}"`));
    if (wanted) return Number(match[3]);
  }
  return NaN;
}

Deno.test("operations: /metrics counts peers, apps, streams, bytes and handshake failures", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `echo=${upstream.address}`,
    "--admin-port",
    "0",
  ]);
  const port = await appPort(server.admin, "echo");
  const payload = "x".repeat(10_000);
  assert.equal(await exchangeText(port, payload), payload);
  // A connection that fails its handshake.
  const ws = new WebSocket(server.url);
  await new Promise((resolve) => ws.onopen = resolve);
  const closed = new Promise((resolve) => ws.onclose = resolve);
  ws.send(new Uint8Array([9, 9, 9]));
  await closed;

  let text = "";
  for (let i = 0; i < 100; i++) {
    text = await (await fetch(`${server.admin}/metrics`)).text();
    if (metricValue(text, "wormhole_handshake_failures_total", { reason: "version" }) >= 1) break;
    await sleep(50);
  }
  assert.equal(metricValue(text, "wormhole_peers_connected"), 1);
  assert.equal(metricValue(text, "wormhole_apps_exposed"), 1);
  assert.equal(metricValue(text, "wormhole_pending_requests"), 0);
  assert.equal(metricValue(text, "wormhole_streams_total", { peer: "edge", app: "echo" }), 1);
  const labels = { peer: "edge", app: "echo" };
  assert.equal(metricValue(text, "wormhole_bytes_total", { ...labels, direction: "out" }), 10_000);
  assert.equal(metricValue(text, "wormhole_bytes_total", { ...labels, direction: "in" }), 10_000);
  assert.equal(metricValue(text, "wormhole_handshake_failures_total", { reason: "version" }), 1);
  assert.ok(metricValue(text, "process_resident_memory_bytes") > 0);

  // The client's own endpoint: health, readiness and metrics.
  const clientAdmin = String((await client.waitForLog("admin listening")).url);
  const ready = await fetch(`${clientAdmin}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  const clientText = await (await fetch(`${clientAdmin}/metrics`)).text();
  assert.equal(metricValue(clientText, "wormhole_connected"), 1);
  assert.equal(metricValue(clientText, "wormhole_streams_total", { app: "echo" }), 1);
  assert.equal(
    metricValue(clientText, "wormhole_bytes_total", { app: "echo", direction: "in" }),
    10_000,
  );
  const requests = await fetch(`${clientAdmin}/v1/requests`);
  assert.equal(requests.status, 404);
  await requests.body?.cancel();
});

Deno.test("operations: regression: handshake failures are labelled by meaning, never by a DOMException code", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  // A client that leaves while the operator decides: the decision's abort was
  // counted as reason="20" (DOMException.ABORT_ERR).
  const client = startClient(server.url, `${dir.path}/client`, ["--name", "edge"]);
  await client.waitForLog("waiting for the operator to approve this key");
  await client[Symbol.asyncDispose]();
  let text = "";
  for (let i = 0; i < 100; i++) {
    text = await (await fetch(`${server.admin}/metrics`)).text();
    if (metricValue(text, "wormhole_handshake_failures_total", { reason: "closed" }) >= 1) break;
    await sleep(50);
  }
  assert.equal(metricValue(text, "wormhole_handshake_failures_total", { reason: "closed" }), 1);
  const reasons = [...text.matchAll(/^wormhole_handshake_failures_total\{reason="([^"]*)"\}/gm)]
    .map((match) => match[1]);
  assert.deepEqual(reasons, ["closed"]);
});

Deno.test("operations: the client is not ready while it waits for approval", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, ["--admin-port", "0"]);
  const clientAdmin = String((await client.waitForLog("admin listening")).url);
  await client.waitForLog("waiting for the operator to approve this key");
  const ready = await fetch(`${clientAdmin}/readyz`);
  assert.equal(ready.status, 503);
  await ready.body?.cancel();
  const health = await fetch(`${clientAdmin}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
});

Deno.test("operations: logs never contain key material or the admin token", async () => {
  await using dir = await tempDir();
  const token = "token-that-must-not-leak-0123456789";
  const server = await startServer(`${dir.path}/server`, [
    "--admin-token",
    token,
    "--log-level",
    "debug",
  ]);
  await using _server = server.proc;
  const client = startClient(server.url, `${dir.path}/client`, [
    "--expose",
    "a=127.0.0.1:9",
    "--log-level",
    "debug",
  ]);
  await client.waitForLog("accepted by server");
  await client.stop();
  await server.proc.stop();
  for (const output of [server.proc.dump(), client.dump()]) {
    assert.doesNotMatch(output, new RegExp(token));
    assert.doesNotMatch(output, /PRIVATE KEY|BEGIN/);
  }
  const keyFile = await Deno.readTextFile(`${dir.path}/client/client-key.pem`);
  const keyBody = keyFile.split("\n")[1];
  assert.ok(!client.dump().includes(keyBody));
});
