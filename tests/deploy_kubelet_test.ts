/**
 * The deployment files, run as a kubelet runs them: each rendered workload
 * (the Helm chart with its defaults and with common overrides, and the
 * kustomize overlays) starts as a pod of the test cluster in
 * tests/deploy/kubelet — the image's program with the pod's args and env, as
 * uid 1337 on a read-only root with its volumes, in-cluster configuration to
 * the fake API server. Then every probe must pass as the kubelet sends it
 * (no token) within its bound, every containerPort must be listened on at the
 * pod IP, every Service must route to a declared containerPort, and the
 * client pod must reach the server pod through the tunnel Service. Both
 * admin APIs take their token from a Secret: the probes pass without it, the
 * rest answers 401.
 *
 * A server that answers its readiness probe with 401 never gets Service
 * traffic here, as in a real cluster: this is the test of that class of bug.
 */

import assert from "node:assert/strict";
import { loadChart, type Manifest, renderChart, type RenderOptions } from "./deploy/chart.ts";
import { kustomize } from "./deploy/kustomize.ts";
import { clusterUnavailable, TestCluster, type TestPod } from "./deploy/kubelet/cluster.ts";
import { Forwarder } from "./deploy/kubelet/forward.ts";
import { kubectlMissing } from "./fake_kube/mod.ts";

const ROOT = new URL("../", import.meta.url);
const chart = loadChart(new URL("deploy/helm/wormhole/", ROOT));

const EXPOSED = "wormhole.glothriel.github.com/exposed";

const unavailable = clusterUnavailable() ?? (await kubectlMissing());
if (unavailable) console.log(`deploy_kubelet_test: SKIPPED, ${unavailable}`);

/** Where the parts of one deployment are. */
interface Layout {
  namespace: string;
  server: string;
  serverService: string;
  adminService: string;
  adminSecret: string;
  client: string;
  /** The Secret with the client's admin token (key admin-token). */
  clientAdminSecret: string;
  /** The client's peer name. */
  peer: string;
  /** Namespace of the client, when it differs. */
  clientNamespace?: string;
}

function secretValue(objects: Manifest[], namespace: string, name: string, key: string): string {
  const secret = objects.find((o) =>
    o.kind === "Secret" && o.metadata.name === name && o.metadata.namespace === namespace
  ) as (Manifest & { data: Record<string, string> }) | undefined;
  assert.ok(secret, `no Secret ${namespace}/${name}`);
  return atob(secret.data[key]);
}

function userSecret(namespace: string, name: string, value: string): Manifest {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: "Opaque",
    data: { "admin-token": btoa(value) },
  };
}

/** Both probes pass, every containerPort is listened on at the pod IP. */
async function assertHealthy(cluster: TestCluster, pod: TestPod, readySince?: number) {
  await cluster.waitForProbe(pod, "livenessProbe");
  await cluster.waitForProbe(pod, "readinessProbe", readySince);
  assert.deepEqual(
    await pod.unlistenedPorts(),
    [],
    `containerPorts of ${pod.name} nothing listens on at ${pod.ip}`,
  );
}

/** What an operator does: list the pending request and accept it, through the admin Service. */
async function approve(cluster: TestCluster, layout: Layout, token: string, fingerprint: string) {
  const port = cluster.portForward(layout.namespace, layout.adminService, 8081);
  const headers = { authorization: `Bearer ${token}` };
  const pending = await fetch(`http://127.0.0.1:${port}/v1/requests`, { headers });
  assert.equal(pending.status, 200);
  assert.deepEqual(await pending.json(), [fingerprint]);
  const accepted = await fetch(`http://127.0.0.1:${port}/v1/requests/${fingerprint}`, {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
  });
  await accepted.body?.cancel();
  assert.equal(accepted.status, 204);
}

/**
 * The client pod's admin API at its pod IP (where the Service sends scrapers): the probes passed
 * without a header (assertHealthy); the apps need the token of the client's Secret.
 */
async function assertClientAdminNeedsToken(client: TestPod, token: string): Promise<void> {
  const forward = new Forwarder(
    Deno.listen({ hostname: "127.0.0.1", port: 0 }),
    () => client.dial(8081),
  );
  try {
    const apps = `http://127.0.0.1:${forward.port}/v1/apps`;
    const anonymous = await fetch(apps);
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401, "the client's /v1/apps without its token");
    const allowed = await fetch(apps, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(allowed.status, 200, await allowed.text());
  } finally {
    await forward.close();
  }
}

async function runDeployment(objects: Manifest[], layout: Layout): Promise<void> {
  await using cluster = await TestCluster.start({ objects });
  const token = secretValue(objects, layout.namespace, layout.adminSecret, "admin-token");

  const server = await cluster.runDeployment(layout.namespace, layout.server);
  await assertHealthy(cluster, server);

  const client = await cluster.runDeployment(
    layout.clientNamespace ?? layout.namespace,
    layout.client,
  );
  const pending = await client.process.waitForLog("waiting for the operator to approve this key");
  const approvedAt = performance.now();
  await approve(cluster, layout, token, String(pending.fingerprint));
  await assertHealthy(cluster, client, approvedAt);
  const clientToken = secretValue(
    objects,
    layout.clientNamespace ?? layout.namespace,
    layout.clientAdminSecret,
    "admin-token",
  );
  await assertClientAdminNeedsToken(client, clientToken);
  assert.ok(
    cluster.connectionsTo(layout.namespace, layout.serverService) > 0,
    "the client did not connect through the tunnel Service",
  );
  assert.deepEqual(cluster.serviceProblems(), []);

  // Both pods use their service account (in-cluster configuration): the client sees an annotated
  // Service, the server creates its proxy Service.
  cluster.kube.put({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "apps", annotations: { [EXPOSED]: "yes" } },
    spec: { ports: [{ name: "http", port: 80 }] },
  });
  const proxy = `${layout.peer}-apps-web`;
  await cluster.kube.waitFor(
    () => cluster.kube.get("Service", layout.namespace, proxy) !== undefined,
    30_000,
  );
  const tokens = new Set(cluster.kube.requests.map((request) => request.authorization));
  assert.deepEqual(
    tokens,
    new Set(
      [server, client].map((pod) =>
        `Bearer test-token-${pod.facts.namespace}-${pod.facts.serviceAccountName}`
      ),
    ),
  );
  // …and the rendered RBAC allows every request they made.
  assert.deepEqual(cluster.rbacProblems(), []);
}

const CHART_LAYOUT: Layout = {
  namespace: "wormhole",
  server: "wormhole-server",
  serverService: "wormhole-server",
  adminService: "wormhole-server-admin",
  adminSecret: "wormhole-server-admin-token",
  client: "wormhole-client",
  clientAdminSecret: "wormhole-client-admin-token",
  peer: "edge-1",
};

Deno.test({
  name: "kubelet: the chart's server and client with default values become Ready and connect",
  ignore: unavailable !== undefined,
  async fn() {
    const options: RenderOptions = {
      release: "wormhole",
      namespace: "wormhole",
      set: [
        "server.enabled=true,client.enabled=true,client.name=edge-1",
        "client.serverDsn=ws://wormhole-server.wormhole.svc.cluster.local:8080/wh/tunnel",
      ],
    };
    await runDeployment(renderChart(chart, options).manifests, CHART_LAYOUT);
  },
});

Deno.test({
  name:
    "kubelet: the chart with network policies, listed client namespaces and an existing admin Secret",
  ignore: unavailable !== undefined,
  async fn() {
    const adminSecret = userSecret("edge", "ops-admin-token", "operator-chosen-token");
    const clientSecret = userSecret("edge", "ops-client-token", "operator-chosen-client-token");
    const options: RenderOptions = {
      release: "tunnels",
      namespace: "edge",
      valuesFiles: [{
        server: {
          enabled: true,
          networkPolicies: true,
          adminToken: { existingSecret: "ops-admin-token" },
        },
        client: {
          enabled: true,
          name: "edge-2",
          serverDsn: "ws://tunnels-wormhole-server:8080/wh/tunnel",
          kubernetes: { namespaces: ["apps", "web"] },
          adminToken: { existingSecret: "ops-client-token" },
        },
      }],
    };
    const manifests = renderChart(chart, options).manifests;
    assert.ok(!manifests.some((m) => m.kind === "Secret"), "the chart made a Secret of its own");
    await runDeployment([...manifests, adminSecret, clientSecret], {
      namespace: "edge",
      server: "tunnels-wormhole-server",
      serverService: "tunnels-wormhole-server",
      adminService: "tunnels-wormhole-server-admin",
      adminSecret: "ops-admin-token",
      client: "tunnels-wormhole-client",
      clientAdminSecret: "ops-client-token",
      peer: "edge-2",
    });
  },
});

Deno.test({
  name: "kubelet: the kustomize server and client overlays become Ready and connect",
  ignore: unavailable !== undefined,
  async fn() {
    await runDeployment(await kustomizeObjects(), CHART_LAYOUT);
  },
});

/**
 * The kustomize overlays as their comments tell the user to deploy them: with the admin token
 * Secrets, and the client's server URL set (in an overlay of their own, as one would for an edge
 * cluster).
 */
async function kustomizeObjects(serverDir = "deploy/kubernetes/server"): Promise<Manifest[]> {
  const server = await kustomize(new URL(serverDir, ROOT));
  const overlay = await Deno.makeTempDir({ prefix: "wormhole-overlay-" });
  try {
    await Deno.writeTextFile(
      `${overlay}/kustomization.yaml`,
      [
        "apiVersion: kustomize.config.k8s.io/v1beta1",
        "kind: Kustomization",
        "resources:",
        // kustomize takes relative paths only.
        `  - ${"../".repeat(overlay.split("/").length - 1)}${
          new URL("deploy/kubernetes/client", ROOT).pathname.slice(1)
        }`,
        "configMapGenerator:",
        "  - name: wormhole-client",
        "    behavior: merge",
        "    literals:",
        "      - WORMHOLE_SERVER=ws://wormhole-server.wormhole.svc.cluster.local:8080/wh/tunnel",
        "",
      ].join("\n"),
    );
    const client = await kustomize(overlay);
    const secret = userSecret("wormhole", "wormhole-server-admin-token", "kustomize-token");
    const clientSecret = userSecret(
      "wormhole",
      "wormhole-client-admin-token",
      "kustomize-client-token",
    );
    return [...server, ...client, secret, clientSecret];
  } finally {
    await Deno.remove(overlay, { recursive: true });
  }
}

/** The chart's server and client, with `edit` applied to the container of Deployment `name`. */
function editedChart(name: string, edit: (container: Record<string, unknown>) => void): Manifest[] {
  const manifests = renderChart(chart, {
    namespace: "wormhole",
    set: [
      "server.enabled=true,client.enabled=true,client.name=edge-1",
      "client.serverDsn=ws://wormhole-server:8080/wh/tunnel",
    ],
  }).manifests;
  const deployment = manifests.find((m) => m.kind === "Deployment" && m.metadata.name === name)!;
  // deno-lint-ignore no-explicit-any
  edit((deployment.spec as any).template.spec.containers[0]);
  return manifests;
}

Deno.test({
  name: "kubelet: a probe that needs the admin token is caught (401), and the pod gets no traffic",
  ignore: unavailable !== undefined,
  async fn() {
    const objects = editedChart("wormhole-server", (container) => {
      container.readinessProbe = {
        httpGet: { path: "/v1/peers", port: "admin" },
        periodSeconds: 1,
        failureThreshold: 2,
      };
    });
    await using cluster = await TestCluster.start({ objects });
    const server = await cluster.runDeployment("wormhole", "wormhole-server");
    // The bound starts once the admin API listens: every probe in it then gets an answer.
    await server.process.waitForLog("admin listening");
    await assert.rejects(
      cluster.waitForProbe(server, "readinessProbe", performance.now()),
      /readinessProbe of pod wormhole-server-\S+ never passed within 2000 ms \(still running\): HTTP probe failed with statuscode: 401\n/,
    );
    assert.deepEqual(cluster.endpoints(cluster.service("wormhole", "wormhole-server")), []);
  },
});

Deno.test({
  name: "kubelet: an endpoint bound to 127.0.0.1 is not reachable at the pod IP, as in a real pod",
  ignore: unavailable !== undefined,
  async fn() {
    // Without WORMHOLE_ADMIN_HOST the client serves its admin port on its default, 127.0.0.1.
    const objects = editedChart("wormhole-client", (container) => {
      delete container.env;
      container.livenessProbe = {
        httpGet: { path: "/healthz", port: "admin" },
        periodSeconds: 1,
        failureThreshold: 2,
      };
    });
    await using cluster = await TestCluster.start({ objects });
    const client = await cluster.runDeployment("wormhole", "wormhole-client");
    await client.process.waitForLog("admin listening");
    await assert.rejects(
      cluster.waitForProbe(client, "livenessProbe", performance.now()),
      /never passed within 2000 ms \(still running\): Get "http:\/\/127\.0\.0\.\d+:8081\/healthz": dial tcp 127\.0\.0\.\d+:8081: connect: connection refused\n/,
    );
    assert.deepEqual((await client.unlistenedPorts()).map((port) => port.containerPort), [8081]);
  },
});

for (
  const [what, objects] of [
    ["chart's", () =>
      Promise.resolve(
        renderChart(chart, {
          release: "wormhole",
          namespace: "wormhole",
          set: [
            "server.enabled=true,client.enabled=true,client.name=edge-1",
            "client.serverDsn=ws://wormhole-server.wormhole.svc.cluster.local:8080/wh/tunnel",
          ],
        }).manifests,
      )],
    ["kustomize overlays'", kustomizeObjects],
  ] as const
) {
  Deno.test({
    name:
      `kubelet: the ${what} pods, rescheduled with empty volumes, keep keys, approval, ports and pin in their Secrets`,
    ignore: unavailable !== undefined,
    fn: () => rescheduled(objects),
  });
}

/**
 * Deploys, approves the client and exposes a Service; then replaces both pods (new, empty
 * volumes) and checks that nothing needs doing again: the state is in the Secrets.
 */
async function rescheduled(render: () => Promise<Manifest[]>): Promise<void> {
  const objects = await render();
  await using cluster = await TestCluster.start({ objects });
  const token = secretValue(objects, "wormhole", CHART_LAYOUT.adminSecret, "admin-token");
  const server = await cluster.runDeployment("wormhole", "wormhole-server");
  await assertHealthy(cluster, server);
  const serverKey = (await server.process.waitForLog("created server key")).fingerprint;
  const client = await cluster.runDeployment("wormhole", "wormhole-client");
  const pending = await client.process.waitForLog("waiting for the operator to approve this key");
  await approve(cluster, CHART_LAYOUT, token, String(pending.fingerprint));
  await client.process.waitForLog("pinned the server's key (trust on first use)");
  cluster.kube.put({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "apps", annotations: { [EXPOSED]: "yes" } },
    spec: { ports: [{ name: "http", port: 80 }] },
  });
  const proxy = () => cluster.kube.get("Service", "wormhole", "edge-1-apps-web");
  await cluster.kube.waitFor(() => proxy() !== undefined);
  const targetPort = (proxy()!.spec as { ports: { targetPort: number }[] }).ports[0].targetPort;
  const secrets = cluster.kube.list("Secret", { namespace: "wormhole" }).map((s) =>
    s.metadata.name
  );
  assert.ok(
    secrets.includes("wormhole-server-state") && secrets.includes("wormhole-client-state"),
  );

  // Both pods go away; their replacements get new, empty volumes.
  await client.stop();
  await server.stop();
  const newServer = await cluster.runDeployment("wormhole", "wormhole-server");
  assert.equal((await newServer.process.waitForLog("loaded server key")).fingerprint, serverKey);
  await assertHealthy(cluster, newServer);
  const newClient = await cluster.runDeployment("wormhole", "wormhole-client");
  const sent = await newClient.process.waitForLog((l) => l.msg.startsWith("Sending public key"));
  assert.equal(sent.fingerprint, pending.fingerprint, "the client kept its key");
  await assertHealthy(cluster, newClient);
  // Approved and pinned already; its app got the same listener port, the Service's targetPort.
  assert.ok(!newClient.process.logs.some((l) => l.msg.startsWith("waiting for the operator")));
  assert.ok(!newClient.process.logs.some((l) => l.msg.startsWith("pinned the server's key")));
  const exposed = await newServer.process.waitForLog("app exposed");
  assert.equal(Number(String(exposed.endpoint).split(":").pop()), targetPort);
  assert.deepEqual(cluster.rbacProblems(), []);
}

Deno.test({
  name:
    "kubelet: a rescheduled server keeps its key and approvals on its PVC; the client comes back",
  ignore: unavailable !== undefined,
  async fn() {
    const objects = renderChart(chart, {
      namespace: "wormhole",
      set: [
        "server.enabled=true,server.pvc.enabled=true,server.state.backend=file",
        "client.enabled=true,client.pvc.enabled=true,client.state.backend=file,client.name=edge-1",
        "client.serverDsn=ws://wormhole-server:8080/wh/tunnel",
      ],
    }).manifests;
    await using cluster = await TestCluster.start({ objects });
    const token = secretValue(objects, "wormhole", "wormhole-server-admin-token", "admin-token");
    const first = await cluster.runDeployment("wormhole", "wormhole-server");
    const created = await first.process.waitForLog("created server key");
    await cluster.waitForProbe(first, "readinessProbe");
    const client = await cluster.runDeployment("wormhole", "wormhole-client");
    const pending = await client.process.waitForLog("waiting for the operator to approve this key");
    const approvedAt = performance.now();
    await approve(cluster, CHART_LAYOUT, token, String(pending.fingerprint));
    await cluster.waitForProbe(client, "readinessProbe", approvedAt);

    await cluster.deletePod(first);
    client.ready = false;
    await client.process.waitForLog("disconnected from server");
    const since = client.process.logs.length;
    const second = await cluster.runDeployment("wormhole", "wormhole-server");
    const loaded = await second.process.waitForLog("loaded server key");
    assert.equal(loaded.fingerprint, created.fingerprint);
    await assertHealthy(cluster, second);
    // The client reconnects through the Service to the new pod, with no new approval.
    // Bounded by the client's backoff (0.5 s doubling) over the time the server was away.
    await client.process.waitForLog(
      (line) => line.msg === "accepted by server" && client.process.logs.indexOf(line) >= since,
      60_000,
    );
    await cluster.waitForProbe(client, "readinessProbe", performance.now());
    const port = cluster.portForward("wormhole", "wormhole-server-admin", 8081);
    const headers = { authorization: `Bearer ${token}` };
    const requests = await fetch(`http://127.0.0.1:${port}/v1/requests`, { headers });
    assert.deepEqual(await requests.json(), []);
    const peers = await (await fetch(`http://127.0.0.1:${port}/v1/peers`, { headers })).json();
    assert.deepEqual(
      peers.map((peer: { name: string; connected: boolean }) => [peer.name, peer.connected]),
      [["edge-1", true]],
    );
  },
});

Deno.test({
  name:
    "kubelet: the chart with server.replicas=2: both replicas become Ready, one leads, the other approves the request waiting on the first, an app gets the holder's EndpointSlice",
  ignore: unavailable !== undefined,
  async fn() {
    const options: RenderOptions = {
      release: "wormhole",
      namespace: "wormhole",
      set: [
        "server.enabled=true,server.replicas=2",
        "client.enabled=true,client.name=edge-1",
        "client.serverDsn=ws://wormhole-server.wormhole.svc.cluster.local:8080/wh/tunnel",
      ],
    };
    const objects = renderChart(chart, options).manifests;
    await using cluster = await TestCluster.start({ objects });
    const replicas = [
      await cluster.runDeployment("wormhole", "wormhole-server"),
      await cluster.runDeployment("wormhole", "wormhole-server"),
    ];
    for (const replica of replicas) await assertHealthy(cluster, replica);
    const names = replicas.map((pod) => pod.facts.name);
    await cluster.kube.waitFor(() => {
      const lease = cluster.kube.get("Lease", "wormhole", "wormhole-leader");
      return names.includes((lease?.spec as { holderIdentity?: string })?.holderIdentity ?? "");
    }, 30_000);
    for (const name of names) {
      assert.ok(cluster.kube.get("Lease", "wormhole", `wormhole-replica-${name}`), name);
    }

    const client = await cluster.runDeployment("wormhole", "wormhole-client");
    const pending = await client.process.waitForLog("waiting for the operator to approve this key");
    const fingerprint = String(pending.fingerprint);
    await cluster.kube.waitFor(
      () =>
        replicas.some((pod) => pod.process.logs.some((l) => l.msg === "peer waiting for approval")),
      30_000,
    );
    const waits = (pod: TestPod) =>
      pod.process.logs.some((l) => l.msg === "peer waiting for approval");
    const holding = replicas.find(waits)!;
    const other = replicas.find((pod) => !waits(pod))!;
    // The operator's request reaches the replica the client is not connected to.
    const forward = new Forwarder(
      Deno.listen({ hostname: "127.0.0.1", port: 0 }),
      () => other.dial(8081),
    );
    try {
      const token = secretValue(objects, "wormhole", CHART_LAYOUT.adminSecret, "admin-token");
      const headers = { authorization: `Bearer ${token}` };
      const base = `http://127.0.0.1:${forward.port}/v1/requests`;
      const listed = await fetch(`${base}?detail=1`, { headers });
      const requests = await listed.json() as { fingerprint: string; replica: string }[];
      assert.deepEqual(requests.map((r) => [r.fingerprint, r.replica]), [
        [fingerprint, holding.facts.name],
      ]);
      const approvedAt = performance.now();
      const accepted = await fetch(`${base}/${fingerprint}`, {
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
      });
      await accepted.body?.cancel();
      assert.equal(accepted.status, 204);
      await assertHealthy(cluster, client, approvedAt);
    } finally {
      await forward.close();
    }
    cluster.kube.put({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "apps", annotations: { [EXPOSED]: "yes" } },
      spec: { ports: [{ name: "http", port: 80 }] },
    });
    await cluster.kube.waitFor(
      () => cluster.kube.get("EndpointSlice", "wormhole", "edge-1-apps-web") !== undefined,
      30_000,
    );
    const slice = cluster.kube.get("EndpointSlice", "wormhole", "edge-1-apps-web")!;
    const address = (slice.endpoints as { addresses: string[] }[])[0].addresses[0];
    const holder = replicas.find((pod) => pod.facts.podIP === address);
    assert.ok(holder, `the slice points at ${address}, no replica's IP`);
    assert.equal(
      slice.metadata.annotations?.["wormhole.glothriel.github.com/replica"],
      holder.facts.name,
    );
    const proxy = cluster.kube.get("Service", "wormhole", "edge-1-apps-web")!;
    assert.equal((proxy.spec as { selector?: unknown }).selector, undefined);
    assert.deepEqual(cluster.rbacProblems(), []);
  },
});

Deno.test({
  name:
    "kubelet: the kustomize server-ha overlay: two replicas become Ready, one leads, a client is approved and connects",
  ignore: unavailable !== undefined,
  async fn() {
    const objects = await kustomizeObjects("deploy/kubernetes/server-ha");
    await using cluster = await TestCluster.start({ objects });
    const replicas = [
      await cluster.runDeployment("wormhole", "wormhole-server"),
      await cluster.runDeployment("wormhole", "wormhole-server"),
    ];
    for (const replica of replicas) await assertHealthy(cluster, replica);
    const names = replicas.map((pod) => pod.facts.name);
    await cluster.kube.waitFor(() => {
      const lease = cluster.kube.get("Lease", "wormhole", "wormhole-leader");
      return names.includes((lease?.spec as { holderIdentity?: string })?.holderIdentity ?? "");
    }, 30_000);
    const client = await cluster.runDeployment("wormhole", "wormhole-client");
    const pending = await client.process.waitForLog("waiting for the operator to approve this key");
    const approvedAt = performance.now();
    await approve(cluster, CHART_LAYOUT, "kustomize-token", String(pending.fingerprint));
    await assertHealthy(cluster, client, approvedAt);
    assert.deepEqual(cluster.rbacProblems(), []);
  },
});

Deno.test({
  name:
    "kubelet: the chart with server offers and client.offers.proxyServices: the client pod's Service for an offered app carries traffic to the central side",
  ignore: unavailable !== undefined,
  async fn() {
    const objects = renderChart(chart, {
      release: "wormhole",
      namespace: "wormhole",
      set: [
        "server.enabled=true,client.enabled=true,client.name=edge-1",
        "client.serverDsn=ws://wormhole-server.wormhole.svc.cluster.local:8080/wh/tunnel",
        // A central upstream every pod here can reach: the server's own admin Service.
        "server.offers.expose[0]=health=wormhole-server-admin.wormhole.svc.cluster.local:8081",
        "client.offers.proxyServices.enabled=true",
      ],
    }).manifests;
    await using cluster = await TestCluster.start({ objects });
    const token = secretValue(objects, "wormhole", CHART_LAYOUT.adminSecret, "admin-token");
    const server = await cluster.runDeployment("wormhole", "wormhole-server");
    await assertHealthy(cluster, server);
    const client = await cluster.runDeployment("wormhole", "wormhole-client");
    const pending = await client.process.waitForLog("waiting for the operator to approve this key");
    const approvedAt = performance.now();
    await approve(cluster, CHART_LAYOUT, token, String(pending.fingerprint));
    await assertHealthy(cluster, client, approvedAt);

    // The client applies central-health in its namespace, selecting its own pod.
    const proxy = () => cluster.kube.get("Service", "wormhole", "central-health");
    await cluster.kube.waitFor(() => proxy() !== undefined, 30_000);
    const spec = proxy()!.spec as { selector: Record<string, string>; ports: { port: number }[] };
    for (const [key, value] of Object.entries(spec.selector)) {
      assert.equal(client.facts.labels[key], value, `the client pod has ${key}=${value}`);
    }
    // kube-proxy's route: Service port → the client pod's listener → tunnel → the server's
    // dial of the offered upstream.
    const port = cluster.portForwardLive("wormhole", "central-health", spec.ports[0].port);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200, await health.text());
    assert.deepEqual(cluster.rbacProblems(), []);
  },
});
