/**
 * Operator commands that cannot do what they were asked say so in one line,
 * `Cannot <what>: <why>`, with the request that failed and what to do:
 * unknown subjects, and an `--admin` URL that is not the admin API's.
 */

import assert from "node:assert/strict";
import { runWormhole, startServer, tempDir } from "./harness/process.ts";

const FP = "0123456789abcdef0123456789abcdef01234567";

Deno.test("cli admin errors: unknown subjects and a wrong --admin URL give one clear line, exit 1", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  const admin = server.admin;
  const cases: [string[], string][] = [
    [
      ["requests", "accept", FP, "--admin", admin],
      `Cannot accept ${FP}: no pending request for ${FP} (POST ${admin}/v1/requests/${FP} answered 404)`,
    ],
    [
      ["requests", "decline", FP, "--admin", admin],
      `Cannot decline ${FP}: no pending request for ${FP} (DELETE ${admin}/v1/requests/${FP} answered 404)`,
    ],
    [
      ["peers", "revoke", "nobody", "--admin", admin],
      `Cannot revoke nobody: no peer named nobody (DELETE ${admin}/v1/peers/nobody answered 404)`,
    ],
    [
      ["denied", "remove", FP, "--admin", admin],
      `Cannot lift the denial of ${FP}: ${FP} is not denied (DELETE ${admin}/v1/denied/${FP} answered 404)`,
    ],
    // The tunnel's port instead of the admin API's.
    [
      ["apps", "list", "--admin", server.url.replace("ws://", "http://").replace("/wh/tunnel", "")],
      "Cannot list the apps: not found: /v1/apps (GET ",
    ],
  ];
  for (const [args, expected] of cases) {
    const { code, stdout, stderr } = await runWormhole(args);
    assert.equal(code, 1, stderr);
    assert.equal(stdout, "");
    const lines = stderr.trim().split("\n");
    assert.equal(lines.length, 1, stderr);
    assert.ok(lines[0].startsWith(`error: ${expected}`), lines[0]);
  }
  const tunnel = await runWormhole(["peers", "list", "--admin", `${admin}/prefix`]);
  assert.match(tunnel.stderr, /; is --admin the admin API's base URL \(--admin-host:--admin-port/);
});
