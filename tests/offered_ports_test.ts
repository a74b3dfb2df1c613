/**
 * The ports of the apps a server offers a client survive a restart of the
 * client, with real processes: kept in the client's state (files, or the
 * state Secret of the fake API server), taken again while free, and given up
 * with a warning when another socket holds the port; with `--kubernetes` the
 * offer's proxy Service keeps its targetPort.
 */

import assert from "node:assert/strict";
import { startClient, startServer, tempDir, type WormholeProcess } from "./harness/process.ts";
import { echoUpstream, eventually, exchangeText, quietPorts } from "./harness/net.ts";
import { startFakeKube } from "./fake_kube/mod.ts";

/** The port the client listens on for the offered app `app`, from its log. */
async function offeredPort(client: WormholeProcess, app: string): Promise<number> {
  const line = await client.waitForLog((l) => l.msg === "offered app listening" && l.app === app);
  return Number(String(line.endpoint).split(":").pop());
}

Deno.test("offered ports (processes): a client killed (SIGKILL) and started again listens for an offer on the port it had, or warns and takes another when that one is taken", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`, ["--expose", `pub=${upstream.address}`]);
  await using _server = server.proc;
  // Ports below the ephemeral range: no outgoing connection takes one while the client is down.
  const quiet = quietPorts(2);
  const args = ["--name", "edge", "--port-range", `${quiet}-${quiet + 1}`];
  const clientDir = `${dir.path}/client`;

  // The first port of the range is busy at first, so a client that forgot would take it later.
  const first = startClient(server.url, clientDir, args);
  let port: number;
  {
    using _busy = Deno.listen({ hostname: "127.0.0.1", port: quiet });
    try {
      port = await offeredPort(first, "pub");
      // Stored when assigned, not at shutdown: a client killed with SIGKILL keeps it too.
      const stored = await eventually(
        () => Deno.readTextFile(`${clientDir}/offered-ports.json`).catch(() => null),
        "the stored port",
      );
      assert.deepEqual(JSON.parse(stored), {
        version: 1,
        ports: [{ peer: "central", app: "pub", port }],
      });
      first.kill("SIGKILL");
    } finally {
      await first.stop();
    }
  }
  assert.equal(port, quiet + 1);

  // The same state, a new process: the offer gets its port back, not the range's first free one.
  const second = startClient(server.url, clientDir, args);
  try {
    assert.equal(await offeredPort(second, "pub"), port);
    assert.equal(await exchangeText(port, "same port"), "same port");
  } finally {
    await second.stop();
  }
  assert.ok(!second.logs.some((l) => l.level === "warn" && l.app === "pub"), second.dump());

  // Another socket holds the port: the client listens on the other port of its range and says so.
  using _holder = Deno.listen({ hostname: "127.0.0.1", port });
  const third = startClient(server.url, clientDir, args);
  try {
    const other = await offeredPort(third, "pub");
    assert.notEqual(other, port);
    const warning = await third.waitForLog(
      "offered app's previous port is not available: listening on another",
    );
    assert.equal(warning.level, "warn");
    assert.deepEqual([warning.app, warning.previous, warning.port], ["pub", port, other]);
    assert.equal(await exchangeText(other, "moved"), "moved");
  } finally {
    await third.stop();
  }
});

Deno.test("offered ports (processes): with --state kubernetes the ports are kept in the client's state Secret", async () => {
  await using kube = await startFakeKube();
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`, ["--expose", `pub=${upstream.address}`]);
  await using _server = server.proc;
  const quiet = quietPorts(2);
  const args = ["--name", "edge", "--state", "kubernetes", "--port-range", `${quiet}-${quiet + 1}`];
  const env = { ...kube.env, POD_NAMESPACE: "edge" };
  const emptyDir = async (name: string) => {
    await Deno.mkdir(`${dir.path}/${name}`);
    return `${dir.path}/${name}`;
  };

  const first = startClient(server.url, await emptyDir("client-1"), args, env);
  let port: number;
  try {
    port = await offeredPort(first, "pub");
    await kube.waitFor(() => {
      const data = kube.get("Secret", "edge", "wormhole-client-state")?.data as
        | Record<string, string>
        | undefined;
      return data?.["offered-ports.json"] !== undefined;
    });
  } finally {
    await first.stop();
  }
  const data = kube.get("Secret", "edge", "wormhole-client-state")?.data as Record<string, string>;
  assert.deepEqual(JSON.parse(atob(data["offered-ports.json"])).ports, [
    { peer: "central", app: "pub", port },
  ]);

  // A new process with an empty directory: the port comes from the Secret.
  const second = startClient(server.url, await emptyDir("client-2"), args, env);
  try {
    assert.equal(await offeredPort(second, "pub"), port);
    assert.equal(await exchangeText(port, "from the Secret"), "from the Secret");
  } finally {
    await second.stop();
  }
});

Deno.test("offered ports (processes): with --kubernetes, a restarted client's proxy Service keeps its targetPort", async () => {
  await using kube = await startFakeKube();
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const server = await startServer(`${dir.path}/server`, ["--expose", `pub=${upstream.address}`]);
  await using _server = server.proc;
  const quiet = quietPorts(2);
  const args = [
    ...["--name", "edge", "--state", "kubernetes", "--port-range", `${quiet}-${quiet + 1}`],
    ...["--kubernetes", "--kubernetes-namespace", "wormhole"],
    ...["--kubernetes-labels", "app=wormhole-client", "--listen-host", "127.0.0.1"],
  ];
  const targetPort = () => {
    const svc = kube.get("Service", "wormhole", "central-pub");
    return (svc?.spec as { ports?: { targetPort: number }[] } | undefined)?.ports?.[0].targetPort;
  };

  // The range's first port is busy at first: a client that forgot would take it after a restart.
  const first = startClient(server.url, `${dir.path}/client`, args, kube.env);
  {
    using _busy = Deno.listen({ hostname: "127.0.0.1", port: quiet });
    try {
      assert.equal(await offeredPort(first, "pub"), quiet + 1);
      await kube.waitFor(() => targetPort() === quiet + 1);
    } finally {
      await first.stop();
    }
  }
  const second = startClient(server.url, `${dir.path}/client`, args, kube.env);
  try {
    assert.equal(await offeredPort(second, "pub"), quiet + 1);
    // The new process writes the Service again: with the same targetPort.
    const written = await second.waitForLog((l) =>
      l.msg.startsWith("proxy Service ") && l.name === "central-pub"
    );
    assert.equal(written.targetPort, quiet + 1);
    assert.equal(targetPort(), quiet + 1);
    assert.equal(await exchangeText(quiet + 1, "same Service"), "same Service");
  } finally {
    await second.stop();
  }
});
