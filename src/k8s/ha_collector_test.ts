import assert from "node:assert/strict";
import { endpointSliceFor } from "./endpoint_slice.ts";
import { HaCollector } from "./ha_collector.ts";
import { type KubeObject, LABEL_MANAGED_BY, MANAGER, type ProxyKind } from "./objects.ts";
import type { ReplicaSurvey, ReplicaView } from "./replica_leases.ts";
import { MemoryServiceSink } from "./sink.ts";

const OWNED = { [LABEL_MANAGED_BY]: MANAGER };
const GRACE = 10_000;

class Replicas implements ReplicaView {
  live = new Set<string>();
  gone: string[] = [];
  forgotten: string[] = [];
  survey(): Promise<ReplicaSurvey> {
    return Promise.resolve({ live: new Set(this.live), gone: [...this.gone] });
  }
  resets = 0;
  reset(): void {
    this.resets++;
  }
  forget(name: string): Promise<void> {
    this.forgotten.push(name);
    this.gone = this.gone.filter((n) => n !== name);
    return Promise.resolve();
  }
}

function proxy(sink: MemoryServiceSink, name: string, holder?: string): void {
  const service = sink.put("Service", { metadata: { name, labels: OWNED }, spec: {} });
  sink.put("NetworkPolicy", { metadata: { name, labels: OWNED }, spec: {} });
  if (holder === undefined) return;
  const slice: KubeObject = endpointSliceFor(
    { name, namespace: sink.namespace, labels: OWNED },
    { name, uid: service.metadata.uid! },
    { name: holder, address: "10.0.0.2" },
    30001,
  );
  sink.put("EndpointSlice", slice);
}

function setup() {
  const sink = new MemoryServiceSink("wormhole");
  const replicas = new Replicas();
  let now = 1_000_000;
  const collector = new HaCollector({
    sink,
    replicas,
    graceMs: GRACE,
    networkPolicies: true,
    now: () => now,
  });
  return { sink, replicas, collector, advance: (ms: number) => now += ms };
}

Deno.test("ha collector: slices of gone replicas go at once, unheld Services after the grace, with their policies", async () => {
  const { sink, replicas, collector, advance } = setup();
  replicas.live = new Set(["a"]);
  replicas.gone = ["b"];
  proxy(sink, "held", "a");
  proxy(sink, "orphaned", "b");
  proxy(sink, "unheld");
  sink.put("NetworkPolicy", { metadata: { name: "stray", labels: OWNED }, spec: {} });
  sink.put("Service", { metadata: { name: "foreign" }, spec: {} });

  const first = await collector.collect();
  assert.deepEqual(first, {
    endpointSlices: ["orphaned"],
    services: [],
    networkPolicies: ["stray"],
    replicas: ["b"],
  });
  assert.deepEqual(replicas.forgotten, ["b"]);
  assert.deepEqual(sink.names("Service"), ["foreign", "held", "orphaned", "unheld"]);

  advance(GRACE - 1);
  assert.deepEqual((await collector.collect()).services, []);
  advance(1);
  const late = await collector.collect();
  assert.deepEqual(late.services, ["orphaned", "unheld"]);
  assert.deepEqual(late.networkPolicies, ["orphaned", "unheld"]);
  assert.deepEqual(sink.names("Service"), ["foreign", "held"]);
  assert.deepEqual(sink.names("NetworkPolicy"), ["held"]);
  assert.deepEqual(sink.names("EndpointSlice"), ["held"]);
});

Deno.test("ha collector: a Service held again within the grace stays, and its clock starts over", async () => {
  const { sink, replicas, collector, advance } = setup();
  replicas.live = new Set(["a", "b"]);
  proxy(sink, "web");
  await collector.collect();
  advance(GRACE - 1);
  proxy(sink, "web", "b");
  assert.deepEqual((await collector.collect()).services, []);
  await sink.delete("EndpointSlice", "web", {});
  advance(GRACE - 1);
  assert.deepEqual((await collector.collect()).services, [], "clock restarted when unheld again");
  advance(1);
  assert.deepEqual((await collector.collect()).services, []);
  advance(GRACE);
  assert.deepEqual((await collector.collect()).services, ["web"]);
});

Deno.test("ha collector: a new leader's clocks start afresh (reset)", async () => {
  const { sink, replicas, collector, advance } = setup();
  replicas.live = new Set(["a"]);
  proxy(sink, "web");
  await collector.collect();
  advance(GRACE);
  collector.reset();
  assert.equal(replicas.resets, 1, "the replicas' clocks too");
  assert.deepEqual((await collector.collect()).services, []);
  advance(GRACE);
  assert.deepEqual((await collector.collect()).services, ["web"]);
});

Deno.test("ha collector: without --network-policies it never reads NetworkPolicies (RBAC may not allow it)", async () => {
  const sink = new MemoryServiceSink("wormhole");
  const replicas = new Replicas();
  let now = 0;
  const collector = new HaCollector({ sink, replicas, graceMs: GRACE, now: () => now });
  proxy(sink, "web");
  await collector.collect();
  now += GRACE;
  const done = await collector.collect();
  assert.deepEqual(done.services, ["web"]);
  assert.deepEqual(done.networkPolicies, []);
  assert.deepEqual(sink.names("NetworkPolicy"), ["web"]);
});

Deno.test("ha collector: regression: a Service taken again between the leader's list and its delete keeps its NetworkPolicy", async () => {
  /** A replica takes the Service (its apply changes it) right after the leader listed it. */
  class TakenAfterList extends MemoryServiceSink {
    armed = false;
    override async listOwned(kind: ProxyKind): Promise<KubeObject[]> {
      const listed = await super.listOwned(kind);
      if (kind === "Service" && this.armed) {
        this.armed = false;
        this.put("Service", this.peek("Service", "web")!);
      }
      return listed;
    }
  }
  const sink = new TakenAfterList("wormhole");
  const replicas = new Replicas();
  let now = 0;
  const collector = new HaCollector({
    sink,
    replicas,
    graceMs: GRACE,
    networkPolicies: true,
    now: () => now,
  });
  proxy(sink, "web");
  await collector.collect();
  now += GRACE;
  sink.armed = true;
  const done = await collector.collect();
  assert.deepEqual(done.services, []);
  assert.deepEqual(done.networkPolicies, []);
  assert.deepEqual(sink.names("Service"), ["web"]);
  assert.deepEqual(sink.names("NetworkPolicy"), ["web"]);
});

Deno.test("ha collector: regression: a replica whose slices went is forgotten even if it renews before its Lease could be deleted (so that it rejoins and writes them again)", async () => {
  const { sink, replicas, collector } = setup();
  replicas.live = new Set(["a"]);
  replicas.gone = ["b"];
  proxy(sink, "web", "b");
  const forget = replicas.forget.bind(replicas);
  replicas.forget = () => Promise.reject(new Error("API server unreachable"));
  await assert.rejects(collector.collect(), /unreachable/);
  assert.deepEqual(sink.names("EndpointSlice"), [], "b's slice went");
  // b's renewal gets through again: live, not gone; its Lease must still go, or b never
  // learns that its slices did.
  replicas.forget = forget;
  replicas.live = new Set(["a", "b"]);
  replicas.gone = [];
  assert.deepEqual((await collector.collect()).replicas, ["b"]);
  assert.deepEqual(replicas.forgotten, ["b"]);
  assert.deepEqual((await collector.collect()).replicas, [], "once");
});
