/**
 * A replayed ClientHello of an approved client, against a real server: the
 * hello is public, so anyone who saw one can send it again. Each replay must
 * cost the server neither a state write nor, past a small burst, an RSA
 * signature.
 */

import assert from "node:assert/strict";
import { importIdentity } from "../src/crypto/keys.ts";
import { encodeClientHello, MessageType } from "../src/crypto/messages.ts";
import { rawUpgrade } from "../src/transport/testing.ts";
import { runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";

/** Sends `hello` on a fresh WebSocket; resolves with the first answer's message type. */
function answerTo(url: string, hello: Uint8Array): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  const ws = new WebSocket(url);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => ws.send(hello);
  ws.onmessage = (event) => {
    resolve(new Uint8Array(event.data as ArrayBuffer)[1]);
    ws.close();
  };
  ws.onerror = () => reject(new Error("WebSocket failed"));
  ws.onclose = () => reject(new Error("closed without an answer"));
  return promise.finally(() => {
    if (ws.readyState !== WebSocket.CLOSED) {
      return new Promise<void>((done) => {
        ws.onclose = () => done();
        ws.close();
      });
    }
  });
}

Deno.test("replay: regression: a replayed hello of an approved key writes no state and is rate-limited before signing", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  {
    await using client = startClient(server.url, `${dir.path}/client`, ["--name", "edge"]);
    const pending = await client.waitForLog("waiting for the operator to approve this key");
    const accepted = await runWormhole(
      ["requests", "accept", String(pending.fingerprint), "--admin", server.admin],
    );
    assert.equal(accepted.code, 0, accepted.stderr);
    await client.waitForLog("accepted by server");
  }
  const identity = await importIdentity(
    await Deno.readTextFile(`${dir.path}/client/client-key.pem`),
  );
  const approvals = `${dir.path}/server/approved-peers.json`;
  const before = await Deno.readTextFile(approvals);

  const hello = () =>
    encodeClientHello({
      name: "edge",
      spki: identity.spki,
      nonce: crypto.getRandomValues(new Uint8Array(32)),
      share: crypto.getRandomValues(new Uint8Array(32)),
    });
  const answers: number[] = [];
  for (let i = 0; i < 12; i++) answers.push(await answerTo(server.url, hello()));
  // A burst of signed ServerHellos (the client's own reconnects fit in it), then Rejected
  // without a signature, whatever the replayer does.
  const signed = answers.filter((type) => type === MessageType.ServerHello).length;
  assert.ok(signed <= 10, `signed ${signed} of 12 replays`);
  assert.equal(answers.at(-1), MessageType.Rejected);
  assert.deepEqual(answers.slice(signed), Array(12 - signed).fill(MessageType.Rejected));
  // None of them finished the handshake: nothing was written.
  assert.equal(await Deno.readTextFile(approvals), before);
  // A flood is tallied: one line (the first refusal) until the next interval.
  const refused = server.proc.logs.filter((l) =>
    l.msg === "rejecting peers: too many handshakes per key"
  );
  assert.equal(refused.length, 1);
  assert.equal(refused[0].fingerprint, identity.fingerprint);
});

Deno.test("replay: regression: a flood of upgrades from one address is answered 429 past its burst, before any key exchange", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  const port = Number(new URL(server.url).port);
  // The burst is 64, refilled 16 a second: a loop this long outruns the
  // refill on any machine that upgrades faster than 17 connections a second.
  let status = "";
  for (let i = 0; i < 2000 && !status.includes("429"); i++) {
    const raw = await rawUpgrade(port);
    raw.conn.close();
    status = raw.status;
  }
  assert.equal(status, "HTTP/1.1 429 Too Many Requests");
  const line = await server.proc.waitForLog("refusing upgrades: too many handshakes per address");
  assert.equal(line.remote, "127.0.0.1");
  const metrics = await (await fetch(`${server.admin}/metrics`)).text();
  assert.match(metrics, /^wormhole_handshake_failures_total\{reason="throttled"\} [1-9]\d*$/m);
});
