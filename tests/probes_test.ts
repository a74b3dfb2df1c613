/**
 * The kubelet's probes against real processes: `/healthz` and `/readyz`
 * answer requests without any header even when the admin API (the server's
 * or a client's) has a token, say nothing but their status, and `/readyz` of a server in Kubernetes mode
 * waits for the first sync with the API server.
 *
 * @module
 */

import assert from "node:assert/strict";
import { startFakeKube } from "./fake_kube/mod.ts";
import { renderKubeconfig } from "./fake_kube/kubeconfig.ts";
import { connect, readAll, TcpUpstream, writeAll } from "./harness/net.ts";
import { runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";

const TOKEN = "s3cr3t-probe-token";
const CLIENT_TOKEN = "client-probe-token";

/**
 * GET `url` with no header at all (HTTP/1.0 needs none): the kubelet adds
 * only its User-Agent and Accept, never a token. Returns the status and body.
 */
async function probe(url: string): Promise<{ status: number; body: string }> {
  const { port, pathname } = new URL(url);
  const conn = await connect(Number(port));
  try {
    await writeAll(conn, new TextEncoder().encode(`GET ${pathname} HTTP/1.0\r\n\r\n`));
    const response = new TextDecoder().decode(await readAll(conn));
    const status = /^HTTP\/1\.[01] (\d{3}) /.exec(response);
    assert.ok(status, `not an HTTP response: ${JSON.stringify(response)}`);
    return { status: Number(status[1]), body: response.slice(response.indexOf("\r\n\r\n") + 4) };
  } finally {
    conn.close();
  }
}

Deno.test("probes: /healthz and /readyz answer without the token; every other route needs it", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, [
    "--acceptor",
    "server",
    "--admin-token",
    TOKEN,
  ]);
  await using _server = server.proc;
  // A pending request: the probes must not show its name or key, nor count it.
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--name",
    "edge-probe",
    "--admin-port",
    "0",
    "--admin-token",
    CLIENT_TOKEN,
  ]);
  const pending = await client.waitForLog("waiting for the operator to approve this key");

  assert.deepEqual(await probe(`${server.admin}/healthz`), {
    status: 200,
    body: '{"status":"ok"}\n',
  });
  assert.deepEqual(await probe(`${server.admin}/readyz`), {
    status: 200,
    body: '{"status":"ready"}\n',
  });
  for (const path of ["/v1/apps", "/v1/requests", "/v1/peers", "/metrics"]) {
    const anonymous = await probe(`${server.admin}${path}`);
    assert.equal(anonymous.status, 401, path);
    assert.doesNotMatch(anonymous.body, /edge-probe/, path);
    assert.doesNotMatch(anonymous.body, new RegExp(String(pending.fingerprint)), path);
  }
  const listed = await fetch(`${server.admin}/v1/requests`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.deepEqual(await listed.json(), [pending.fingerprint], "the token still opens the rest");

  // The client's listener: alive, and not ready while it waits for approval.
  const clientAdmin = String((await client.waitForLog("admin listening")).url);
  assert.deepEqual(await probe(`${clientAdmin}/healthz`), {
    status: 200,
    body: '{"status":"ok"}\n',
  });
  assert.deepEqual(await probe(`${clientAdmin}/readyz`), {
    status: 503,
    body: '{"status":"not ready"}\n',
  });
  const accept = await fetch(`${server.admin}/v1/requests/${pending.fingerprint}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
  });
  assert.equal(accept.status, 204);
  await accept.body?.cancel();
  await client.waitForLog("accepted by server");
  assert.deepEqual(await probe(`${clientAdmin}/readyz`), {
    status: 200,
    body: '{"status":"ready"}\n',
  });
  // The rest of the client's API needs its own token (not the server's).
  for (const path of ["/v1/apps", "/v1/events", "/metrics"]) {
    assert.equal((await probe(`${clientAdmin}${path}`)).status, 401, path);
  }
  const serverToken = await fetch(`${clientAdmin}/v1/apps`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(serverToken.status, 401);
  await serverToken.body?.cancel();
  const apps = await fetch(`${clientAdmin}/v1/apps`, {
    headers: { authorization: `Bearer ${CLIENT_TOKEN}` },
  });
  assert.equal(apps.status, 200);
  assert.ok(Array.isArray(await apps.json()));
  const refused = await runWormhole(["apps", "list", "--admin", clientAdmin]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /answered 401\).*set --admin-token or WORMHOLE_ADMIN_TOKEN/);
  const table = await runWormhole(["apps", "list", "--admin", clientAdmin], {
    WORMHOLE_ADMIN_TOKEN: CLIENT_TOKEN,
  });
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /^PEER\s+APP\s+ENDPOINT/m);
  assert.doesNotMatch(client.dump(), new RegExp(CLIENT_TOKEN));
});

Deno.test("probes: in Kubernetes mode the server is ready only once it has synced with the API server", async () => {
  await using dir = await tempDir();
  // Until the API server starts on its port, a listener that hangs up on every connection holds
  // the port (so nothing else takes it meanwhile): every list fails.
  await using hangUp = new TcpUpstream(() => Promise.resolve());
  const port = hangUp.port;
  const kubeconfig = `${dir.path}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    renderKubeconfig({
      server: `http://127.0.0.1:${port}`,
      token: "fake-kube-token",
      name: "fake-kube",
      namespace: "wormhole",
    }),
  );
  const server = await startServer(`${dir.path}/server`, [
    "--admin-token",
    TOKEN,
    "--kubernetes",
    "--kubernetes-namespace",
    "wormhole",
    "--kubernetes-labels",
    "app=wormhole-server",
    "--listen-host",
    "127.0.0.1",
  ], { KUBECONFIG: kubeconfig });
  await using _server = server.proc;
  await server.proc.waitForLog("cannot list proxy Services, not ready yet: retrying");
  assert.deepEqual(await probe(`${server.admin}/readyz`), {
    status: 503,
    body: '{"status":"not ready"}\n',
  });
  assert.equal((await probe(`${server.admin}/healthz`)).status, 200, "alive all the same");

  await hangUp.close();
  await using _kube = await startFakeKube({ port });
  await server.proc.waitForLog("proxy Services synced with the API server: ready");
  assert.deepEqual(await probe(`${server.admin}/readyz`), {
    status: 200,
    body: '{"status":"ready"}\n',
  });
});
