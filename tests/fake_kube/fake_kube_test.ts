/**
 * Wire-level tests of the fake API server through plain `fetch`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type KubeObject, startFakeKube, type Status, WatchEventReader } from "./mod.ts";

const JSON_HEADERS = { "content-type": "application/json" };

async function call(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text === "" ? {} : JSON.parse(text) };
}

function service(name: string, namespace: string, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace, ...(extra.metadata ?? {}) },
    spec: { ports: [{ port: 80 }] },
    ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== "metadata")),
  };
}

function names(list: Record<string, unknown>): string[] {
  return (list.items as KubeObject[]).map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
}

Deno.test("discovery documents and unknown paths", async () => {
  await using kube = await startFakeKube();
  const version = await call(`${kube.url}/version`);
  assert.equal(version.body.gitVersion, "v1.32.0");

  const api = await call(`${kube.url}/api`);
  assert.equal(api.body.kind, "APIVersions");
  assert.deepEqual(api.body.versions, ["v1"]);

  const aggregated = await fetch(`${kube.url}/apis`, {
    headers: { accept: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList" },
  });
  assert.match(aggregated.headers.get("content-type")!, /as=APIGroupDiscoveryList/);
  const groups = await aggregated.json();
  assert.equal(groups.items[0].metadata.name, "networking.k8s.io");

  const apis = await call(`${kube.url}/apis`);
  assert.equal(apis.body.kind, "APIGroupList");
  const core = await call(`${kube.url}/api/v1`);
  const services = (core.body.resources as Record<string, unknown>[])
    .find((r) => r.name === "services")!;
  assert.deepEqual(services.shortNames, ["svc"]);
  assert.equal(services.namespaced, true);
  const netpol = await call(`${kube.url}/apis/networking.k8s.io/v1`);
  assert.equal(netpol.body.groupVersion, "networking.k8s.io/v1");

  const missing = await call(`${kube.url}/apis/apps/v1/deployments`);
  assert.equal(missing.status, 404);
  assert.deepEqual(missing.body, {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message: "the server could not find the requested resource",
    reason: "NotFound",
    details: {},
    code: 404,
  });
});

Deno.test("create, get, replace and delete answer like the API server", async () => {
  await using kube = await startFakeKube();
  const base = `${kube.url}/api/v1/namespaces/team-a/services`;

  const created = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify(service("web", "team-a")),
  });
  assert.equal(created.status, 201);
  const meta = created.body.metadata as KubeObject["metadata"];
  assert.match(meta.uid!, /^[0-9a-f-]{36}$/);
  assert.match(meta.creationTimestamp!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(meta.generation, 1);
  assert.equal(meta.resourceVersion, kube.resourceVersion);
  const spec = created.body.spec as Record<string, unknown>;
  assert.match(spec.clusterIP as string, /^10\.96\.\d+\.\d+$/);
  assert.deepEqual(spec.ports, [{ port: 80, protocol: "TCP", targetPort: 80 }]);
  assert.equal(kube.get("Namespace", undefined, "team-a")?.metadata.name, "team-a");

  const again = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify(service("web", "team-a")),
  });
  assert.equal(again.status, 409);
  assert.deepEqual(
    again.body,
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'services "web" already exists',
      reason: "AlreadyExists",
      details: { name: "web", kind: "services" },
      code: 409,
    } satisfies Status,
  );

  const stale = { ...created.body, metadata: { ...meta, resourceVersion: "1" } };
  const conflict = await call(`${base}/web`, {
    method: "PUT",
    headers: JSON_HEADERS,
    body: JSON.stringify(stale),
  });
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.reason, "Conflict");

  const replaced = await call(`${base}/web`, {
    method: "PUT",
    headers: JSON_HEADERS,
    body: JSON.stringify({ ...created.body, spec: { ...spec, ports: [{ port: 81 }] } }),
  });
  assert.equal(replaced.status, 200);
  const replacedMeta = replaced.body.metadata as KubeObject["metadata"];
  assert.equal(replacedMeta.generation, 2);
  assert.equal(replacedMeta.uid, meta.uid);
  assert.ok(Number(replacedMeta.resourceVersion) > Number(meta.resourceVersion));

  const deleted = await call(`${base}/web`, { method: "DELETE" });
  assert.equal(deleted.status, 200);
  assert.equal((deleted.body.metadata as KubeObject["metadata"]).name, "web");

  for (const method of ["GET", "DELETE"]) {
    const gone = await call(`${base}/web`, { method });
    assert.equal(gone.status, 404);
    assert.deepEqual(gone.body, {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'services "web" not found',
      reason: "NotFound",
      details: { name: "web", kind: "services" },
      code: 404,
    });
  }
  const netpol = await call(`${kube.url}/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/p`);
  assert.equal(netpol.body.message, 'networkpolicies.networking.k8s.io "p" not found');
  assert.deepEqual(netpol.body.details, {
    name: "p",
    group: "networking.k8s.io",
    kind: "networkpolicies",
  });
});

Deno.test("an explicit clusterIP is kept and immutable", async () => {
  await using kube = await startFakeKube();
  const stored = kube.put(service("local", "default", { spec: { clusterIP: "127.0.0.1" } }));
  assert.equal((stored.spec as Record<string, unknown>).clusterIP, "127.0.0.1");
  const res = await call(`${kube.url}/api/v1/namespaces/default/services/local`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ spec: { clusterIP: "127.0.0.2" } }),
  });
  assert.equal(res.status, 422);
  assert.equal(res.body.reason, "Invalid");
});

Deno.test("lists filter by namespace, label and field selectors and paginate", async () => {
  await using kube = await startFakeKube();
  kube.put(service("a", "ns1", { metadata: { name: "a", labels: { app: "web", tier: "fe" } } }));
  kube.put(service("b", "ns1", { metadata: { name: "b", labels: { app: "db" } } }));
  kube.put(service("c", "ns2", { metadata: { name: "c", labels: { app: "web" } } }));
  kube.put(service("d", "ns2"));

  const all = await call(`${kube.url}/api/v1/services`);
  assert.equal(all.body.kind, "ServiceList");
  assert.deepEqual(names(all.body), ["ns1/a", "ns1/b", "ns2/c", "ns2/d"]);
  assert.deepEqual(all.body.metadata, { resourceVersion: kube.resourceVersion });
  assert.equal((all.body.items as KubeObject[])[0].kind, undefined, "items carry no kind");

  const cases: [string, string[]][] = [
    ["app=web", ["ns1/a", "ns2/c"]],
    ["app==web,tier=fe", ["ns1/a"]],
    ["app!=web", ["ns1/b", "ns2/d"]],
    ["app", ["ns1/a", "ns1/b", "ns2/c"]],
    ["!app", ["ns2/d"]],
    ["app in (db,web),!tier", ["ns1/b", "ns2/c"]],
    ["app notin (web)", ["ns1/b", "ns2/d"]],
  ];
  for (const [selector, expected] of cases) {
    const res = await call(
      `${kube.url}/api/v1/services?labelSelector=${encodeURIComponent(selector)}`,
    );
    assert.deepEqual(names(res.body), expected, selector);
  }
  const inNs = await call(`${kube.url}/api/v1/namespaces/ns2/services?labelSelector=app`);
  assert.deepEqual(names(inNs.body), ["ns2/c"]);
  const byField = await call(
    `${kube.url}/api/v1/services?fieldSelector=${
      encodeURIComponent("metadata.name!=a,metadata.namespace=ns1")
    }`,
  );
  assert.deepEqual(names(byField.body), ["ns1/b"]);
  const badField = await call(`${kube.url}/api/v1/services?fieldSelector=spec.type%3DX`);
  assert.equal(badField.status, 400);

  const page1 = await call(`${kube.url}/api/v1/services?limit=3`);
  assert.deepEqual(names(page1.body), ["ns1/a", "ns1/b", "ns2/c"]);
  const listMeta = page1.body.metadata as Record<string, unknown>;
  assert.equal(listMeta.remainingItemCount, 1);
  kube.put(service("e", "ns2"));
  const page2 = await call(
    `${kube.url}/api/v1/services?limit=3&continue=${
      encodeURIComponent(listMeta.continue as string)
    }`,
  );
  assert.deepEqual(names(page2.body), ["ns2/d"], "the continued list is a consistent snapshot");
  assert.equal((page2.body.metadata as Record<string, unknown>).continue, undefined);

  kube.compact();
  const expired = await call(
    `${kube.url}/api/v1/services?limit=3&continue=${
      encodeURIComponent(listMeta.continue as string)
    }`,
  );
  assert.equal(expired.status, 410);
  assert.equal(expired.body.reason, "Expired");
  const exact = await call(
    `${kube.url}/api/v1/services?resourceVersion=${listMeta.resourceVersion}&resourceVersionMatch=Exact`,
  );
  assert.equal(exact.status, 410);
});

Deno.test("watch replays from a resourceVersion, then streams live changes", async () => {
  await using kube = await startFakeKube({ bookmarkIntervalMs: 0 });
  kube.put(service("a", "ns1"));
  const from = kube.resourceVersion;
  kube.put(service("b", "ns1", { metadata: { name: "b", labels: { app: "x" } } }));
  kube.put(service("other", "ns2"));

  const res = await fetch(
    `${kube.url}/api/v1/namespaces/ns1/services?watch=true&resourceVersion=${from}`,
  );
  assert.equal(res.headers.get("content-type"), "application/json");
  const events = new WatchEventReader(res);
  try {
    const first = await events.next();
    assert.equal(first?.type, "ADDED");
    assert.equal((first?.object as KubeObject).metadata.name, "b");

    kube.put(service("a", "ns1", { metadata: { name: "a", labels: { v: "2" } } }));
    const modified = await events.next();
    assert.equal(modified?.type, "MODIFIED");
    assert.equal((modified?.object as KubeObject).metadata.resourceVersion, kube.resourceVersion);

    kube.delete("Service", "ns1", "b");
    const deleted = await events.next();
    assert.equal(deleted?.type, "DELETED");
    assert.equal((deleted?.object as KubeObject).metadata.name, "b");
    assert.equal((deleted?.object as KubeObject).metadata.resourceVersion, kube.resourceVersion);
  } finally {
    await events.cancel();
  }
  await kube.waitFor(() => kube.openWatchCount === 0);
});

Deno.test("watch without resourceVersion starts with the current state", async () => {
  await using kube = await startFakeKube({ bookmarkIntervalMs: 0 });
  kube.put(service("a", "ns1"));
  kube.put(service("b", "ns2"));
  const events = new WatchEventReader(await fetch(`${kube.url}/api/v1/watch/services`));
  try {
    const a = await events.next();
    const b = await events.next();
    assert.deepEqual(
      [a, b].map((e) => `${e?.type} ${(e?.object as KubeObject).metadata.name}`),
      ["ADDED a", "ADDED b"],
    );
  } finally {
    await events.cancel();
  }
});

Deno.test("watch with a label selector turns selector transitions into ADDED/DELETED", async () => {
  await using kube = await startFakeKube({ bookmarkIntervalMs: 0 });
  const events = new WatchEventReader(
    await fetch(
      `${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}&labelSelector=app%3Dweb`,
    ),
  );
  try {
    kube.put(service("a", "ns1"));
    kube.put(service("a", "ns1", { metadata: { name: "a", labels: { app: "web" } } }));
    kube.put(service("a", "ns1", { metadata: { name: "a", labels: { app: "web", x: "y" } } }));
    kube.put(service("a", "ns1", { metadata: { name: "a", labels: { app: "db" } } }));
    const seen = [];
    for (let i = 0; i < 3; i++) seen.push((await events.next())?.type);
    assert.deepEqual(seen, ["ADDED", "MODIFIED", "DELETED"]);
  } finally {
    await events.cancel();
  }
});

Deno.test("watch sends bookmarks when allowed, on demand and periodically", async () => {
  await using kube = await startFakeKube({ bookmarkIntervalMs: 20 });
  const quiet = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}`),
  );
  const events = new WatchEventReader(
    await fetch(
      `${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}&allowWatchBookmarks=true`,
    ),
  );
  try {
    kube.put(service("a", "ns1"));
    const added = await events.next();
    assert.equal(added?.type, "ADDED");
    const { event } = await events.until((e) => e.type === "BOOKMARK");
    assert.deepEqual(event.object, {
      kind: "Service",
      apiVersion: "v1",
      metadata: { resourceVersion: kube.resourceVersion },
    });
    kube.sendBookmarks();
    assert.equal((await events.until((e) => e.type === "BOOKMARK")).skipped.length, 0);
    kube.put(service("b", "ns1"));
    assert.equal((await quiet.next())?.type, "ADDED");
    assert.equal((await quiet.next())?.type, "ADDED", "no bookmarks without allowWatchBookmarks");
  } finally {
    await events.cancel();
    await quiet.cancel();
  }
});

Deno.test("watch from a compacted resourceVersion gets an ERROR event with 410 Expired", async () => {
  await using kube = await startFakeKube();
  kube.put(service("a", "ns1"));
  const old = kube.resourceVersion;
  kube.put(service("b", "ns1"));
  assert.equal(kube.compact(), kube.resourceVersion);
  const res = await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${old}`);
  assert.equal(res.status, 200);
  const events = new WatchEventReader(res);
  assert.deepEqual(await events.next(), {
    type: "ERROR",
    object: {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: `too old resource version: ${old} (${kube.resourceVersion})`,
      reason: "Expired",
      code: 410,
    },
  });
  assert.equal(await events.next(), undefined, "the stream ends after the ERROR event");

  const current = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}`),
  );
  try {
    kube.put(service("c", "ns1"));
    assert.equal((await current.next())?.type, "ADDED", "the compacted version itself is fine");
  } finally {
    await current.cancel();
  }
});

Deno.test("watch ends at timeoutSeconds, on endWatches, and breaks on failWatches", async () => {
  await using kube = await startFakeKube();
  const timed = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=1&timeoutSeconds=0`),
  );
  assert.equal(await timed.next(), undefined);

  const ended = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}`),
  );
  const second = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}`),
  );
  await kube.waitFor(() => kube.openWatchCount === 2);
  assert.equal(kube.endWatches(), 2);
  assert.equal(await ended.next(), undefined);
  assert.equal(await second.next(), undefined);

  const failing = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}`),
  );
  kube.put(service("a", "ns1"));
  assert.equal((await failing.next())?.type, "ADDED");
  assert.equal(kube.failWatches(), 1);
  await assert.rejects(() => failing.next(), TypeError);
  await failing.cancel();
  assert.equal(kube.openWatchCount, 0);
});

Deno.test("close() ends open watches", async () => {
  const kube = await startFakeKube();
  const events = new WatchEventReader(
    await fetch(`${kube.url}/api/v1/services?watch=true&resourceVersion=${kube.resourceVersion}`),
  );
  await kube.waitFor(() => kube.openWatchCount === 1);
  const closed = kube.close();
  assert.equal(await events.next(), undefined);
  await closed;
  await assert.rejects(() => Deno.stat(kube.kubeconfigPath), Deno.errors.NotFound);
});

const APPLY = "application/apply-patch+yaml";

async function apply(
  url: string,
  body: unknown,
  manager: string,
  force = false,
): Promise<{ status: number; body: Record<string, unknown> }> {
  return await call(`${url}?fieldManager=${manager}&force=${force}`, {
    method: "PATCH",
    headers: { "content-type": APPLY },
    body: JSON.stringify(body),
  });
}

Deno.test("server-side apply creates, merges, prunes and detects conflicts", async () => {
  await using kube = await startFakeKube();
  const url = `${kube.url}/api/v1/namespaces/ns1/services/web`;
  const config = {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", labels: { app: "web", team: "a" }, annotations: { note: "1" } },
    spec: { ports: [{ port: 80 }, { port: 443 }], selector: { app: "web" } },
  };
  const created = await apply(url, config, "ctl");
  assert.equal(created.status, 201);
  const rv1 = (created.body.metadata as KubeObject["metadata"]).resourceVersion;

  const same = await apply(url, config, "ctl");
  assert.equal(same.status, 200);
  assert.equal((same.body.metadata as KubeObject["metadata"]).resourceVersion, rv1, "no-op");

  const annotated = await call(`${url}?fieldManager=annotator`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ metadata: { annotations: { other: "x" } } }),
  });
  assert.equal(annotated.status, 200);

  const smaller = {
    ...config,
    metadata: { name: "web", labels: { app: "web" } },
    spec: { ports: [{ port: 8080 }], selector: { app: "web" } },
  };
  const updated = await apply(url, smaller, "ctl");
  assert.equal(updated.status, 200);
  const meta = updated.body.metadata as KubeObject["metadata"];
  assert.deepEqual(meta.labels, { app: "web" }, "labels the manager dropped are removed");
  assert.deepEqual(meta.annotations, { other: "x" }, "fields of other managers stay");
  const spec = updated.body.spec as Record<string, unknown>;
  assert.deepEqual(spec.ports, [{ port: 8080, protocol: "TCP", targetPort: 8080 }]);
  assert.deepEqual(meta.managedFields?.map((m) => `${m.manager}/${m.operation}`), [
    "ctl/Apply",
    "annotator/Update",
  ]);

  const contested = { ...smaller, metadata: { name: "web", annotations: { other: "y" } } };
  const refused = await apply(url, contested, "ctl2");
  assert.equal(refused.status, 409);
  assert.equal(refused.body.reason, "Conflict");
  assert.match(
    refused.body.message as string,
    /Apply failed with 1 conflict: conflict with "annotator"/,
  );
  const forced = await apply(url, contested, "ctl2", true);
  assert.equal(forced.status, 200);
  assert.equal((forced.body.metadata as KubeObject["metadata"]).annotations?.other, "y");

  const noManager = await call(url, {
    method: "PATCH",
    headers: { "content-type": APPLY },
    body: JSON.stringify(config),
  });
  assert.equal(noManager.status, 400);
});

Deno.test("JSON patch and strategic merge patch", async () => {
  await using kube = await startFakeKube();
  kube.put(service("web", "ns1", { metadata: { name: "web", labels: { a: "1" } } }));
  const url = `${kube.url}/api/v1/namespaces/ns1/services/web`;
  const patched = await call(url, {
    method: "PATCH",
    headers: { "content-type": "application/json-patch+json" },
    body: JSON.stringify([
      { op: "add", path: "/metadata/labels/b", value: "2" },
      { op: "remove", path: "/metadata/labels/a" },
    ]),
  });
  assert.equal(patched.status, 200);
  assert.deepEqual((patched.body.metadata as KubeObject["metadata"]).labels, { b: "2" });
  const failed = await call(url, {
    method: "PATCH",
    headers: { "content-type": "application/json-patch+json" },
    body: JSON.stringify([{ op: "test", path: "/metadata/labels/b", value: "3" }]),
  });
  assert.equal(failed.status, 422);

  const strategic = await call(url, {
    method: "PATCH",
    headers: { "content-type": "application/strategic-merge-patch+json" },
    body: JSON.stringify({
      metadata: { labels: { c: "3", b: null } },
      spec: { $retainKeys: ["ports"], ports: [{ port: 9 }] },
    }),
  });
  assert.equal(strategic.status, 200);
  assert.deepEqual((strategic.body.metadata as KubeObject["metadata"]).labels, { c: "3" });
  const ports = (strategic.body.spec as Record<string, unknown>).ports;
  assert.deepEqual(ports, [{ port: 9, protocol: "TCP", targetPort: 9 }]);

  const missing = await call(`${kube.url}/api/v1/namespaces/ns1/services/nope`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: "{}",
  });
  assert.equal(missing.status, 404);
});

Deno.test("NetworkPolicies and Namespaces are served", async () => {
  await using kube = await startFakeKube();
  const policy = {
    apiVersion: "networking.k8s.io/v1",
    kind: "NetworkPolicy",
    metadata: { name: "deny", namespace: "ns1" },
    spec: { podSelector: {} },
  };
  const created = await apply(
    `${kube.url}/apis/networking.k8s.io/v1/namespaces/ns1/networkpolicies/deny`,
    policy,
    "t",
  );
  assert.equal(created.status, 201);
  assert.deepEqual((created.body.spec as Record<string, unknown>).policyTypes, ["Ingress"]);
  const list = await call(`${kube.url}/apis/networking.k8s.io/v1/networkpolicies`);
  assert.equal(list.body.kind, "NetworkPolicyList");
  assert.deepEqual(names(list.body), ["ns1/deny"]);

  const namespaces = await call(`${kube.url}/api/v1/namespaces`);
  assert.deepEqual(
    (namespaces.body.items as KubeObject[]).map((o) => o.metadata.name),
    ["default", "kube-system", "ns1"],
  );
  const deleted = await call(`${kube.url}/api/v1/namespaces/ns1`, { method: "DELETE" });
  assert.equal(deleted.status, 200);
  assert.deepEqual(kube.list("NetworkPolicy"), [], "deleting a namespace deletes its objects");
});

Deno.test("store access: put, get, list, delete, resourceVersion", async () => {
  await using kube = await startFakeKube({
    namespaces: [],
    objects: [service("a", "ns1", { metadata: { name: "a", labels: { k: "v" } } })],
  });
  const before = Number(kube.resourceVersion);
  const b = kube.put(
    service("b", "ns1", { status: { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } } }),
  );
  assert.equal(Number(b.metadata.resourceVersion), before + 1);
  assert.deepEqual(b.status, { loadBalancer: { ingress: [{ ip: "1.2.3.4" }] } });
  assert.deepEqual(kube.list("services", { labelSelector: "k" }).map((o) => o.metadata.name), [
    "a",
  ]);
  assert.equal(kube.get("Service", "ns1", "b")?.metadata.uid, b.metadata.uid);
  assert.equal(kube.delete("Service", "ns1", "b")?.metadata.name, "b");
  assert.equal(kube.delete("Service", "ns1", "b"), undefined);
  assert.equal(kube.get("Service", "ns1", "b"), undefined);
  assert.throws(() => kube.put({ kind: "Pod", metadata: { name: "p" } }), RangeError);
});

Deno.test("status subresource, dry run and bad watch parameters", async () => {
  await using kube = await startFakeKube();
  kube.put(service("lb", "ns1", { spec: { type: "LoadBalancer", ports: [{ port: 80 }] } }));
  const url = `${kube.url}/api/v1/namespaces/ns1/services/lb`;
  const ingress = { loadBalancer: { ingress: [{ ip: "192.0.2.1" }] } };
  const status = await call(`${url}/status`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ status: ingress, spec: { type: "ClusterIP" } }),
  });
  assert.equal(status.status, 200);
  assert.deepEqual(status.body.status, ingress);
  assert.equal((status.body.spec as Record<string, unknown>).type, "LoadBalancer");
  const main = await call(url, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ status: { loadBalancer: {} } }),
  });
  assert.deepEqual(main.body.status, ingress, "status is ignored on the main resource");

  const rv = kube.resourceVersion;
  const dry = await call(`${kube.url}/api/v1/namespaces/ns1/services?dryRun=All`, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify(service("dry", "ns1")),
  });
  assert.equal(dry.status, 201);
  assert.equal(kube.get("Service", "ns1", "dry"), undefined);
  assert.equal(kube.resourceVersion, rv);

  const bad = await call(`${kube.url}/api/v1/services?watch=true&resourceVersion=abc`);
  assert.equal(bad.status, 400);
  assert.equal(bad.body.reason, "BadRequest");
  const tooNew = await call(`${kube.url}/api/v1/services?resourceVersion=${Number(rv) + 10}`);
  assert.equal(tooNew.status, 504);
});

Deno.test("secrets: stringData folds into base64 data, type defaults to Opaque, stale writes get a 409 Status", async () => {
  await using kube = await startFakeKube();
  const base = `${kube.url}/api/v1/namespaces/wh/secrets`;
  const created = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "state" },
      data: { "a.json": btoa("{}") },
      stringData: { "b.pem": "key text", "a.json": "[]" },
    }),
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.type, "Opaque");
  assert.equal(created.body.stringData, undefined);
  assert.equal((created.body.metadata as KubeObject["metadata"]).generation, undefined);
  assert.deepEqual(created.body.data, { "a.json": btoa("[]"), "b.pem": btoa("key text") });
  const meta = created.body.metadata as KubeObject["metadata"];

  const stale = { ...created.body, data: { "a.json": btoa("1") } };
  const first = await call(`${base}/state`, {
    method: "PUT",
    headers: JSON_HEADERS,
    body: JSON.stringify(stale),
  });
  assert.equal(first.status, 200);
  assert.notEqual(
    (first.body.metadata as KubeObject["metadata"]).resourceVersion,
    meta.resourceVersion,
  );
  const second = await call(`${base}/state`, {
    method: "PUT",
    headers: JSON_HEADERS,
    body: JSON.stringify({ ...stale, data: { "a.json": btoa("2") } }),
  });
  assert.equal(second.status, 409);
  assert.deepEqual(
    second.body,
    {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message:
        'Operation cannot be fulfilled on secrets "state": the object has been modified; please apply your changes to the latest version and try again',
      reason: "Conflict",
      details: { name: "state", kind: "secrets" },
      code: 409,
    } satisfies Status,
  );

  const again = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ metadata: { name: "state" } }),
  });
  assert.equal(again.status, 409);
  assert.equal(again.body.reason, "AlreadyExists");

  const badBase64 = await call(`${base}/other`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ data: { k: "not base64!" } }),
  });
  assert.equal(badBase64.status, 404, "merge patch of a missing object");
  const bad = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ metadata: { name: "other" }, data: { k: "not base64!" } }),
  });
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.message), /illegal base64 data/);
  const typeChange = await call(`${base}/state`, {
    method: "PATCH",
    headers: { "content-type": "application/merge-patch+json" },
    body: JSON.stringify({ type: "kubernetes.io/tls" }),
  });
  assert.equal(typeChange.status, 422);
});

Deno.test("secrets: a watch on one Secret by field selector sees each write", async () => {
  await using kube = await startFakeKube();
  const created = kube.put({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "state", namespace: "wh" },
    stringData: { a: "1" },
  });
  kube.put({ apiVersion: "v1", kind: "Secret", metadata: { name: "other", namespace: "wh" } });
  const reader = new WatchEventReader(
    await fetch(
      `${kube.url}/api/v1/namespaces/wh/secrets?watch=1&fieldSelector=metadata.name%3Dstate&resourceVersion=${created.metadata.resourceVersion}`,
    ),
  );
  kube.put({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "other", namespace: "wh" },
    stringData: { x: "y" },
  });
  kube.put({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "state", namespace: "wh" },
    stringData: { a: "2" },
  });
  try {
    const event = await reader.next();
    assert.equal(event?.type, "MODIFIED");
    assert.equal((event?.object as KubeObject).metadata.name, "state");
    assert.deepEqual((event?.object as KubeObject).data, { a: btoa("2") });
  } finally {
    await reader.cancel();
  }
});

Deno.test("EndpointSlices: discovery, apply with defaults, validation, label-selected list and watch", async () => {
  await using kube = await startFakeKube({ bookmarkIntervalMs: 0 });
  const group = await call(`${kube.url}/apis/discovery.k8s.io/v1`);
  assert.deepEqual(group.body.resources, [{
    name: "endpointslices",
    singularName: "endpointslice",
    namespaced: true,
    kind: "EndpointSlice",
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
  }]);
  const base = `${kube.url}/apis/discovery.k8s.io/v1/namespaces/wh/endpointslices`;
  const from = kube.resourceVersion;
  const slice = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: { name: "peer-web", labels: { "kubernetes.io/service-name": "peer-web" } },
    addressType: "IPv4",
    endpoints: [{ addresses: ["10.0.0.7"], conditions: { ready: true } }],
    ports: [{ port: 30001 }],
  };
  const created = await apply(`${base}/peer-web`, slice, "t");
  assert.equal(created.status, 201);
  assert.deepEqual(created.body.ports, [{ port: 30001, name: "", protocol: "TCP" }]);
  assert.equal((created.body.metadata as KubeObject["metadata"]).generation, 1);

  const bad = await apply(`${base}/peer-web`, { ...slice, addressType: "IPv6" }, "t");
  assert.equal(bad.status, 422);
  assert.equal(
    bad.body.message,
    'EndpointSlice.discovery.k8s.io "peer-web" is invalid: addressType: "IPv6": field is immutable',
  );
  const noAddress = await apply(`${base}/x`, {
    ...slice,
    metadata: { name: "x" },
    endpoints: [{ addresses: ["not-an-ip"] }],
  }, "t");
  assert.equal(noAddress.status, 422);

  const list = await call(
    `${kube.url}/apis/discovery.k8s.io/v1/endpointslices?labelSelector=kubernetes.io/service-name%3Dpeer-web`,
  );
  assert.equal(list.body.kind, "EndpointSliceList");
  assert.deepEqual(names(list.body), ["wh/peer-web"]);

  const res = await fetch(`${base}?watch=true&resourceVersion=${from}`);
  const events = new WatchEventReader(res);
  try {
    const added = await events.next();
    assert.equal(added?.type, "ADDED");
    assert.equal((added?.object as KubeObject).kind, "EndpointSlice");
    await apply(`${base}/peer-web`, { ...slice, endpoints: [{ addresses: ["10.0.0.8"] }] }, "t");
    const moved = await events.next();
    assert.equal(moved?.type, "MODIFIED");
    assert.deepEqual((moved?.object as KubeObject).endpoints, [{ addresses: ["10.0.0.8"] }]);
  } finally {
    await events.cancel();
  }
  await kube.waitFor(() => kube.openWatchCount === 0);
});

Deno.test("Leases: create, optimistic replace with a 409 Status on a stale resourceVersion, no generation", async () => {
  await using kube = await startFakeKube();
  const base = `${kube.url}/apis/coordination.k8s.io/v1/namespaces/wh/leases`;
  const lease = {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "wormhole-leader", namespace: "wh" },
    spec: { holderIdentity: "a", leaseDurationSeconds: 15, leaseTransitions: 0 },
  };
  const created = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify(lease),
  });
  assert.equal(created.status, 201);
  const meta = created.body.metadata as KubeObject["metadata"];
  assert.equal(meta.generation, undefined);
  const again = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify(lease),
  });
  assert.equal(again.status, 409);
  assert.equal(again.body.reason, "AlreadyExists");

  const takeOver = (rv: string, holder: string) =>
    call(`${base}/wormhole-leader`, {
      method: "PUT",
      headers: JSON_HEADERS,
      body: JSON.stringify({
        ...lease,
        metadata: { ...lease.metadata, resourceVersion: rv },
        spec: { ...lease.spec, holderIdentity: holder, leaseTransitions: 1 },
      }),
    });
  const won = await takeOver(meta.resourceVersion!, "b");
  assert.equal(won.status, 200);
  const lost = await takeOver(meta.resourceVersion!, "c");
  assert.equal(lost.status, 409);
  assert.equal(lost.body.kind, "Status");
  assert.equal(lost.body.reason, "Conflict");
  assert.equal(
    (kube.get("Lease", "wh", "wormhole-leader")!.spec as { holderIdentity: string })
      .holderIdentity,
    "b",
  );

  const bad = await call(base, {
    method: "POST",
    headers: JSON_HEADERS,
    body: JSON.stringify({ ...lease, metadata: { name: "x" }, spec: { leaseDurationSeconds: 0 } }),
  });
  assert.equal(bad.status, 422);
});
