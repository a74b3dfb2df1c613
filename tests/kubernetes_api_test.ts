/**
 * The kubernetes-fluent-client implementation of `KubeApi` (through the sink
 * and the reflector wormhole uses) against the fake API server, in process.
 * The client reads `KUBECONFIG` on every request; each test points it at its
 * fake and restores it afterwards.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type FeedEvents,
  type KubeApi,
  KubernetesApiError,
  KubeServiceSink,
  loadKubeApi,
  Reflector,
  SERVICES,
} from "../src/k8s/mod.ts";
import {
  type FakeKube,
  renderKubeconfig,
  startFakeKube,
  UNDICI_TIMER,
  usingKubeconfig,
} from "./fake_kube/mod.ts";

const api: KubeApi = await loadKubeApi();

async function withKube(fn: (kube: FakeKube) => Promise<void>): Promise<void> {
  await using kube = await startFakeKube();
  using _config = usingKubeconfig(kube.kubeconfigPath);
  await fn(kube);
}

const OWNED = { "app.kubernetes.io/managed-by": "wormhole" };

Deno.test(
  "kubernetes api: the sink applies as 'wormhole', lists owned, deletes with preconditions",
  UNDICI_TIMER,
  async () => {
    await withKube(async (kube) => {
      const sink = new KubeServiceSink(api, "wormhole");
      const applied = await sink.apply("Service", {
        metadata: { name: "edge-web", labels: OWNED },
        spec: { selector: { app: "wormhole-server" }, ports: [{ port: 80, targetPort: 30000 }] },
      });
      assert.equal(applied.metadata.namespace, "wormhole");
      const stored = kube.get("Service", "wormhole", "edge-web")!;
      assert.deepEqual(stored.metadata.managedFields?.map((m) => m.manager), ["wormhole"]);
      const apply = kube.requests.find((r) => r.method === "PATCH")!;
      assert.equal(apply.contentType, "application/apply-patch+yaml");
      assert.deepEqual(apply.query, { fieldManager: "wormhole", force: "true" });
      assert.equal(apply.authorization, "Bearer fake-kube-token");

      // Applying again keeps the object (and its clusterIP).
      await sink.apply("Service", {
        metadata: { name: "edge-web", labels: OWNED },
        spec: { selector: { app: "wormhole-server" }, ports: [{ port: 81, targetPort: 30000 }] },
      });
      const again = kube.get("Service", "wormhole", "edge-web")!;
      assert.equal(again.metadata.uid, stored.metadata.uid);
      assert.equal(
        (again.spec as { clusterIP: string }).clusterIP,
        (stored.spec as { clusterIP: string }).clusterIP,
      );

      // A stale resourceVersion makes the apply conditional: 409 Conflict.
      await assert.rejects(
        sink.apply("Service", {
          metadata: {
            name: "edge-web",
            labels: OWNED,
            resourceVersion: stored.metadata.resourceVersion,
          },
        }),
        (e) => e instanceof KubernetesApiError && e.status === 409 && e.reason === "Conflict",
      );

      kube.put({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "theirs", namespace: "wormhole" },
      });
      assert.deepEqual((await sink.listOwned("Service")).map((s) => s.metadata.name), ["edge-web"]);
      assert.equal(await sink.get("Service", "missing"), undefined);

      await assert.rejects(
        sink.delete("Service", "edge-web", { uid: "not-the-uid" }),
        (e) => e instanceof KubernetesApiError && e.status === 409,
      );
      assert.ok(kube.get("Service", "wormhole", "edge-web"));
      assert.equal(await sink.delete("Service", "edge-web", { uid: stored.metadata.uid }), true);
      assert.equal(await sink.delete("Service", "edge-web", {}), false);

      await sink.apply("NetworkPolicy", {
        metadata: { name: "edge-web", labels: OWNED },
        spec: { podSelector: { matchLabels: { app: "wormhole-server" } } },
      });
      assert.deepEqual((await sink.listOwned("NetworkPolicy")).map((s) => s.metadata.name), [
        "edge-web",
      ]);
    });
  },
);

Deno.test(
  "kubernetes api: errors are KubernetesApiErrors with status and reason",
  UNDICI_TIMER,
  async () => {
    await withKube(async (kube) => {
      await assert.rejects(
        api.request({ method: "GET", path: "/api/v1/namespaces/x/services/nope" }),
        (e) => e instanceof KubernetesApiError && e.notFound && e.reason === "NotFound",
      );
      // Nobody answers at the server's address any more.
      const config = await Deno.makeTempFile({ suffix: ".kubeconfig" });
      try {
        await Deno.copyFile(kube.kubeconfigPath, config);
        Deno.env.set("KUBECONFIG", config);
        await kube.close();
        await assert.rejects(
          api.request({ method: "GET", path: "/api/v1/services" }),
          (e) =>
            e instanceof KubernetesApiError && e.status === 0 && e.reason === "NetworkError" &&
            e.message.startsWith("GET /api/v1/services: "),
        );
        Deno.env.set("KUBECONFIG", `${config}.missing`);
        await assert.rejects(
          api.request({ method: "GET", path: "/api/v1/services" }),
          (e) => e instanceof KubernetesApiError && e.reason === "NoConfig",
        );
      } finally {
        await Deno.remove(config);
      }
    });
  },
);

Deno.test(
  "kubernetes api: the reflector resumes, relists after 410 and after a cut stream",
  UNDICI_TIMER,
  async () => {
    await withKube(async (kube) => {
      const put = (name: string) =>
        kube.put({ apiVersion: "v1", kind: "Service", metadata: { name, namespace: "ns" } });
      put("a");
      const names = new Set<string>();
      const events: FeedEvents = {
        replace: (items) => {
          names.clear();
          for (const item of items) names.add(item.metadata.name);
        },
        upsert: (item) => names.add(item.metadata.name),
        remove: (item) => names.delete(item.metadata.name),
      };
      const stop = new AbortController();
      const run = new Reflector(api, SERVICES, {
        namespace: "ns",
        policy: { retryMinMs: 10, retryMaxMs: 20 },
      }).run(events, stop.signal);
      try {
        await kube.waitFor(() => names.has("a") && kube.openWatchCount === 1);
        const watch = kube.requests.find((r) => r.query.watch !== undefined)!;
        assert.equal(watch.query.allowWatchBookmarks, "true");
        assert.equal(watch.query.timeoutSeconds, "60");

        put("b");
        await kube.waitFor(() => names.has("b"));

        // Graceful end: resumes from the last resourceVersion, no new list.
        const lists = () =>
          kube.requests.filter((r) => r.method === "GET" && !r.query.watch).length;
        const listed = lists();
        kube.endWatches();
        await kube.waitFor(() => kube.servedWatchCount === 2 && kube.openWatchCount === 1);
        assert.equal(lists(), listed);

        // 410 on the next watch: relist, and the change made meanwhile is not lost.
        kube.onRequest = (r) => {
          if (r.query.watch === undefined) return;
          kube.onRequest = undefined;
          kube.delete("Service", "ns", "a");
          put("c");
          kube.compact();
        };
        kube.endWatches();
        await kube.waitFor(() => names.has("c") && !names.has("a") && kube.openWatchCount === 1);
        assert.equal(lists(), listed + 1);

        // A stream cut mid-body: noticed at once, relisted.
        kube.failWatches();
        put("d");
        await kube.waitFor(() => names.has("d"));
        assert.deepEqual([...names].sort(), ["b", "c", "d"]);
      } finally {
        stop.abort();
        await run;
      }
      await kube.waitFor(() => kube.openWatchCount === 0);
    });
  },
);

Deno.test(
  "kubernetes api: an API server that accepts and never answers fails a request, and a watch before its response starts, with a Timeout error",
  UNDICI_TIMER,
  async () => {
    // A listener that takes every connection and never says a word.
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })();
    const config = await Deno.makeTempFile({ suffix: ".kubeconfig" });
    await Deno.writeTextFile(
      config,
      renderKubeconfig({
        server: `http://127.0.0.1:${silent.addr.port}`,
        token: "t",
        name: "silent",
        namespace: "default",
      }),
    );
    using _config = usingKubeconfig(config);
    const patient = await loadKubeApi({ timeoutMs: 300 });
    try {
      await assert.rejects(
        patient.request({ method: "GET", path: "/api/v1/services" }),
        (e) =>
          e instanceof KubernetesApiError && e.status === 0 && e.reason === "Timeout" &&
          e.message === "GET /api/v1/services: no answer from the API server within 300 ms",
      );
      await assert.rejects(
        patient.stream("/api/v1/services", { watch: "1" }, new AbortController().signal),
        (e) => e instanceof KubernetesApiError && e.reason === "Timeout",
      );
      assert.ok(held.length >= 2, "both reached the silent server");
    } finally {
      silent.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
      await Deno.remove(config);
    }
  },
);
