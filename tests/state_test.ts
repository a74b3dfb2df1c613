/**
 * State that outlives the processes, end to end with real processes: ports
 * that stay across a restart, declines that last, and all of it (keys,
 * approvals, ports, pins) kept in Kubernetes Secrets of the fake API server.
 */

import assert from "node:assert/strict";
import { runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";
import { appPort, echoUpstream, exchangeText, quietPorts, sleep } from "./harness/net.ts";
import { type FakeKube, kubectl, kubectlMissing, startFakeKube } from "./fake_kube/mod.ts";
import { proxyServiceName } from "../src/k8s/mod.ts";

const SERVER_SECRET = "wormhole-server-state";
const missingKubectl = await kubectlMissing();
const CLIENT_SECRET = "wormhole-client-state";

const TOKEN = ["--admin-token", "s3cr3t"];
const AUTH = { authorization: "Bearer s3cr3t" };

async function requests(admin: string): Promise<string[]> {
  return await (await fetch(`${admin}/v1/requests`, { headers: AUTH })).json();
}

Deno.test("ports: a restarted server gives each (peer, app) the port it had, from its state", async () => {
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  // Tunnel and app ports below the ephemeral range: nothing else takes them while it is down.
  const quiet = quietPorts(3);
  const first = await startServer(`${dir.path}/server`, [
    "--port",
    String(quiet),
    "--port-range",
    `${quiet + 1}-${quiet + 2}`,
  ]);
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
  const byApp = (a: { app: string }, b: { app: string }) => a.app.localeCompare(b.app);
  assert.deepEqual(stored.ports.sort(byApp), [
    { peer: "edge", app: "again", port: before[1] },
    { peer: "edge", app: "echo", port: before[0] },
  ]);
  // The same state, a new process: the reconnecting client's apps get their ports back.
  const second = await startServer(`${dir.path}/server`, [
    "--port",
    String(quiet),
    "--port-range",
    `${quiet + 1}-${quiet + 2}`,
  ]);
  try {
    const after = [await appPort(second.admin, "echo"), await appPort(second.admin, "again")];
    assert.deepEqual(after, before);
    assert.equal(await exchangeText(after[0], "same port"), "same port");
  } finally {
    await client.stop();
    await second.proc.stop();
  }
});

Deno.test("declines last: a declined key is refused before approval, across a restart, until lifted", async () => {
  await using dir = await tempDir();
  const serverArgs = ["--acceptor", "server", "--deny-for", "0", ...TOKEN];
  const first = await startServer(`${dir.path}/server`, [
    ...serverArgs,
    "--port",
    String(quietPorts()),
  ]);
  const client = startClient(first.url, `${dir.path}/client`, ["--name", "edge"]);
  let fingerprint: string;
  try {
    fingerprint = String((await client.waitForLog((l) => l.msg.startsWith("Sending"))).fingerprint);
    await client.waitForLog("waiting for the operator to approve this key");
    const decline = await runWormhole([
      "requests",
      "decline",
      fingerprint,
      "--admin",
      first.admin,
      ...TOKEN,
    ]);
    assert.equal(decline.code, 0, decline.stderr);
    const unauthorized = await fetch(`${first.admin}/v1/denied`);
    await unauthorized.body?.cancel();
    assert.equal(unauthorized.status, 401, "needs the token");
    const denied = await (await fetch(`${first.admin}/v1/denied`, { headers: AUTH })).json();
    assert.deepEqual(denied.map((d: { name: string; until: unknown }) => [d.name, d.until]), [
      ["edge", null],
    ]);
  } finally {
    await first.proc.stop();
  }
  const stored = JSON.parse(await Deno.readTextFile(`${dir.path}/server/denied.json`));
  assert.equal(stored.denied[0].fingerprint, fingerprint);

  // A new process with the same state: the reconnecting client is refused at once.
  const second = await startServer(`${dir.path}/server`, [
    ...serverArgs,
    "--port",
    new URL(first.url).port,
  ]);
  try {
    const refused = await second.proc.waitForLog("refused a denied key");
    assert.match(String(refused.error), new RegExp(fingerprint));
    await client.waitForLog((l) => /denied for good/.test(String(l.reason ?? "")));
    assert.deepEqual(await requests(second.admin), []);
    const list = await runWormhole(["denied", "list", "--admin", second.admin, ...TOKEN]);
    assert.match(list.stdout, new RegExp(`${fingerprint}\\s+edge\\s+declined\\s+\\S+\\s+forever`));

    const lift = await runWormhole([
      "denied",
      "remove",
      fingerprint,
      "--admin",
      second.admin,
      ...TOKEN,
    ]);
    assert.equal(lift.code, 0, lift.stderr);
    const again = await runWormhole([
      "denied",
      "remove",
      fingerprint,
      "--admin",
      second.admin,
      ...TOKEN,
    ]);
    assert.equal(again.code, 1);
    assert.match(
      again.stderr,
      /^error: Cannot lift the denial of [0-9a-f]{40}: [0-9a-f]{40} is not denied \(DELETE .* answered 404\)$/m,
    );
    for (let i = 0; i < 400 && !(await requests(second.admin)).includes(fingerprint); i++) {
      await sleep(50);
    }
    assert.deepEqual(await requests(second.admin), [fingerprint]);
  } finally {
    await client.stop();
    await second.proc.stop();
  }
});

Deno.test("kubernetes state: server and client keep keys, approvals, ports and the pin in Secrets through a restart with empty disks", async () => {
  await using kube = await startFakeKube();
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const serverEnv = { ...kube.env, POD_NAMESPACE: "central" };
  const clientEnv = { ...kube.env, POD_NAMESPACE: "edge" };
  // App ports below the ephemeral range: no outgoing connection takes one between the servers.
  const quiet = quietPorts(2);
  const serverArgs = [
    "--acceptor",
    "server",
    "--state",
    "kubernetes",
    "--port-range",
    `${quiet}-${quiet + 1}`,
  ];
  const clientArgs = [
    "--name",
    "edge",
    "--state",
    "kubernetes",
    "--expose",
    `echo=${upstream.address}`,
  ];
  const emptyDir = async (name: string) => {
    await Deno.mkdir(`${dir.path}/${name}`);
    return `${dir.path}/${name}`;
  };

  const first = await startServer(await emptyDir("server-1"), serverArgs, serverEnv);
  const firstClient = startClient(first.url, await emptyDir("client-1"), clientArgs, clientEnv);
  let before: { server: unknown; client: unknown; port: number };
  try {
    const server = (await first.proc.waitForLog("created server key")).fingerprint;
    const client = (await firstClient.waitForLog((l) => l.msg.startsWith("Sending"))).fingerprint;
    await firstClient.waitForLog("waiting for the operator to approve this key");
    const accept = await runWormhole([
      "requests",
      "accept",
      String(client),
      "--admin",
      first.admin,
    ]);
    assert.equal(accept.code, 0, accept.stderr);
    await firstClient.waitForLog("pinned the server's key (trust on first use)");
    const port = await appPort(first.admin, "echo");
    before = { server, client, port };
    await waitForEntries(kube, "central", SERVER_SECRET, [
      "approved-peers.json",
      "ports.json",
      "server-key.pem",
    ]);
    await waitForEntries(kube, "edge", CLIENT_SECRET, ["client-key.pem", "server-fingerprint"]);
  } finally {
    await firstClient.stop();
    await first.proc.stop();
  }

  // New processes, new empty state directories: everything comes from the Secrets.
  const second = await startServer(await emptyDir("server-2"), serverArgs, serverEnv);
  const secondClient = startClient(second.url, await emptyDir("client-2"), clientArgs, clientEnv);
  try {
    assert.equal((await second.proc.waitForLog("loaded server key")).fingerprint, before.server);
    const sent = await secondClient.waitForLog((l) => l.msg.startsWith("Sending"));
    assert.equal(sent.fingerprint, before.client);
    // Approved and on the same port without an operator; the pin was kept, not made again.
    const port = await appPort(second.admin, "echo");
    assert.equal(port, before.port);
    assert.equal(await exchangeText(port, "from the Secrets"), "from the Secrets");
    assert.ok(!secondClient.logs.some((l) => l.msg.startsWith("pinned the server's key")));
    assert.ok(!secondClient.logs.some((l) => l.msg.startsWith("waiting for the operator")));
  } finally {
    await secondClient.stop();
    await second.proc.stop();
  }
  for (const name of ["server-1", "client-1", "server-2", "client-2"]) {
    assert.deepEqual([...Deno.readDirSync(`${dir.path}/${name}`)], [], `${name} stays empty`);
  }
});

Deno.test("kubernetes state with --kubernetes: the Secret is in --kubernetes-namespace, and a proxy Service's targetPort still leads to the app after a server restart", async () => {
  await using kube = await startFakeKube();
  await using dir = await tempDir();
  await using upstream = echoUpstream();
  const env = { ...kube.env, POD_NAMESPACE: "elsewhere" };
  const from = quietPorts(22);
  const serverArgs = [
    "--state",
    "kubernetes",
    "--kubernetes",
    "--kubernetes-namespace",
    "central",
    "--kubernetes-labels",
    "app=wormhole-server",
    // Kubernetes mode binds all interfaces by default; tests stay on loopback.
    "--listen-host",
    "127.0.0.1",
    // Not the mode's default 30000-30499, which other tests on this machine start from too.
    "--port-range",
    `${from}-${from + 20}`,
  ];
  const first = await startServer(`${dir.path}/server-1`, [
    ...serverArgs,
    "--port",
    String(from + 21),
  ], env);
  const client = startClient(first.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `echo=${upstream.address}`,
  ]);
  let targetPort: number;
  try {
    const service = await proxyServiceName("edge", "echo");
    await kube.waitFor(() => kube.get("Service", "central", service) !== undefined, 20_000);
    const spec = kube.get("Service", "central", service)!.spec as {
      ports: { targetPort: number }[];
    };
    targetPort = spec.ports[0].targetPort;
    assert.ok(kube.get("Secret", "central", SERVER_SECRET), "the state Secret is in central");
    assert.equal(kube.list("Secret", { namespace: "elsewhere" }).length, 0);
  } finally {
    await first.proc.stop();
  }
  const second = await startServer(`${dir.path}/server-2`, [
    ...serverArgs,
    "--port",
    new URL(first.url).port,
  ], env);
  try {
    const exposed = await second.proc.waitForLog("app exposed");
    assert.equal(exposed.endpoint, `127.0.0.1:${targetPort}`);
    assert.equal(await exchangeText(targetPort, "same target port"), "same target port");
  } finally {
    await client.stop();
    await second.proc.stop();
  }
});

Deno.test({
  name:
    "kubernetes state: removing a denial with kubectl lets the key ask again, without a restart",
  ignore: missingKubectl !== undefined,
  async fn() {
    await using kube = await startFakeKube();
    await using dir = await tempDir();
    const env = { ...kube.env, POD_NAMESPACE: "central" };
    const server = await startServer(
      `${dir.path}/server`,
      ["--acceptor", "server", "--state", "kubernetes"],
      env,
    );
    await using _server = server.proc;
    await using client = startClient(server.url, `${dir.path}/client`, ["--name", "edge"]);
    const fingerprint = String(
      (await client.waitForLog((l) => l.msg.startsWith("Sending"))).fingerprint,
    );
    await client.waitForLog("waiting for the operator to approve this key");
    const decline = await runWormhole([
      "requests",
      "decline",
      fingerprint,
      "--admin",
      server.admin,
    ]);
    assert.equal(decline.code, 0, decline.stderr);
    await waitForEntries(kube, "central", SERVER_SECRET, ["denied.json", "server-key.pem"]);
    await client.waitForLog((l) => /denied until/.test(String(l.reason ?? "")));
    await kubectl(
      kube.env,
      ...["patch", "secret", SERVER_SECRET, "-n", "central", "--type", "json", "-p"],
      JSON.stringify([{ op: "remove", path: "/data/denied.json" }]),
    );
    await server.proc.waitForLog("state changed outside this process");
    for (let i = 0; i < 400 && !(await requests(server.admin)).includes(fingerprint); i++) {
      await sleep(50);
    }
    assert.deepEqual(await requests(server.admin), [fingerprint]);
  },
});

async function waitForEntries(
  kube: FakeKube,
  namespace: string,
  name: string,
  keys: string[],
): Promise<void> {
  await kube.waitFor(() => {
    const data = kube.get("Secret", namespace, name)?.data as Record<string, string> | undefined;
    return JSON.stringify(Object.keys(data ?? {}).sort()) === JSON.stringify(keys);
  });
}

Deno.test("kubernetes state: a damaged state Secret stops the server with one line naming Secret and key", async () => {
  await using kube = await startFakeKube();
  kube.put({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: SERVER_SECRET, namespace: "central" },
    stringData: { "approved-peers.json": "{not json" },
  });
  const { code, stderr } = await runWormhole(
    ["server", "--port", "0", "--admin-port", "0", "--state", "kubernetes", "--log-format", "json"],
    { ...kube.env, POD_NAMESPACE: "central" },
  );
  assert.equal(code, 1, "a failure at run time");
  const errors = stderr.trim().split("\n").filter((line) => line.startsWith("error:"));
  assert.deepEqual(errors, [
    'error: Cannot read key "approved-peers.json" of Secret central/wormhole-server-state: not JSON',
  ]);
  // The key was made and stored before the approvals were read: the next start uses it.
  assert.ok(
    (kube.get("Secret", "central", SERVER_SECRET)?.data as Record<string, string>)[
      "server-key.pem"
    ],
  );
  // `keys fingerprint` reads the same Secret.
  const keys = await runWormhole([
    "keys",
    "fingerprint",
    "--key",
    "server",
    "--state",
    "kubernetes",
  ], {
    ...kube.env,
    POD_NAMESPACE: "central",
  });
  assert.equal(keys.code, 0, keys.stderr);
  const created = stderr.split("\n").filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line)).find((line) => line.msg === "created server key");
  assert.equal(keys.stdout.trim(), created?.fingerprint);
});
