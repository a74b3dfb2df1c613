/**
 * The single-file build (`deno task bundle`) is the program: its version, a
 * local tunnel and the operator commands all run from dist/wormhole.js.
 */

import assert from "node:assert/strict";
import { runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";
import { appPort, echoUpstream, exchange } from "./harness/net.ts";
import { VERSION } from "../src/version.ts";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("bundle: dist/wormhole.js prints its version, runs a tunnel and lists requests", async () => {
  await using dir = await tempDir();
  const bundle = `${dir.path}/wormhole.js`;
  const build = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--keep-names", "-o", bundle, "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(build.code, 0, new TextDecoder().decode(build.stderr));

  const version = await runWormhole(["--version"], {}, bundle);
  assert.equal(version.stdout.trim(), VERSION);

  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`, ["--acceptor", "server"], {}, bundle);
  await using _server = server.proc;
  await using client = startClient(
    server.url,
    `${dir.path}/client`,
    [
      "--expose",
      `echo=${upstream.address}`,
    ],
    {},
    bundle,
  );
  const announced = await client.waitForLog((l) => l.msg.startsWith("Sending public key"));
  const fingerprint = String(announced.fingerprint);
  await client.waitForLog("waiting for the operator to approve this key");
  const list = await runWormhole(
    ["requests", "list", "--admin", server.admin, "-o", "json"],
    {},
    bundle,
  );
  assert.deepEqual(
    JSON.parse(list.stdout).map((r: { fingerprint: string }) => r.fingerprint),
    [fingerprint],
  );
  // The dashboard's files are in the bundle too.
  const page = await fetch(`${server.admin}/`);
  assert.match(await page.text(), /<script src="\/dashboard\.js" defer><\/script>/);
  const script = await fetch(`${server.admin}/dashboard.js`);
  assert.match(await script.text(), /\/v1\/events/);
  const accept = await runWormhole(
    ["requests", "accept", fingerprint, "--admin", server.admin],
    {},
    bundle,
  );
  assert.equal(accept.code, 0, accept.stderr);
  const port = await appPort(server.admin, "echo");
  const echoed = await exchange(port, new TextEncoder().encode("bundled"));
  assert.equal(new TextDecoder().decode(echoed), "bundled");
});
