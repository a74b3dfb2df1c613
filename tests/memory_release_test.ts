/**
 * Real processes, run as every way of running wormhole runs them (the
 * project's permissions, `--allow-ffi` included): once a stretch of load
 * ends, the server and the client each run a full collection and glibc's
 * `malloc_trim(0)`, and say so at debug level (see src/memory). An idle
 * process does not.
 */

import assert from "node:assert/strict";
import { startClient, startServer, tempDir } from "./harness/process.ts";
import { appPort, echoUpstream, exchange, randomBytes } from "./harness/net.ts";

const RELEASED = "memory given back after the load";

Deno.test("memory release (processes): server and client give memory back once the load ends, not while idle", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const debug = ["--log-level", "debug"];
  const server = await startServer(`${dir.path}/server`, debug);
  await using _server = server.proc;
  await using client = startClient(server.url, `${dir.path}/client`, [
    ...debug,
    "--expose",
    `echo=${upstream.address}`,
  ]);
  const port = await appPort(server.admin, "echo");
  // Connected (its app is listed) and idle for more than one look (5 s): keepalives are not load.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  for (const proc of [server.proc, client]) {
    assert.ok(!proc.logs.some((l) => l.msg === RELEASED), proc.dump());
    assert.ok(!proc.logs.some((l) => l.msg.startsWith("memory release off")), proc.dump());
  }

  const data = randomBytes(16 * 1024 * 1024);
  assert.deepEqual(await exchange(port, data), data);

  for (const proc of [server.proc, client]) {
    const line = await proc.waitForLog(RELEASED, 30_000);
    assert.equal(line.level, "debug");
    assert.equal(typeof line.trimmed, "boolean");
    assert.ok(Number(line.rssMiB) > 0, JSON.stringify(line));
  }
});
