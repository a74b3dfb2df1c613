import assert from "node:assert/strict";
import type { AppSpec } from "../protocol/mod.ts";
import { KubernetesWatchError } from "./errors.ts";
import { ANNOTATION_EXPOSED, ANNOTATION_PORTS, type Service } from "./objects.ts";
import { AnnotatedServiceSource, MemoryServiceFeed } from "./source.ts";
import { until } from "../testing.ts";

function svc(
  namespace: string,
  name: string,
  annotations: Record<string, string> = { [ANNOTATION_EXPOSED]: "yes" },
  ports = [{ name: "http", port: 80 }],
): Service {
  return { metadata: { namespace, name, annotations }, spec: { clusterIP: "10.0.0.1", ports } };
}

function names(apps: AppSpec[]): string[] {
  return apps.map((app) => app.name);
}

Deno.test("source: annotate, un-annotate, port edits and deletion change the apps", async () => {
  const feed = new MemoryServiceFeed();
  feed.put(svc("default", "web"));
  feed.put(svc("default", "plain", {}));
  const source = new AnnotatedServiceSource([feed], { upstream: "dns", debounceMs: 1 });
  const seen: AppSpec[][] = [];
  source.start((apps) => seen.push(apps));
  try {
    await until(() => seen.length === 1, "first list");
    assert.deepEqual(seen[0], [
      { name: "default-web", host: "web.default.svc.cluster.local", port: 80 },
    ]);

    feed.put(svc("default", "plain"));
    await until(() => seen.length === 2, "annotated");
    assert.deepEqual(names(seen[1]), ["default-plain", "default-web"]);

    feed.put(svc("default", "plain", {}));
    await until(() => seen.length === 3, "un-annotated");
    assert.deepEqual(names(seen[2]), ["default-web"]);

    feed.put(svc("default", "web", undefined, [{ name: "http", port: 8080 }]));
    await until(() => seen.length === 4, "port edit");
    assert.equal(seen[3][0].port, 8080);

    feed.put(svc("default", "web", { [ANNOTATION_EXPOSED]: "1", [ANNOTATION_PORTS]: "http" }, [
      { name: "http", port: 8080 },
      { name: "admin", port: 9000 },
    ]));
    feed.put(svc("default", "web", undefined, [
      { name: "http", port: 8080 },
      { name: "admin", port: 9000 },
    ]));
    await until(() => seen.length === 5, "second port");
    assert.deepEqual(names(seen[4]), ["default-web-admin", "default-web-http"]);

    feed.delete("default", "web");
    await until(() => seen.length === 6, "deleted");
    assert.deepEqual(seen[5], []);

    // A relist with the same content and an unannotated Service announce nothing; the next
    // announcement is the next real change.
    feed.relist();
    feed.put(svc("other", "x", {}));
    await new Promise((resolve) => setTimeout(resolve, 20));
    feed.put(svc("other", "y"));
    await until(() => seen.length >= 7, "next change");
    assert.equal(seen.length, 7);
    assert.deepEqual(names(seen[6]), ["other-y"]);
  } finally {
    await source.close();
  }
});

Deno.test("source: changes in quick succession are announced once (debounced)", async () => {
  const feed = new MemoryServiceFeed();
  const source = new AnnotatedServiceSource([feed], { upstream: "dns", debounceMs: 50 });
  const seen: AppSpec[][] = [];
  source.start((apps) => seen.push(apps));
  try {
    await until(() => seen.length === 1, "first list");
    // Twenty changes before the timer can fire: one announcement.
    for (let i = 0; i < 20; i++) feed.put(svc("ns", `s${i}`));
    await until(() => seen.length >= 2, "burst");
    assert.equal(seen.length, 2);
    assert.equal(seen[1].length, 20);
  } finally {
    await source.close();
  }
});

Deno.test("source: two Services claiming one app name: the first (by namespace/name) wins", async () => {
  const feed = new MemoryServiceFeed();
  const named = { [ANNOTATION_EXPOSED]: "1", "wormhole.glothriel.github.com/name": "shared" };
  feed.put(svc("b", "two", named));
  feed.put(svc("a", "one", named));
  const source = new AnnotatedServiceSource([feed], { upstream: "cluster-ip", debounceMs: 1 });
  const seen: AppSpec[][] = [];
  source.start((apps) => seen.push(apps));
  try {
    await until(() => seen.length === 1, "first list");
    assert.deepEqual(seen[0], [{ name: "shared", host: "10.0.0.1", port: 80 }]);
  } finally {
    await source.close();
  }
});

Deno.test("source: several feeds (namespaces) are merged", async () => {
  const a = new MemoryServiceFeed();
  const b = new MemoryServiceFeed();
  a.put(svc("a", "x"));
  b.put(svc("b", "y"));
  const source = new AnnotatedServiceSource([a, b], { upstream: "dns", debounceMs: 1 });
  const seen: AppSpec[][] = [];
  source.start((apps) => seen.push(apps));
  try {
    await until(() => seen.at(-1)?.length === 2, "both");
    assert.deepEqual(names(seen.at(-1)!), ["a-x", "b-y"]);
    b.delete("b", "y");
    await until(() => seen.at(-1)?.length === 1, "one left");
  } finally {
    await source.close();
  }
});

Deno.test("source: a feed that gives up rejects done and stops the others", async () => {
  const a = new MemoryServiceFeed();
  const b = new MemoryServiceFeed();
  const source = new AnnotatedServiceSource([a, b], { upstream: "dns", debounceMs: 1 });
  source.start(() => {});
  a.fail(new KubernetesWatchError("gave up"));
  await assert.rejects(source.done, KubernetesWatchError);
  await source.close();
});
