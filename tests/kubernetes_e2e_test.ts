/**
 * Kubernetes mode end to end: real `wormhole server` and `wormhole client`
 * processes against the fake API server (tests/fake_kube), one fake standing
 * for both the edge and the central cluster. Edge Services get clusterIP
 * 127.0.0.1 and the client runs with `--kubernetes-upstream cluster-ip`, so
 * traffic through a proxy Service's targetPort reaches a real upstream.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type FakeKube,
  kubectl,
  kubectlMissing,
  type KubeObject,
  type ResourceKind,
  startFakeKube,
} from "./fake_kube/mod.ts";
import {
  echoUpstream,
  quietPorts,
  readAll,
  unusedPort,
  waitForApps,
  writeAll,
} from "./harness/net.ts";
import {
  type ServerProcess,
  startClient,
  startServer,
  tempDir,
  type WormholeProcess,
} from "./harness/process.ts";
import { proxyServiceName } from "../src/k8s/names.ts";

const NS = "wormhole";
const EXPOSED = "wormhole.glothriel.github.com/exposed";
const NAME = "wormhole.glothriel.github.com/name";
const PORTS = "wormhole.glothriel.github.com/ports";
const MANAGED_BY = "app.kubernetes.io/managed-by";
const SELECTOR = { app: "wormhole-server" };

interface Port {
  name?: string;
  port: number;
  protocol?: string;
}

/** Puts an edge Service (clusterIP 127.0.0.1) into the fake. */
function edgeService(
  kube: FakeKube,
  name: string,
  ports: Port[],
  annotations: Record<string, string> = { [EXPOSED]: "yes" },
  namespace = "default",
): KubeObject {
  return kube.put({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, annotations },
    spec: { clusterIP: "127.0.0.1", ports },
  });
}

function startKubeServer(
  state: string,
  kube: FakeKube,
  extra: string[] = [],
): Promise<ServerProcess> {
  return startServer(state, [
    "--kubernetes",
    "--kubernetes-namespace",
    NS,
    "--kubernetes-labels",
    "app=wormhole-server",
    "--unexpose-grace",
    "1s",
    // Kubernetes mode binds all interfaces by default; tests stay on loopback.
    "--listen-host",
    "127.0.0.1",
    ...extra,
  ], kube.env);
}

function startKubeClient(
  url: string,
  state: string,
  kube: FakeKube,
  extra: string[] = [],
): WormholeProcess {
  return startClient(url, state, [
    "--name",
    "edge",
    "--kubernetes",
    "--kubernetes-upstream",
    "cluster-ip",
    ...extra,
  ], kube.env);
}

/** Waits for a proxy Service to exist (and satisfy `check`); returns it. */
async function proxyService(
  kube: FakeKube,
  name: string,
  check: (svc: KubeObject) => boolean = () => true,
): Promise<KubeObject> {
  await kube.waitFor(() => {
    const svc = kube.get("Service", NS, name);
    return svc !== undefined && check(svc);
  }, 20_000);
  return kube.get("Service", NS, name)!;
}

function gone(kube: FakeKube, name: string, kind: ResourceKind = "Service"): Promise<void> {
  return kube.waitFor(() => kube.get(kind, NS, name) === undefined, 20_000);
}

function proxyNames(kube: FakeKube): string[] {
  return kube.list("Service", { namespace: NS }).map((svc) => svc.metadata.name);
}

interface ProxyPort {
  port: number;
  targetPort: number;
  protocol: string;
}

function ports(svc: KubeObject): ProxyPort[] {
  return (svc.spec as { ports: ProxyPort[] }).ports;
}

/** Sends `text` to 127.0.0.1:`port` and reads the whole answer. */
async function roundTrip(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, new TextEncoder().encode(text));
    await conn.closeWrite();
    return new TextDecoder().decode(await readAll(conn));
  } finally {
    conn.close();
  }
}

Deno.test("kubernetes: an annotated Service becomes a proxy Service that carries traffic", async () => {
  await using kube = await startFakeKube();
  await using upstream = echoUpstream();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  edgeService(kube, "web", [{ name: "http", port: upstream.port }]);
  edgeService(kube, "quiet", [{ port: 9 }], {});
  const server = await startKubeServer(serverState.path, kube);
  await using _server = server.proc;
  await using _client = startKubeClient(server.url, clientState.path, kube);

  const svc = await proxyService(kube, "edge-default-web");
  const [port] = ports(svc);
  assert.equal(port.port, upstream.port);
  assert.equal(port.protocol, "TCP");
  assert.ok(port.targetPort >= 30000 && port.targetPort <= 30499, `${port.targetPort}`);
  assert.deepEqual((svc.spec as { selector: unknown }).selector, SELECTOR);
  assert.deepEqual(svc.metadata.labels, {
    [MANAGED_BY]: "wormhole",
    "wormhole.glothriel.github.com/exposed-peer": "edge",
    "wormhole.glothriel.github.com/exposed-app": "default-web",
  });
  assert.deepEqual(svc.metadata.annotations, {
    "wormhole.glothriel.github.com/exposed-peer": "edge",
    "wormhole.glothriel.github.com/exposed-app": "default-web",
  });
  assert.deepEqual(svc.metadata.managedFields?.map((m) => m.manager), ["wormhole"]);
  assert.deepEqual(
    proxyNames(kube),
    ["edge-default-web"],
    "the unannotated Service is not exposed",
  );

  // The Service's targetPort is the server's listener: traffic reaches the edge upstream.
  assert.equal(
    await roundTrip(port.targetPort, "hello through the proxy"),
    "hello through the proxy",
  );
  const apps = await waitForApps(server.admin, (list) => list.length === 1);
  assert.equal(apps[0].app, "default-web");
  assert.equal(apps[0].peer, "edge");
  // In this mode /v1/apps shows where callers in the cluster connect.
  assert.equal(apps[0].endpoint, `edge-default-web.wormhole:${upstream.port}`);

  // Un-annotating withdraws the app; after the grace period the proxy Service goes.
  edgeService(kube, "web", [{ name: "http", port: upstream.port }], { [EXPOSED]: "no" });
  await gone(kube, "edge-default-web");

  // The name annotation picks the app name; deleting the edge Service removes it again.
  edgeService(kube, "web", [{ name: "http", port: upstream.port }], {
    [EXPOSED]: "TRUE",
    [NAME]: "api",
  });
  const named = await proxyService(kube, "edge-api");
  assert.equal(await roundTrip(ports(named)[0].targetPort, "named"), "named");
  kube.delete("Service", "default", "web");
  await gone(kube, "edge-api");
  assert.deepEqual(proxyNames(kube), []);
});

Deno.test("kubernetes: several ports, the ports annotation, and port edits", async () => {
  await using kube = await startFakeKube();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  const server = await startKubeServer(serverState.path, kube);
  await using _server = server.proc;
  await using _client = startKubeClient(server.url, clientState.path, kube);

  edgeService(kube, "multi", [
    { name: "http", port: 8080 },
    { port: 9100 },
    { name: "dns", port: 53, protocol: "UDP" },
  ]);
  const http = await proxyService(kube, "edge-default-multi-http");
  const numbered = await proxyService(kube, "edge-default-multi-9100");
  assert.equal(ports(http)[0].port, 8080);
  assert.equal(ports(numbered)[0].port, 9100);
  assert.notEqual(ports(http)[0].targetPort, ports(numbered)[0].targetPort);
  assert.deepEqual(proxyNames(kube), ["edge-default-multi-9100", "edge-default-multi-http"]);

  // Only the selected port, so no suffix.
  edgeService(kube, "multi", [{ name: "http", port: 8080 }, { port: 9100 }], {
    [EXPOSED]: "1",
    [PORTS]: " 9100 ",
  });
  const single = await proxyService(kube, "edge-default-multi");
  assert.equal(ports(single)[0].port, 9100);
  await gone(kube, "edge-default-multi-http");
  await gone(kube, "edge-default-multi-9100");

  // A port edit keeps the proxy Service (and its ClusterIP) and changes its port.
  const clusterIP = (single.spec as { clusterIP: string }).clusterIP;
  edgeService(kube, "multi", [{ name: "http", port: 8080 }, { port: 9200 }], {
    [EXPOSED]: "1",
    [PORTS]: "9200",
  });
  const edited = await proxyService(kube, "edge-default-multi", (s) => ports(s)[0].port === 9200);
  assert.equal((edited.spec as { clusterIP: string }).clusterIP, clusterIP);
  assert.equal(edited.metadata.uid, single.metadata.uid);
});

Deno.test("kubernetes: a killed client's Services go after the grace; a restarted server leaves no orphans", async () => {
  await using kube = await startFakeKube();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  const owned = { [MANAGED_BY]: "wormhole" };
  // Left over from a peer that is not coming back, and one somebody else owns.
  kube.put({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "old-peer-app", namespace: NS, labels: owned },
    spec: { selector: SELECTOR, ports: [{ port: 1, targetPort: 30400 }] },
  });
  kube.put({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "edge-default-db", namespace: NS, labels: { team: "dba" } },
    spec: { ports: [{ port: 5432 }] },
  });
  edgeService(kube, "web", [{ port: 80 }]);
  edgeService(kube, "db", [{ port: 5432 }]);
  const port = quietPorts();
  let server = await startKubeServer(serverState.path, kube, ["--port", String(port)]);
  const client = startKubeClient(server.url, clientState.path, kube);
  try {
    const web = await proxyService(kube, "edge-default-web");
    await gone(kube, "old-peer-app"); // collected one grace period after start-up
    const foreign = kube.get("Service", NS, "edge-default-db")!;
    assert.deepEqual(foreign.metadata.labels, { team: "dba" }, "not ours: left alone");
    await server.proc.waitForLog((l) => String(l.msg).includes("not managed by wormhole"));

    // Restart the server: the client reconnects, the same Service is applied again.
    await server.proc.stop();
    assert.ok(kube.get("Service", NS, "edge-default-web"), "kept across a server restart");
    server = await startKubeServer(serverState.path, kube, ["--port", String(port)]);
    await server.proc.waitForLog("garbage collection of proxy Services done");
    await waitForApps(server.admin, (list) => list.length === 2);
    assert.deepEqual(proxyNames(kube), ["edge-default-db", "edge-default-web"]);
    const again = kube.get("Service", NS, "edge-default-web")!;
    assert.equal(again.metadata.uid, web.metadata.uid, "the same object: no duplicate");
    assert.deepEqual(kube.get("Service", NS, "edge-default-db")!.metadata.labels, { team: "dba" });

    // Kill the client: after the grace period its Service goes.
    client.kill("SIGKILL");
    await client.exited();
    await gone(kube, "edge-default-web");
    assert.deepEqual(proxyNames(kube), ["edge-default-db"]);
  } finally {
    await client.stop();
    await server.proc.stop();
  }
});

Deno.test("kubernetes: a quick client restart keeps the proxy Service and its ClusterIP", async () => {
  await using kube = await startFakeKube();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  edgeService(kube, "web", [{ port: 80 }]);
  const server = await startKubeServer(serverState.path, kube, ["--unexpose-grace", "30s"]);
  await using _server = server.proc;
  const first = startKubeClient(server.url, clientState.path, kube);
  const before = await proxyService(kube, "edge-default-web");
  await first.stop();
  await server.proc.waitForLog("peer disconnected");
  await using _second = startKubeClient(server.url, clientState.path, kube);
  await server.proc.waitForLog((l) => String(l.msg).includes("back within the grace period"));
  const after = await proxyService(kube, "edge-default-web");
  assert.equal(after.metadata.uid, before.metadata.uid);
  assert.equal(
    (after.spec as { clusterIP: string }).clusterIP,
    (before.spec as { clusterIP: string }).clusterIP,
  );
});

Deno.test("kubernetes: a long peer and app name is cut and hashed deterministically", async () => {
  await using kube = await startFakeKube();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  const peer = "edge-cluster-in-the-far-north-west";
  const app = "monitoring-prometheus-operated-web";
  edgeService(kube, "prometheus", [{ port: 9090 }], { [EXPOSED]: "yes", [NAME]: app });
  const server = await startKubeServer(serverState.path, kube);
  await using _server = server.proc;
  await using _client = startKubeClient(server.url, clientState.path, kube, ["--name", peer]);
  // 54 characters of "<peer>-<app>", "-", 8 hex digits of its SHA-256: the same in every
  // process and every version.
  const expected = "edge-cluster-in-the-far-north-west-monitoring-promethe-bc62dbaa";
  assert.equal(await proxyServiceName(peer, app), expected);
  assert.equal(expected.length, 63);
  const svc = await proxyService(kube, expected);
  assert.equal(svc.metadata.annotations?.["wormhole.glothriel.github.com/exposed-peer"], peer);
  assert.equal(svc.metadata.annotations?.["wormhole.glothriel.github.com/exposed-app"], app);
  assert.deepEqual(proxyNames(kube), [expected]);
});

Deno.test("kubernetes: a 410 during the watch relists without losing the change; a cut watch recovers", async () => {
  await using kube = await startFakeKube();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  const server = await startKubeServer(serverState.path, kube);
  await using _server = server.proc;
  await using client = startKubeClient(server.url, clientState.path, kube);
  edgeService(kube, "first", [{ port: 80 }]);
  await proxyService(kube, "edge-default-first");

  // When the client comes back for its next watch, a change happens and the history is
  // compacted past the client's resourceVersion: the watch answers 410.
  kube.onRequest = (request) => {
    if (request.query.watch === undefined) return;
    kube.onRequest = undefined;
    edgeService(kube, "during-gap", [{ port: 81 }]);
    kube.compact();
  };
  kube.endWatches();
  await proxyService(kube, "edge-default-during-gap");
  await client.waitForLog("watch expired, relisting");

  // A watch cut mid-stream: the client relists and keeps going.
  // The client's watch, and the server's of the Services it could offer (one fake here).
  await kube.waitFor(() => kube.openWatchCount === 2);
  kube.failWatches();
  edgeService(kube, "after-cut", [{ port: 82 }]);
  await proxyService(kube, "edge-default-after-cut");
  assert.deepEqual(proxyNames(kube), [
    "edge-default-after-cut",
    "edge-default-during-gap",
    "edge-default-first",
  ]);
});

Deno.test("kubernetes: network policies are created and deleted with their Service", async () => {
  await using kube = await startFakeKube();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  edgeService(kube, "web", [{ port: 80 }]);
  const server = await startKubeServer(serverState.path, kube, ["--network-policies"]);
  await using _server = server.proc;
  await using _client = startKubeClient(server.url, clientState.path, kube);
  const svc = await proxyService(kube, "edge-default-web");
  await kube.waitFor(() => kube.get("NetworkPolicy", NS, "edge-default-web") !== undefined);
  const policy = kube.get("NetworkPolicy", NS, "edge-default-web")!;
  assert.deepEqual(policy.spec, {
    podSelector: { matchLabels: SELECTOR },
    policyTypes: ["Ingress"],
    ingress: [{
      from: [{
        namespaceSelector: {},
        podSelector: {
          matchLabels: {
            "wormhole.glothriel.github.com/network-policy-consumes-app": "edge-default-web",
          },
        },
      }],
      ports: [{ protocol: "TCP", port: ports(svc)[0].targetPort }],
    }],
  });
  assert.equal(policy.metadata.labels?.[MANAGED_BY], "wormhole");
  kube.delete("Service", "default", "web");
  await gone(kube, "edge-default-web", "NetworkPolicy");
  await gone(kube, "edge-default-web");
});

Deno.test("kubernetes: a client whose watch keeps failing exits non-zero with the reason", async () => {
  const kube = await startFakeKube();
  const env = kube.env;
  const kubeconfig = await Deno.readTextFile(kube.kubeconfigPath);
  await kube.close(); // nobody answers at that address any more
  await using state = await tempDir();
  const config = `${state.path}/kubeconfig`;
  await Deno.writeTextFile(config, kubeconfig);
  await using client = startClient(
    `ws://127.0.0.1:${unusedPort()}/wh/tunnel`,
    state.path,
    [
      "--kubernetes",
      "--kubernetes-failure-limit",
      "2",
      "--kubernetes-failure-window",
      "1ms",
    ],
    { ...env, KUBECONFIG: config },
  );
  const status = await client.exited();
  assert.equal(status.code, 1);
  assert.match(client.rawStderr.join("\n"), /error: Watching services in all namespaces failed/);
  await client.waitForLog((l) => String(l.msg).includes("gave up"));
});

const kubectlProblem = await kubectlMissing();
if (kubectlProblem !== undefined) {
  console.log(`kubernetes e2e: kubectl test skipped: ${kubectlProblem}`);
}

Deno.test({
  name: "kubernetes: kubectl annotate exposes a Service, kubectl sees the proxy Service",
  ignore: kubectlProblem !== undefined,
  async fn() {
    await using kube = await startFakeKube();
    await using serverState = await tempDir();
    await using clientState = await tempDir();
    edgeService(kube, "shop", [{ name: "http", port: 8080 }], {}, "team-a");
    const server = await startKubeServer(serverState.path, kube);
    await using _server = server.proc;
    await using _client = startKubeClient(server.url, clientState.path, kube, [
      "--kubernetes-namespaces",
      "team-a",
    ]);
    await kubectl(kube.env, "annotate", "svc", "-n", "team-a", "shop", `${EXPOSED}=true`);
    await proxyService(kube, "edge-team-a-shop");
    const list = JSON.parse(await kubectl(kube.env, "get", "svc", "-n", NS, "-o", "json"));
    assert.deepEqual(list.items.map((s: KubeObject) => s.metadata.name), ["edge-team-a-shop"]);
    const [svc] = list.items;
    assert.equal(svc.spec.ports[0].port, 8080);
    assert.deepEqual(svc.spec.selector, SELECTOR);
    assert.equal(svc.metadata.labels[MANAGED_BY], "wormhole");

    await kubectl(kube.env, "annotate", "svc", "-n", "team-a", "shop", `${EXPOSED}-`);
    await gone(kube, "edge-team-a-shop");
    const empty = JSON.parse(await kubectl(kube.env, "get", "svc", "-n", NS, "-o", "json"));
    assert.deepEqual(empty.items, []);
  },
});

Deno.test("kubernetes: both directions: a central Service annotated with peers edge-1 becomes central-<app> in edge-1's cluster and carries traffic", async () => {
  // Two clusters, one fake API server each.
  await using central = await startFakeKube();
  await using edge = await startFakeKube();
  await using upstream = echoUpstream();
  await using serverState = await tempDir();
  await using clientState = await tempDir();
  const PEERS = "wormhole.glothriel.github.com/peers";
  const db = (annotations: Record<string, string>) =>
    edgeService(central, "db", [{ port: upstream.port }], annotations);
  db({ [EXPOSED]: "yes", [PEERS]: "edge-1" });
  edgeService(central, "cache", [{ port: 6379 }], { [EXPOSED]: "yes" });
  const server = await startKubeServer(serverState.path, central, [
    "--kubernetes-namespaces",
    "default",
    "--kubernetes-upstream",
    "cluster-ip",
  ]);
  await using _server = server.proc;
  await using _client = startKubeClient(server.url, clientState.path, edge, [
    "--name",
    "edge-1",
    "--kubernetes-namespace",
    NS,
    "--kubernetes-labels",
    "app=wormhole-client",
    "--unexpose-grace",
    "1s",
    // Kubernetes mode binds all interfaces by default; tests stay on loopback.
    "--listen-host",
    "127.0.0.1",
  ]);

  const svc = await proxyService(edge, "central-default-db");
  assert.deepEqual((svc.spec as { selector: unknown }).selector, { app: "wormhole-client" });
  assert.equal(svc.metadata.labels?.[MANAGED_BY], "wormhole");
  const [port] = ports(svc);
  assert.equal(port.port, upstream.port);
  // The targetPort is the client's listener: traffic reaches the central upstream.
  assert.equal(await roundTrip(port.targetPort, "hello from the edge"), "hello from the edge");
  assert.deepEqual(proxyNames(central), [], "nothing is proxied in the central cluster");

  // Without the peers annotation a central Service is not offered; a warning names it.
  const warning = await server.proc.waitForLog("skipping part of an exposed Service");
  assert.equal(warning.service, "default/cache");
  assert.deepEqual(proxyNames(edge), ["central-default-db"]);

  // Un-annotated: the offer is withdrawn, and after the grace period the Service goes.
  db({ [EXPOSED]: "yes" });
  await gone(edge, "central-default-db");
  assert.deepEqual(proxyNames(edge), []);
});
