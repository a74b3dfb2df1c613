import assert from "node:assert/strict";
import { Logger } from "../log/mod.ts";
import { type ExposedAppEvent, ProxyServiceController, type Timers } from "./exposer.ts";
import { KEY_EXPOSED_APP, KEY_EXPOSED_PEER, LABEL_MANAGED_BY, type Service } from "./objects.ts";
import { hashedServiceName } from "./names.ts";
import { MemoryServiceSink } from "./sink.ts";
import { waitFor } from "../mux/testing.ts";

/** Timers that fire only when told to. */
class ManualTimers implements Timers {
  #next = 1;
  readonly pending = new Map<number, { callback: () => void; ms: number }>();
  set(callback: () => void, ms: number): number {
    this.pending.set(this.#next, { callback, ms });
    return this.#next++;
  }
  clear(handle: number): void {
    this.pending.delete(handle);
  }
  /** Fires the timers set so far (not the ones they set). */
  fireAll(): number {
    const due = [...this.pending];
    this.pending.clear();
    for (const [, timer] of due) timer.callback();
    return due.length;
  }
}

const GRACE = 10_000;
const SELECTOR = { app: "wormhole-server" };

function event(peer: string, app: string, appPort: number, port: number): ExposedAppEvent {
  return { peer, app: { name: app, port: appPort }, port, endpoint: `0.0.0.0:${port}` };
}

function setup(options: { networkPolicies?: boolean } = {}) {
  const sink = new MemoryServiceSink("wormhole");
  const timers = new ManualTimers();
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ format: "json", sink: (line) => lines.push(JSON.parse(line)) });
  const controller = new ProxyServiceController({
    sink,
    selector: SELECTOR,
    graceMs: GRACE,
    timers,
    logger,
    networkPolicies: options.networkPolicies,
  });
  return { sink, timers, controller, lines };
}

Deno.test("exposer: an exposed app becomes a proxy Service", async () => {
  const { sink, controller } = setup();
  controller.appExposed(event("laptop", "web", 3000, 30001));
  await controller.idle();
  const svc = sink.peek("Service", "laptop-web") as Service;
  assert.deepEqual(svc.metadata.labels, {
    "app.kubernetes.io/managed-by": "wormhole",
    "wormhole.glothriel.github.com/exposed-peer": "laptop",
    "wormhole.glothriel.github.com/exposed-app": "web",
  });
  assert.deepEqual(svc.metadata.annotations, {
    "wormhole.glothriel.github.com/exposed-peer": "laptop",
    "wormhole.glothriel.github.com/exposed-app": "web",
  });
  assert.deepEqual(svc.spec?.selector, SELECTOR);
  assert.deepEqual(svc.spec?.ports, [{ protocol: "TCP", port: 3000, targetPort: 30001 }]);
  assert.equal(
    controller.endpoint(event("laptop", "web", 3000, 30001)),
    "laptop-web.wormhole:3000",
  );
  // Unknown original port: the listener port.
  controller.appExposed(event("laptop", "db", 0, 30002));
  await controller.idle();
  assert.deepEqual((sink.peek("Service", "laptop-db") as Service).spec?.ports, [
    { protocol: "TCP", port: 30002, targetPort: 30002 },
  ]);
  await controller.close();
});

Deno.test("exposer: a withdrawn app is deleted only after the grace period", async () => {
  const { sink, timers, controller } = setup();
  controller.appExposed(event("laptop", "web", 80, 30001));
  await controller.idle();
  controller.appWithdrawn(event("laptop", "web", 80, 30001));
  await controller.idle();
  assert.deepEqual(sink.names("Service"), ["laptop-web"]);
  assert.deepEqual([...timers.pending.values()].map((t) => t.ms), [GRACE]);
  timers.fireAll();
  await controller.idle();
  assert.deepEqual(sink.names("Service"), []);
  assert.deepEqual(sink.writes, ["apply Service laptop-web", "delete Service laptop-web"]);
  await controller.close();
});

Deno.test("exposer: a reconnect within the grace period keeps the Service and its ClusterIP", async () => {
  const { sink, timers, controller } = setup();
  controller.appExposed(event("laptop", "web", 80, 30001));
  await controller.idle();
  const before = sink.peek("Service", "laptop-web") as Service;
  controller.appWithdrawn(event("laptop", "web", 80, 30001)); // peer gone
  controller.appExposed(event("laptop", "web", 80, 30007)); // back, on another port
  assert.equal(timers.fireAll(), 0, "the deletion was cancelled");
  await controller.idle();
  const after = sink.peek("Service", "laptop-web") as Service;
  assert.equal(after.metadata.uid, before.metadata.uid);
  assert.equal(after.spec?.clusterIP, before.spec?.clusterIP);
  assert.deepEqual(after.spec?.ports, [{ protocol: "TCP", port: 80, targetPort: 30007 }]);
  assert.ok(!sink.writes.some((w) => w.startsWith("delete")));
  await controller.close();
});

Deno.test("exposer: a replacement exposed before the old listener's withdrawal keeps the Service", async () => {
  const { sink, timers, controller } = setup();
  controller.appExposed(event("laptop", "web", 80, 30001));
  controller.appExposed(event("laptop", "web", 8080, 30002)); // port edit: new listener first
  controller.appWithdrawn(event("laptop", "web", 80, 30001)); // then the old one closes
  assert.equal(timers.pending.size, 0);
  await controller.idle();
  assert.deepEqual((sink.peek("Service", "laptop-web") as Service).spec?.ports, [
    { protocol: "TCP", port: 8080, targetPort: 30002 },
  ]);
  await controller.close();
});

Deno.test("exposer: a Service wormhole does not own is never changed or deleted", async () => {
  const { sink, timers, controller, lines } = setup();
  const foreign = sink.put("Service", {
    metadata: { name: "laptop-web", labels: { team: "x" } },
    spec: { ports: [{ port: 1 }] },
  });
  controller.appExposed(event("laptop", "web", 80, 30001));
  await controller.idle();
  controller.appWithdrawn(event("laptop", "web", 80, 30001));
  timers.fireAll();
  await controller.idle();
  assert.deepEqual(sink.peek("Service", "laptop-web"), foreign);
  assert.deepEqual(sink.writes, []);
  assert.ok(lines.some((l) => l.level === "warn" && String(l.msg).includes("not managed")));
  await controller.close();
});

Deno.test("exposer: garbage collection one grace period after start-up", async () => {
  const { sink, timers, controller } = setup({ networkPolicies: true });
  const owned = { [LABEL_MANAGED_BY]: "wormhole" };
  for (const name of ["old-gone", "laptop-web", "laptop-db"]) {
    sink.put("Service", { metadata: { name, labels: owned } });
  }
  sink.put("NetworkPolicy", { metadata: { name: "old-gone", labels: owned } });
  sink.put("Service", { metadata: { name: "someone-else" } });
  controller.start();
  controller.appExposed(event("laptop", "web", 80, 30001)); // reconnected
  controller.appExposed(event("laptop", "db", 5432, 30002));
  controller.appWithdrawn(event("laptop", "db", 5432, 30002)); // within its grace
  await controller.idle();
  assert.ok(!sink.writes.some((w) => w.startsWith("delete")), "nothing deleted before the grace");
  timers.fireAll(); // the collection, and laptop-db's grace
  await controller.idle();
  assert.deepEqual(sink.names("Service"), ["laptop-web", "someone-else"]);
  assert.deepEqual(sink.names("NetworkPolicy"), ["laptop-web"]);
  await controller.close();
});

Deno.test("exposer: ready once the first sync has listed the owned objects, retried until then", async () => {
  const { sink, timers, controller, lines } = setup({ networkPolicies: true });
  sink.put("Service", { metadata: { name: "old", labels: { [LABEL_MANAGED_BY]: "wormhole" } } });
  assert.equal(controller.ready(), false, "not ready before start");
  sink.failNext(2);
  controller.start();
  for (const failures of [1, 2]) {
    const retry = () => [...timers.pending].find(([, timer]) => timer.ms !== GRACE);
    await waitFor(() => retry() !== undefined, `retry ${failures}`);
    assert.equal(controller.ready(), false, `not ready after ${failures} failed lists`);
    const [handle, timer] = retry()!;
    timers.clear(handle);
    timer.callback();
  }
  await waitFor(() => controller.ready(), "the first sync");
  const synced = lines.find((l) => l.msg === "proxy Services synced with the API server: ready");
  assert.deepEqual(synced?.owned, { Service: 1, NetworkPolicy: 0 });
  assert.equal(lines.filter((l) => String(l.msg).startsWith("cannot list")).length, 2);
  assert.deepEqual(sink.names("Service"), ["old"], "the sync deletes nothing");
  await controller.close();
});

Deno.test("exposer: network policies allow only labelled pods, on the target port", async () => {
  const { sink, timers, controller } = setup({ networkPolicies: true });
  controller.appExposed(event("laptop", "web", 80, 30001));
  await controller.idle();
  const policy = sink.peek("NetworkPolicy", "laptop-web");
  assert.deepEqual(policy?.spec, {
    podSelector: { matchLabels: SELECTOR },
    policyTypes: ["Ingress"],
    ingress: [{
      from: [{
        namespaceSelector: {},
        podSelector: {
          matchLabels: {
            "wormhole.glothriel.github.com/network-policy-consumes-app": "laptop-web",
          },
        },
      }],
      ports: [{ protocol: "TCP", port: 30001 }],
    }],
  });
  assert.equal(policy?.metadata.labels?.[LABEL_MANAGED_BY], "wormhole");
  controller.appWithdrawn(event("laptop", "web", 80, 30001));
  timers.fireAll();
  await controller.idle();
  assert.deepEqual(sink.names("NetworkPolicy"), []);
  assert.deepEqual(sink.names("Service"), []);
  await controller.close();
});

Deno.test("exposer: failed writes are retried until they succeed", async () => {
  const sink = new MemoryServiceSink();
  const controller = new ProxyServiceController({
    sink,
    selector: SELECTOR,
    graceMs: GRACE,
    retry: { minMs: 1, maxMs: 2 },
  });
  sink.failNext(3);
  controller.appExposed(event("laptop", "web", 80, 30001));
  await controller.idle();
  assert.deepEqual(sink.names("Service"), ["laptop-web"]);
  await controller.close();
});

Deno.test("exposer: two apps spelling one Service name: the later gets its hashed name", async () => {
  const { sink, controller, lines } = setup();
  controller.appExposed(event("a-b", "c", 80, 30001));
  await controller.idle();
  controller.appExposed(event("a", "b-c", 81, 30002));
  await controller.idle();
  const hashed = await hashedServiceName("a", "b-c");
  assert.deepEqual(sink.names("Service"), ["a-b-c", hashed].sort());
  assert.equal((sink.peek("Service", "a-b-c") as Service).spec?.ports?.[0].port, 80);
  assert.equal((sink.peek("Service", hashed) as Service).spec?.ports?.[0].port, 81);
  assert.equal(controller.endpoint(event("a", "b-c", 81, 30002)), `${hashed}.wormhole:81`);
  assert.ok(lines.some((l) => l.level === "warn" && l.service === "a-b-c" && l.instead === hashed));
  await controller.close();
});

Deno.test("exposer: regression: a Service another app holds in the cluster is never taken over", async () => {
  const { sink, timers, controller } = setup();
  // Written by this server before a restart, for peer "edge" app "1-web".
  const held = sink.put("Service", {
    metadata: {
      name: "edge-1-web",
      labels: { [LABEL_MANAGED_BY]: "wormhole" },
      annotations: { [KEY_EXPOSED_PEER]: "edge", [KEY_EXPOSED_APP]: "1-web" },
    },
    spec: { ports: [{ port: 80, targetPort: 30001 }] },
  });
  controller.appExposed(event("edge-1", "web", 8080, 30002));
  await controller.idle();
  const hashed = await hashedServiceName("edge-1", "web");
  assert.deepEqual(sink.peek("Service", "edge-1-web"), held);
  assert.equal((sink.peek("Service", hashed) as Service).spec?.ports?.[0].targetPort, 30002);
  // Its withdrawal deletes its own Service only.
  controller.appWithdrawn(event("edge-1", "web", 8080, 30002));
  timers.fireAll();
  await controller.idle();
  assert.deepEqual(sink.names("Service"), ["edge-1-web"]);
  await controller.close();
});

Deno.test("exposer: close cancels pending deletions and deletes nothing", async () => {
  const { sink, timers, controller } = setup();
  controller.start();
  controller.appExposed(event("laptop", "web", 80, 30001));
  await controller.idle();
  controller.appWithdrawn(event("laptop", "web", 80, 30001));
  await controller.close();
  assert.equal(timers.pending.size, 0);
  assert.deepEqual(sink.names("Service"), ["laptop-web"]);
});

function replicaSetup(sink: MemoryServiceSink, name: string, address: string) {
  const timers = new ManualTimers();
  const controller = new ProxyServiceController({
    sink,
    selector: SELECTOR,
    graceMs: GRACE,
    timers,
    replica: { name, address },
  });
  return { timers, controller };
}

Deno.test("exposer --ha: a selector-less Service and the holder's EndpointSlice, owned by the Service", async () => {
  const sink = new MemoryServiceSink("wormhole");
  const a = replicaSetup(sink, "wormhole-a", "10.0.0.2");
  a.controller.start();
  a.controller.appExposed(event("laptop", "web", 3000, 30001));
  await a.controller.idle();
  const svc = sink.peek("Service", "laptop-web") as Service;
  assert.equal(svc.spec?.selector, undefined);
  assert.deepEqual(svc.spec?.ports, [{ protocol: "TCP", port: 3000, targetPort: 30001 }]);
  const slice = sink.peek("EndpointSlice", "laptop-web")!;
  assert.deepEqual(slice.metadata.labels, {
    "app.kubernetes.io/managed-by": "wormhole",
    "wormhole.glothriel.github.com/exposed-peer": "laptop",
    "wormhole.glothriel.github.com/exposed-app": "web",
    "kubernetes.io/service-name": "laptop-web",
    "endpointslice.kubernetes.io/managed-by": "wormhole.glothriel.github.com/server",
    "wormhole.glothriel.github.com/replica": "wormhole-a",
  });
  assert.deepEqual(slice.metadata.ownerReferences, [{
    apiVersion: "v1",
    kind: "Service",
    name: "laptop-web",
    uid: svc.metadata.uid,
    controller: false,
    blockOwnerDeletion: false,
  }]);
  assert.equal(slice.addressType, "IPv4");
  assert.deepEqual(slice.endpoints, [{
    addresses: ["10.0.0.2"],
    conditions: { ready: true, serving: true, terminating: false },
  }]);
  assert.deepEqual(slice.ports, [{ name: "", protocol: "TCP", port: 30001 }]);
  await a.controller.close();
});

Deno.test("exposer --ha: the replica the peer moves to takes the slice over; the one it left removes only its own; the Service stays", async () => {
  const sink = new MemoryServiceSink("wormhole");
  const a = replicaSetup(sink, "wormhole-a", "10.0.0.2");
  const b = replicaSetup(sink, "wormhole-b", "10.0.0.3");
  a.controller.appExposed(event("laptop", "web", 3000, 30001));
  await a.controller.idle();
  const uid = sink.peek("Service", "laptop-web")!.metadata.uid;

  // The peer reconnects to B before A noticed it gone.
  b.controller.appExposed(event("laptop", "web", 3000, 30007));
  await b.controller.idle();
  let slice = sink.peek("EndpointSlice", "laptop-web")!;
  assert.deepEqual(slice.endpoints, [{
    addresses: ["10.0.0.3"],
    conditions: { ready: true, serving: true, terminating: false },
  }]);
  assert.deepEqual(slice.ports, [{ name: "", protocol: "TCP", port: 30007 }]);

  a.controller.appWithdrawn(event("laptop", "web", 3000, 30001));
  await a.controller.idle();
  slice = sink.peek("EndpointSlice", "laptop-web")!;
  assert.equal(slice.metadata.annotations?.["wormhole.glothriel.github.com/replica"], "wormhole-b");
  a.timers.fireAll();
  await a.controller.idle();

  b.controller.appWithdrawn(event("laptop", "web", 3000, 30007));
  await b.controller.idle();
  assert.equal(sink.peek("EndpointSlice", "laptop-web"), undefined, "B released its slice");
  b.timers.fireAll();
  await b.controller.idle();
  assert.equal(
    sink.peek("Service", "laptop-web")?.metadata.uid,
    uid,
    "same Service, same ClusterIP",
  );
  assert.ok(!sink.writes.some((w) => w.startsWith("delete Service")));

  // Back within the grace on A: A holds it again.
  a.controller.appExposed(event("laptop", "web", 3000, 30001));
  await a.controller.idle();
  assert.equal(
    sink.peek("EndpointSlice", "laptop-web")?.metadata.annotations?.[
      "wormhole.glothriel.github.com/replica"
    ],
    "wormhole-a",
  );
  await a.controller.close();
  await b.controller.close();
});

Deno.test("exposer --ha: one grace after start, a replica releases its slices of an earlier run, and only those", async () => {
  const sink = new MemoryServiceSink("wormhole");
  const earlier = replicaSetup(sink, "wormhole-a", "10.0.0.2");
  const other = replicaSetup(sink, "wormhole-b", "10.0.0.3");
  earlier.controller.appExposed(event("gone", "web", 80, 30001));
  earlier.controller.appExposed(event("back", "web", 80, 30002));
  other.controller.appExposed(event("elsewhere", "web", 80, 30003));
  await Promise.all([earlier.controller.idle(), other.controller.idle()]);
  await earlier.controller.close();

  // The same replica name, restarted: "back" reconnects to it within the grace, "gone" does not.
  const again = replicaSetup(sink, "wormhole-a", "10.0.0.4");
  again.controller.start();
  again.controller.appExposed(event("back", "web", 80, 30002));
  await again.controller.idle();
  assert.equal(again.timers.fireAll(), 1);
  await again.controller.idle();
  assert.deepEqual(sink.names("EndpointSlice"), ["back-web", "elsewhere-web"]);
  assert.deepEqual(sink.peek("EndpointSlice", "back-web")?.endpoints, [{
    addresses: ["10.0.0.4"],
    conditions: { ready: true, serving: true, terminating: false },
  }]);
  assert.deepEqual(
    sink.names("Service"),
    ["back-web", "elsewhere-web", "gone-web"],
    "Services stay",
  );
  await again.controller.close();
  await other.controller.close();
});
