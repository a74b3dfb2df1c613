/**
 * End-to-end pairing and encryption with real processes: the operator
 * approves keys through the CLI, approvals survive restarts, names are pinned
 * to keys, the admin API needs its token, and no byte crosses the WebSocket
 * in clear.
 */

import assert from "node:assert/strict";
import { type LogLine, runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";
import {
  appPort,
  connect,
  echoUpstream,
  exchangeText,
  quietPorts,
  readAll,
  sleep,
  TcpUpstream,
  waitForApps,
  writeAll,
} from "./harness/net.ts";

const MANUAL = ["--acceptor", "server"];

/** The fingerprint a client logs on connect. */
async function loggedFingerprint(
  client: ReturnType<typeof startClient>,
): Promise<string> {
  const line = await client.waitForLog((l) => l.msg.startsWith("Sending public key"));
  return String(line.fingerprint);
}

Deno.test("pairing: pending → accept through the CLI → data flows, and survives a restart", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  // Restarted on the same port: one below the ephemeral range, which no reconnect can take.
  const first = await startServer(`${dir.path}/server`, [
    ...MANUAL,
    "--port",
    String(quietPorts()),
  ]);
  const client = startClient(first.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `echo=${upstream.address}`,
  ]);
  try {
    const fingerprint = await loggedFingerprint(client);
    // The key on disk is the one the client showed.
    const keys = await runWormhole(["keys", "fingerprint", "--state-dir", `${dir.path}/client`]);
    assert.equal(keys.stdout.trim(), fingerprint);
    const keysJson = await runWormhole(
      ["keys", "fingerprint", "--state-dir", `${dir.path}/client`, "-o", "json"],
    );
    assert.deepEqual(JSON.parse(keysJson.stdout), { fingerprint, key: "client" });
    await client.waitForLog("waiting for the operator to approve this key");
    const list = await runWormhole(["requests", "list", "--admin", first.admin, "-o", "json"]);
    const [waiting, ...others] = JSON.parse(list.stdout);
    assert.deepEqual(others, []);
    assert.equal(waiting.fingerprint, fingerprint);
    assert.equal(waiting.name, "edge");
    assert.match(waiting.remote, /^127\.0\.0\.1:\d+$/);
    assert.ok(Date.parse(waiting.waitingSince) <= Date.now());
    assert.deepEqual(await waitForApps(first.admin, () => true), []);

    const accept = await runWormhole(["requests", "accept", fingerprint, "--admin", first.admin]);
    assert.equal(accept.code, 0, accept.stderr);
    const port = await appPort(first.admin, "echo");
    assert.equal(await exchangeText(port, "approved"), "approved");
    const peers = await (await fetch(`${first.admin}/v1/peers`)).json();
    assert.equal(peers.length, 1);
    assert.equal(peers[0].name, "edge");
    assert.equal(peers[0].fingerprint, fingerprint);
    assert.equal(peers[0].connected, true);
    assert.deepEqual(peers[0].apps, ["echo"]);
  } finally {
    await first.proc.stop();
  }

  // Same state dir: the approval was persisted, so no operator is needed.
  const second = await startServer(`${dir.path}/server`, [
    ...MANUAL,
    "--port",
    String(new URL(first.url).port),
  ]);
  try {
    const port = await appPort(second.admin, "echo");
    assert.equal(await exchangeText(port, "no re-approval"), "no re-approval");
  } finally {
    await client.stop();
    await second.proc.stop();
  }
});

Deno.test("pairing: a declined client says so, waits the longest delay, and is refused again", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, MANUAL);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, ["--expose", "a=127.0.0.1:9"]);
  const fingerprint = await loggedFingerprint(client);
  await client.waitForLog("waiting for the operator to approve this key");
  const decline = await runWormhole(["requests", "decline", fingerprint, "--admin", server.admin]);
  assert.equal(decline.code, 0, decline.stderr);
  const refused = await client.waitForLog("the server refused this client");
  assert.match(String(refused.reason), /declined by the operator/);
  // The harness's --reconnect-max is 1s: a refused client waits exactly that.
  const retry = await client.waitForLog("reconnecting");
  assert.equal(retry.inMs, 1000);
  // Back once: refused by the deny list, before any approval request.
  const again = await client.waitForLog(
    (l) => l.msg === "the server refused this client" && /denied/.test(String(l.reason)),
  );
  assert.match(String(again.reason), /this key was declined by the operator and is denied until/);
  await server.proc.waitForLog("refused a denied key");
  assert.deepEqual(await (await fetch(`${server.admin}/v1/requests`)).json(), []);
  // However often it came back meanwhile, it never waited for approval again.
  const declined = client.logs.indexOf(refused);
  assert.ok(declined >= 0);
  assert.ok(
    !client.logs.slice(declined).some((l) => l.msg.startsWith("waiting for the operator")),
  );
});

async function waitForRequests(
  admin: string,
  predicate: (fingerprints: string[]) => boolean,
  headers: HeadersInit = {},
): Promise<string[]> {
  for (let i = 0; i < 400; i++) {
    const list = await (await fetch(`${admin}/v1/requests`, { headers })).json();
    if (predicate(list)) return list;
    await sleep(50);
  }
  throw new Error("requests never matched");
}

Deno.test("pairing: a name is pinned to its key; another key claiming it is refused", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, MANUAL);
  await using _server = server.proc;
  await using owner = startClient(server.url, `${dir.path}/owner`, ["--name", "edge"]);
  const ownerFp = await loggedFingerprint(owner);
  await waitForRequests(server.admin, (fps) => fps.includes(ownerFp));
  assert.equal(
    (await runWormhole(["requests", "accept", ownerFp, "--admin", server.admin])).code,
    0,
  );
  await owner.waitForLog("accepted by server");

  await using impostor = startClient(server.url, `${dir.path}/impostor`, ["--name", "edge"]);
  const impostorFp = await loggedFingerprint(impostor);
  assert.notEqual(impostorFp, ownerFp);
  const refused = await impostor.waitForLog("the server refused this client");
  assert.match(String(refused.reason), /pinned to another key/);
  const warning = await server.proc.waitForLog("refusing peer: the name is pinned to another key");
  assert.equal(warning.fingerprint, impostorFp);
  assert.equal(warning.pinnedFingerprint, ownerFp);
});

Deno.test("pairing: pending requests are capped; extra ones are refused with a reason", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, [...MANUAL, "--max-pending", "2"]);
  await using _server = server.proc;
  await using a = startClient(server.url, `${dir.path}/a`, ["--name", "a"]);
  await using b = startClient(server.url, `${dir.path}/b`, ["--name", "b"]);
  await waitForRequests(server.admin, (fps) => fps.length === 2);
  await using c = startClient(server.url, `${dir.path}/c`, ["--name", "c"]);
  const refused = await c.waitForLog("the server refused this client");
  assert.match(String(refused.reason), /too many pending requests \(2\)/);
  assert.equal((await waitForRequests(server.admin, (fps) => fps.length === 2)).length, 2);
  void a;
  void b;
});

Deno.test("pairing: with --admin-token every admin route but the probes needs it", async () => {
  await using dir = await tempDir();
  const token = "s3cret-token-for-tests";
  const server = await startServer(`${dir.path}/server`, [...MANUAL, "--admin-token", token]);
  await using _server = server.proc;
  for (const path of ["/v1/apps", "/v1/requests", "/v1/peers", "/metrics"]) {
    const anonymous = await fetch(`${server.admin}${path}`);
    assert.equal(anonymous.status, 401, path);
    await anonymous.body?.cancel();
    const wrong = await fetch(`${server.admin}${path}`, {
      headers: { authorization: "Bearer nope" },
    });
    assert.equal(wrong.status, 401, path);
    await wrong.body?.cancel();
  }
  const health = await fetch(`${server.admin}/healthz`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
  const refused = await runWormhole(["requests", "list", "--admin", server.admin]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /401/);
  const allowed = await runWormhole(["requests", "list", "--admin", server.admin], {
    WORMHOLE_ADMIN_TOKEN: token,
  });
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.doesNotMatch(server.proc.dump(), new RegExp(token));
});

Deno.test("pairing: a non-loopback admin API without a token refuses to start, server or client", async () => {
  await using dir = await tempDir();
  for (const args of [["server"], ["client", "--admin-port", "0"]]) {
    const { code, stderr } = await runWormhole([
      ...args,
      "--admin-host",
      "0.0.0.0",
      "--state-dir",
      dir.path,
    ]);
    assert.equal(code, 2, args[0]);
    assert.equal(
      stderr,
      "error: Refusing to serve the admin API on 0.0.0.0 without --admin-token " +
        "(or WORMHOLE_ADMIN_TOKEN); pass --admin-insecure to do it anyway\n",
      args[0],
    );
  }
});

/** The server's fingerprint as `wormhole keys fingerprint --key server` prints it. */
async function serverFingerprint(stateDir: string): Promise<string> {
  const result = await runWormhole([
    "keys",
    "fingerprint",
    "--key",
    "server",
    "--state-dir",
    stateDir,
  ]);
  assert.equal(result.code, 0, result.stderr);
  return result.stdout.trim();
}

const OTHER_KEY = "0123456789abcdef0123456789abcdef01234567";

Deno.test("pairing: a client expecting another server key keeps retrying and says how to re-pin", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  const actual = await serverFingerprint(`${dir.path}/server`);
  const client = startClient(server.url, `${dir.path}/client`, [
    "--server-fingerprint",
    OTHER_KEY,
  ], { WORMHOLE_EXIT_ON_MISMATCH: "false" });
  try {
    const mismatch = (l: LogLine) => l.msg === "server key mismatch: retrying";
    await client.waitForLog((l) => mismatch(l) && client.logs.filter(mismatch).length >= 2);
    for (const line of client.logs.filter(mismatch)) {
      assert.equal(line.level, "error");
      assert.equal(line.expected, OTHER_KEY);
      assert.equal(line.actual, actual);
      assert.equal(line.expectedFrom, "--server-fingerprint");
      assert.match(
        String(line.fix),
        /wormhole keys fingerprint --key server.*--server-fingerprint/,
      );
    }
    // Each mismatch is one attempt, each followed by the backoff.
    assert.ok(client.logs.filter((l) => l.msg === "reconnecting").length >= 1, client.dump());
    assert.equal(client.logs.filter((l) => l.msg === "accepted by server").length, 0);
  } finally {
    // Still running: stopped by its PID, it exits as on any SIGTERM.
    assert.equal((await client.stop()).code, 0, client.dump());
  }
});

Deno.test("pairing: with --exit-on-mismatch a client expecting another server key exits 1 naming both keys", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  const client = startClient(server.url, `${dir.path}/client`, [
    "--server-fingerprint",
    OTHER_KEY,
    "--exit-on-mismatch",
  ]);
  const status = await client.exited();
  assert.equal(status.code, 1, client.dump());
  const actual = await serverFingerprint(`${dir.path}/server`);
  await client.waitForLog("server key mismatch: stopping (--exit-on-mismatch)");
  const output = client.dump();
  assert.match(output, new RegExp(OTHER_KEY));
  assert.match(output, new RegExp(actual));
  assert.match(output, /error: The server's key .* --server-fingerprint/);
});

Deno.test("pairing: --server-fingerprint takes a comma list: any listed key is accepted", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  const actual = await serverFingerprint(`${dir.path}/server`);
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--server-fingerprint",
    `${OTHER_KEY}, SHA256:${actual.toUpperCase()}`,
    "--exit-on-mismatch",
  ]);
  await client.waitForLog("accepted by server");
  const bad = await runWormhole(["client", "--server-fingerprint", `${actual},not-a-key`]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /Cannot parse fingerprint "not-a-key".*\(entry 2 of 2\)/);
});

Deno.test("pairing: after the server key changed the client retries and connects once its pin is deleted", async () => {
  await using dir = await tempDir();
  const first = await startServer(`${dir.path}/server-a`, ["--port", String(quietPorts())]);
  const client = startClient(first.url, `${dir.path}/client`);
  try {
    const pinned = await client.waitForLog("pinned the server's key (trust on first use)");
    await first.proc.stop();
    // Another server (another key) at the same address.
    const second = await startServer(`${dir.path}/server-b`, [
      "--port",
      String(new URL(first.url).port),
    ]);
    await using _second = second.proc;
    const mismatch = await client.waitForLog("server key mismatch: retrying");
    assert.equal(mismatch.expected, pinned.serverFingerprint);
    assert.equal(mismatch.actual, await serverFingerprint(`${dir.path}/server-b`));
    assert.equal(mismatch.expectedFrom, pinned.file);
    assert.match(String(mismatch.fix), new RegExp(`delete ${pinned.file}`));
    // The operator checked the new key and deletes the pin: the next attempt pins it.
    await Deno.remove(String(pinned.file));
    const repinned = await client.waitForLog(
      (l) =>
        l.msg === "pinned the server's key (trust on first use)" &&
        l.serverFingerprint === mismatch.actual,
    );
    assert.equal(repinned.file, pinned.file);
    const after = (l: LogLine) => client.logs.indexOf(l) > client.logs.indexOf(repinned);
    await client.waitForLog((l) => l.msg === "accepted by server" && after(l));
  } finally {
    await client.stop();
  }
});

Deno.test("pairing: revoking a peer disconnects it and denies its key until the denial is lifted", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, MANUAL);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    "a=127.0.0.1:9",
  ]);
  const fingerprint = await loggedFingerprint(client);
  await waitForRequests(server.admin, (fps) => fps.includes(fingerprint));
  await runWormhole(["requests", "accept", fingerprint, "--admin", server.admin]);
  await appPort(server.admin, "a");
  const revoke = await runWormhole(["peers", "revoke", "edge", "--admin", server.admin]);
  assert.equal(revoke.code, 0, revoke.stderr);
  await waitForApps(server.admin, (apps) => apps.length === 0);
  // Denied: it comes back, is refused, and never shows up as a request.
  const denied = await runWormhole(["denied", "list", "--admin", server.admin, "-o", "json"]);
  assert.deepEqual(
    JSON.parse(denied.stdout).map((d: { fingerprint: string; reason: string }) => [
      d.fingerprint,
      d.reason,
    ]),
    [[fingerprint, "revoked"]],
  );
  await client.waitForLog(
    (l) => l.msg === "the server refused this client" && /revoked/.test(String(l.reason)),
  );
  assert.deepEqual(await (await fetch(`${server.admin}/v1/requests`)).json(), []);
  // Lifted: its key needs approval again.
  const lift = await runWormhole(["denied", "remove", fingerprint, "--admin", server.admin]);
  assert.equal(lift.code, 0, lift.stderr);
  await waitForRequests(server.admin, (fps) => fps.includes(fingerprint));
  const missing = await runWormhole(["peers", "revoke", "nobody", "--admin", server.admin]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /404/);
});

Deno.test("pairing: a tap on the WebSocket never sees the transferred pattern in clear", async () => {
  await using dir = await tempDir();
  const pattern = new TextEncoder().encode("WORMHOLE-PLAINTEXT-PATTERN-0123456789;");
  const payload = new Uint8Array(pattern.length * 20000);
  for (let at = 0; at < payload.length; at += pattern.length) payload.set(pattern, at);
  await using upstream = new TcpUpstream(async (conn) => {
    await writeAll(conn, payload);
    await conn.closeWrite();
    await readAll(conn);
  });
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  // A TCP relay between client and server that records every byte both ways.
  const tapped: Uint8Array[] = [];
  const serverPort = Number(new URL(server.url).port);
  await using tap = new TcpUpstream(async (inbound) => {
    const outbound = await connect(serverPort);
    const relay = async (from: Deno.Conn, to: Deno.Conn) => {
      const buffer = new Uint8Array(65536);
      try {
        while (true) {
          const n = await from.read(buffer);
          if (n === null) break;
          tapped.push(buffer.slice(0, n));
          await writeAll(to, buffer.subarray(0, n));
        }
      } catch {
        // One side closed.
      }
      try {
        to.close();
      } catch {
        // Already closed.
      }
    };
    await Promise.all([relay(inbound, outbound), relay(outbound, inbound)]);
  });
  const client = startClient(
    server.url.replace(`:${serverPort}/`, `:${tap.port}/`),
    `${dir.path}/client`,
    ["--expose", `pattern=${upstream.address}`],
  );
  try {
    const port = await appPort(server.admin, "pattern");
    const conn = await connect(port);
    const received = await readAll(conn);
    conn.close();
    assert.equal(received.length, payload.length);
  } finally {
    await client.stop();
  }
  const wire = new Uint8Array(tapped.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of tapped) {
    wire.set(chunk, at);
    at += chunk.length;
  }
  assert.ok(wire.length > payload.length, "the transfer went through the tap");
  const needle = new TextDecoder("latin1").decode(pattern.subarray(0, 16));
  assert.equal(new TextDecoder("latin1").decode(wire).includes(needle), false);
});
