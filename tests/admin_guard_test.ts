/**
 * The admin API against a web page in the operator's browser, with real
 * processes: a pending client cannot be approved by a simple cross-site
 * request or through a rebound DNS name, while the CLI still approves it.
 */

import assert from "node:assert/strict";
import { runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";
import { readAll, writeAll } from "./harness/net.ts";

/** Sends one raw HTTP/1.1 request (any Host header) and returns the status code. */
async function rawStatus(admin: string, head: string): Promise<number> {
  const { hostname, port } = new URL(admin);
  using conn = await Deno.connect({ hostname, port: Number(port) });
  await writeAll(conn, new TextEncoder().encode(`${head}\r\nConnection: close\r\n\r\n`));
  const text = new TextDecoder().decode(await readAll(conn));
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1]);
}

Deno.test("admin guard: regression: a cross-site page cannot approve a pending client; the CLI can", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, ["--name", "edge"]);
  const fingerprint = String(
    (await client.waitForLog((l) => l.msg.startsWith("Sending public key"))).fingerprint,
  );
  await client.waitForLog("waiting for the operator to approve this key");
  const path = `/v1/requests/${fingerprint}`;

  // What fetch(url, { method: "POST", mode: "no-cors", body: "x" }) sends from any page.
  const simple = await fetch(`${server.admin}${path}`, {
    method: "POST",
    headers: { "content-type": "text/plain", origin: "http://evil.example" },
    body: "x",
  });
  assert.equal(simple.status, 403);
  await simple.body?.cancel();
  const noOrigin = await fetch(`${server.admin}${path}`, {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "x",
  });
  assert.equal(noOrigin.status, 415);
  await noOrigin.body?.cancel();
  // DNS rebinding: the page's own name, resolved to 127.0.0.1.
  const port = new URL(server.admin).port;
  assert.equal(
    await rawStatus(server.admin, `GET /v1/requests HTTP/1.1\r\nHost: evil.example:${port}`),
    403,
  );
  assert.equal(
    await rawStatus(
      server.admin,
      `POST ${path} HTTP/1.1\r\nHost: evil.example:${port}\r\nContent-Type: application/json\r\nContent-Length: 0`,
    ),
    403,
  );
  const still = await (await fetch(`${server.admin}/v1/requests`)).json();
  assert.deepEqual(still, [fingerprint]);

  const accepted = await runWormhole(["requests", "accept", fingerprint, "--admin", server.admin]);
  assert.equal(accepted.code, 0, accepted.stderr);
  await client.waitForLog("accepted by server");
});
