/**
 * State that outlives the server process, end to end with real processes:
 * ports that stay across a restart, declines that last.
 */

import assert from "node:assert/strict";
import { startClient, startServer, tempDir } from "./harness/process.ts";
import { appPort, echoUpstream, exchangeText } from "./harness/net.ts";

Deno.test("ports: a restarted server gives each (peer, app) the port it had, from its state", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const first = await startServer(`${dir.path}/server`);
  const client = startClient(first.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `echo=${upstream.address}`,
    "--expose",
    `again=${upstream.address}`,
  ]);
  let before: number[];
  try {
    before = [await appPort(first.admin, "echo"), await appPort(first.admin, "again")];
  } finally {
    await first.proc.stop();
  }
  const stored = JSON.parse(await Deno.readTextFile(`${dir.path}/server/ports.json`));
  assert.deepEqual(stored.ports, [
    { peer: "edge", app: "again", port: before[1] },
    { peer: "edge", app: "echo", port: before[0] },
  ]);
  // The same state, a new process: the reconnecting client's apps get their ports back.
  const second = await startServer(`${dir.path}/server`, ["--port", new URL(first.url).port]);
  try {
    const after = [await appPort(second.admin, "echo"), await appPort(second.admin, "again")];
    assert.deepEqual(after, before);
    assert.equal(await exchangeText(after[0], "same port"), "same port");
  } finally {
    await client.stop();
    await second.proc.stop();
  }
});
