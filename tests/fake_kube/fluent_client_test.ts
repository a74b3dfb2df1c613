/**
 * kubernetes-fluent-client 3.11.6 against the fake API server. The client reads `KUBECONFIG`
 * on every request (a new `KubeConfig().loadFromDefault()` per call), so the tests point it
 * at the fake server's kubeconfig for their duration and restore it afterwards.
 *
 * @module
 */

import assert from "node:assert/strict";
import { K8s, kind, WatchEvent } from "kubernetes-fluent-client";
import { type FakeKube, startFakeKube, UNDICI_TIMER, usingKubeconfig } from "./mod.ts";

async function withKubeconfig<T>(kube: FakeKube, fn: () => Promise<T>): Promise<T> {
  using _config = usingKubeconfig(kube.kubeconfigPath);
  return await fn();
}

Deno.test("fluent client: Apply, Get, Delete", UNDICI_TIMER, async () => {
  await using kube = await startFakeKube();
  await withKubeconfig(kube, async () => {
    const applied = await K8s(kind.Service).Apply({
      metadata: { name: "web", namespace: "ns1", labels: { app: "web" } },
      spec: { ports: [{ port: 80 }], clusterIP: "127.0.0.1" },
    }, { force: true });
    assert.equal(applied.metadata?.uid, kube.get("Service", "ns1", "web")?.metadata.uid);
    assert.equal(applied.spec?.clusterIP, "127.0.0.1");

    const one = await K8s(kind.Service).InNamespace("ns1").Get("web");
    assert.equal(one.metadata?.resourceVersion, kube.resourceVersion);
    const list = await K8s(kind.Service).InNamespace("ns1").WithLabel("app", "web").Get();
    assert.deepEqual(list.items.map((s) => s.metadata?.name), ["web"]);

    await assert.rejects(
      () => K8s(kind.Service).InNamespace("ns1").Get("nope"),
      (e: { status?: number; data?: { reason?: string } }) =>
        e.status === 404 && e.data?.reason === "NotFound",
    );

    await K8s(kind.Service).InNamespace("ns1").Delete("web");
    assert.equal(kube.get("Service", "ns1", "web"), undefined);
    await K8s(kind.Service).InNamespace("ns1").Delete("web"); // 404 is swallowed

    const apply = kube.requests.find((r) => r.method === "PATCH")!;
    assert.equal(apply.contentType, "application/apply-patch+yaml");
    assert.deepEqual(apply.query, {
      fieldManager: "pepr",
      fieldValidation: "Strict",
      force: "true",
    });
    assert.equal(apply.authorization, "Bearer fake-kube-token");
  });
});

Deno.test(
  "fluent client: Watch lists, then watches from the list's resourceVersion",
  UNDICI_TIMER,
  async () => {
    await using kube = await startFakeKube();
    kube.put({ apiVersion: "v1", kind: "Service", metadata: { name: "a", namespace: "ns1" } });
    await withKubeconfig(kube, async () => {
      const seen: string[] = [];
      const watcher = K8s(kind.Service).InNamespace("ns1").Watch((svc, phase) => {
        seen.push(`${phase} ${svc.metadata?.name}`);
      });
      try {
        await watcher.start();
        await kube.waitFor(() => kube.openWatchCount === 1);
        kube.put({ apiVersion: "v1", kind: "Service", metadata: { name: "b", namespace: "ns1" } });
        kube.put({
          apiVersion: "v1",
          kind: "Service",
          metadata: { name: "b", namespace: "ns1", labels: { x: "y" } },
        });
        kube.delete("Service", "ns1", "b");
        await kube.waitFor(() => seen.length === 4);
        assert.deepEqual(seen, ["ADDED a", "ADDED b", "MODIFIED b", "DELETED b"]);
      } finally {
        watcher.close();
      }
      const [list, watch] = kube.requests.filter((r) => r.method === "GET");
      assert.deepEqual(list.query, {});
      assert.deepEqual(watch.query, { watch: "true", resourceVersion: "4" });
    });
  },
);

Deno.test(
  "fluent client: Watch relists after a graceful end and after 410 Expired",
  UNDICI_TIMER,
  async () => {
    await using kube = await startFakeKube();
    await withKubeconfig(kube, async () => {
      const seen: string[] = [];
      const watcher = K8s(kind.Service).InNamespace("ns1").Watch((svc, phase) => {
        seen.push(`${phase} ${svc.metadata?.name}`);
      });
      const tooOld: unknown[] = [];
      watcher.events.on(WatchEvent.OLD_RESOURCE_VERSION, (rv) => tooOld.push(rv));
      try {
        await watcher.start();
        await kube.waitFor(() => kube.openWatchCount === 1);

        // A stream that ends normally: the client relists and watches again at once.
        kube.endWatches();
        await kube.waitFor(() => kube.servedWatchCount === 2 && kube.openWatchCount === 1);
        kube.put({ apiVersion: "v1", kind: "Service", metadata: { name: "a", namespace: "ns1" } });
        await kube.waitFor(() => seen.includes("ADDED a"));

        // The next watch request carries a resourceVersion that is compacted by the time it
        // arrives: the client gets ERROR 410, drops its resourceVersion and relists.
        kube.onRequest = (r) => {
          if (r.query.watch !== "true") return;
          kube.onRequest = undefined;
          kube.put({
            apiVersion: "v1",
            kind: "Service",
            metadata: { name: "b", namespace: "ns1" },
          });
          kube.compact();
        };
        kube.endWatches();
        await kube.waitFor(() => seen.includes("ADDED b") && kube.openWatchCount === 1);
        assert.equal(tooOld.length, 1);
        kube.put({ apiVersion: "v1", kind: "Service", metadata: { name: "c", namespace: "ns1" } });
        await kube.waitFor(() => seen.includes("ADDED c"));
        assert.deepEqual(seen, ["ADDED a", "ADDED b", "ADDED c"]);
      } finally {
        watcher.close();
      }
    });
  },
);
