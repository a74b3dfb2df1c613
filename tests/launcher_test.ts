/**
 * `./wormhole`, the launcher at the repository root, as a newcomer runs it
 * right after `npm ci`: from the root and from elsewhere, against a real server.
 */

import assert from "node:assert/strict";
import { VERSION } from "../src/version.ts";
import { startServer, tempDir } from "./harness/process.ts";

const LAUNCHER = new URL("../wormhole", import.meta.url).pathname;

async function launch(args: string[], cwd: string) {
  const output = await new Deno.Command(LAUNCHER, { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  const text = new TextDecoder();
  return {
    code: output.code,
    stdout: text.decode(output.stdout),
    stderr: text.decode(output.stderr),
  };
}

Deno.test("launcher: ./wormhole --version from the root and from another directory", async () => {
  await using dir = await tempDir();
  for (const cwd of [new URL("..", import.meta.url).pathname, dir.path]) {
    const { code, stdout, stderr } = await launch(["--version"], cwd);
    assert.equal(code, 0, stderr);
    assert.equal(stdout.trim(), VERSION);
  }
});

Deno.test("launcher: ./wormhole requests list talks to a running server", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"]);
  await using _server = server.proc;
  const { code, stdout, stderr } = await launch(
    ["requests", "list", "--admin", server.admin, "-o", "json"],
    dir.path,
  );
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), []);
});
