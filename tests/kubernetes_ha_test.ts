/**
 * `--ha` building blocks on the real Kubernetes client against the fake API
 * server: the Lease election (client-go's algorithm, stepped with a fake
 * clock), replica Leases, and the leader's collection over real
 * EndpointSlices.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  type Collected,
  HaCollector,
  type KubeApi,
  type KubeObject,
  KubernetesApiError,
  KubeServiceSink,
  type Lease,
  LeaseElector,
  loadKubeApi,
  type ProxyKind,
  ProxyServiceController,
  ReplicaLeases,
} from "../src/k8s/mod.ts";
import { type FakeKube, startFakeKube, UNDICI_TIMER, usingKubeconfig } from "./fake_kube/mod.ts";
import { kubectl, kubectlMissing } from "./fake_kube/mod.ts";

const api: KubeApi = await loadKubeApi();
const TIMINGS = { durationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

/** A test against its own fake API server, the real client's kubeconfig pointing at it. */
function kubeTest(name: string, fn: (kube: FakeKube) => Promise<void>): void {
  Deno.test(name, UNDICI_TIMER, async () => {
    await using kube = await startFakeKube();
    using _config = usingKubeconfig(kube.kubeconfigPath);
    await fn(kube);
  });
}

function clock() {
  let now = 1_700_000_000_000;
  return { now: () => now, advance: (ms: number) => now += ms };
}

function elector(identity: string, now: () => number, changes: boolean[]) {
  return new LeaseElector({
    api,
    namespace: "wh",
    name: "wormhole-leader",
    identity,
    ...TIMINGS,
    now,
    onChange: (leader) => changes.push(leader),
  });
}

/** The Leases of `replica` in namespace wh, with the test timings. */
function replicaLeases(
  replica: string,
  options: Partial<ConstructorParameters<typeof ReplicaLeases>[0]> = {},
): ReplicaLeases {
  return new ReplicaLeases({
    api,
    namespace: "wh",
    replica,
    prefix: "wormhole-replica",
    durationMs: TIMINGS.durationMs,
    renewEveryMs: TIMINGS.retryPeriodMs,
    ...options,
  });
}

/** The proxy Service controller of replica `name` (advertising `address`), grace 10 s. */
function replicaController(
  name: string,
  address: string,
  sink: KubeServiceSink = new KubeServiceSink(api, "wh"),
): ProxyServiceController {
  return new ProxyServiceController({
    sink,
    selector: { app: "wormhole" },
    graceMs: 10_000,
    replica: { name, address },
  });
}

/** The leader's collector over `replicas`, grace 10 s, on the test clock. */
function leaderCollector(
  replicas: ConstructorParameters<typeof HaCollector>[0]["replicas"],
  now: () => number,
  sink: KubeServiceSink = new KubeServiceSink(api, "wh"),
): HaCollector {
  return new HaCollector({ sink, replicas, graceMs: 10_000, now });
}

/** Peer laptop's app web on port 30001, as the server reports it exposed. */
const LAPTOP_WEB = {
  peer: "laptop",
  app: { name: "web", port: 80 },
  port: 30001,
  endpoint: "0.0.0.0:30001",
};

kubeTest(
  "ha: Lease election: one leader, takeover after the duration, step-down after the renew deadline, release on close",
  async (kube) => {
    const { now, advance } = clock();
    const aChanges: boolean[] = [];
    const bChanges: boolean[] = [];
    const a = elector("wormhole-a", now, aChanges);
    const b = elector("wormhole-b", now, bChanges);
    assert.equal(await a.tryOnce(), true);
    assert.equal(await b.tryOnce(), false);
    const lease = kube.get("Lease", "wh", "wormhole-leader") as Lease;
    assert.equal(lease.spec?.holderIdentity, "wormhole-a");
    assert.equal(lease.spec?.leaseDurationSeconds, 15);
    assert.equal(lease.spec?.leaseTransitions, 0);
    assert.match(lease.spec?.renewTime ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    advance(14_000);
    assert.equal(await a.tryOnce(), true, "renewed");
    assert.equal(await b.tryOnce(), false, "b saw the renewal: its clock restarts");
    advance(14_999);
    assert.equal(await b.tryOnce(), false, "not yet a lease duration since b saw it change");
    advance(1);
    assert.equal(await b.tryOnce(), true, "a stopped renewing: b takes over");
    const taken = kube.get("Lease", "wh", "wormhole-leader") as Lease;
    assert.equal(taken.spec?.holderIdentity, "wormhole-b");
    assert.equal(taken.spec?.leaseTransitions, 1);

    // a comes back after its renew deadline has passed: it steps down.
    assert.equal(await a.tryOnce(), false);
    assert.deepEqual(aChanges, [true, false]);
    assert.equal(a.changes, 2);

    await b.close();
    assert.deepEqual(bChanges, [true, false]);
    const released = kube.get("Lease", "wh", "wormhole-leader") as Lease;
    assert.equal(released.spec?.holderIdentity, "");
    assert.equal(await a.tryOnce(), true, "a released Lease is taken at once");
    await a.close();
  },
);

kubeTest(
  "ha: candidates racing for an expired Lease: exactly one wins (conditional replace)",
  async () => {
    const { now, advance } = clock();
    const electors = ["a", "b", "c"].map((name) => elector(`wormhole-${name}`, now, []));
    assert.equal(await electors[0].tryOnce(), true);
    await Promise.all(electors.slice(1).map((e) => e.tryOnce()));
    advance(TIMINGS.durationMs);
    const won = await Promise.all(electors.slice(1).map((e) => e.tryOnce()));
    assert.equal(won.filter(Boolean).length, 1);
  },
);

const missing = await kubectlMissing();

kubeTest(
  "ha: replica Leases: renewed ones are live, stale ones gone; the collector removes their slices and Leases",
  async (kube) => {
    const { now, advance } = clock();
    const members = (replica: string) => replicaLeases(replica, { now });
    const a = members("wormhole-a");
    const b = members("wormhole-b");
    await a.renew();
    await b.renew();
    const sink = new KubeServiceSink(api, "wh");
    const controllers = [
      replicaController("wormhole-a", "127.0.0.2", sink),
      replicaController("wormhole-b", "127.0.0.3", sink),
    ];
    controllers[0].appExposed(LAPTOP_WEB);
    controllers[1].appExposed({
      peer: "edge",
      app: { name: "db", port: 5432 },
      port: 30002,
      endpoint: "0.0.0.0:30002",
    });
    await Promise.all(controllers.map((c) => c.idle()));
    const service = kube.get("Service", "wh", "laptop-web")!;
    assert.equal((service.spec as { selector?: unknown }).selector, undefined);
    const slice = kube.get("EndpointSlice", "wh", "laptop-web")!;
    const owners = slice.metadata.ownerReferences as { uid: string }[];
    assert.equal(owners[0].uid, service.metadata.uid);
    assert.deepEqual(slice.endpoints, [{
      addresses: ["127.0.0.2"],
      conditions: { ready: true, serving: true, terminating: false },
    }]);
    if (missing === undefined) {
      const table = await kubectl(kube.env, "get", "endpointslices", "-n", "wh");
      assert.match(table, /\nlaptop-web\s+IPv4\s+30001\s+127\.0\.0\.2\s+/);
    }

    const collector = leaderCollector(a, now, sink);
    assert.deepEqual((await a.survey()).live, new Set(["wormhole-a", "wormhole-b"]));
    const nothing = await collector.collect();
    assert.deepEqual(nothing, {
      endpointSlices: [],
      services: [],
      networkPolicies: [],
      replicas: [],
    });

    // b dies (no more renewals); a keeps renewing.
    advance(TIMINGS.durationMs);
    await a.renew();
    const survey = await a.survey();
    assert.deepEqual(survey, { live: new Set(["wormhole-a"]), gone: ["wormhole-b"] });
    const collected = await collector.collect();
    assert.deepEqual(collected.endpointSlices, ["edge-db"]);
    assert.deepEqual(collected.replicas, ["wormhole-b"]);
    assert.equal(kube.get("Lease", "wh", "wormhole-replica-wormhole-b"), undefined);
    assert.ok(kube.get("Service", "wh", "edge-db"), "the Service waits for the grace");
    advance(10_000);
    await a.renew();
    assert.deepEqual((await collector.collect()).services, ["edge-db"]);
    assert.equal(kube.get("Service", "wh", "edge-db"), undefined);
    assert.ok(kube.get("EndpointSlice", "wh", "laptop-web"));
    await Promise.all(controllers.map((c) => c.close()));
    await a.close();
    assert.equal(kube.get("Lease", "wh", "wormhole-replica-wormhole-a"), undefined);
  },
);

/** The replica's sink: runs `before` once, just before its next EndpointSlice apply. */
class SliceHook extends KubeServiceSink {
  before: (() => Promise<unknown>) | undefined;
  override async apply(kind: ProxyKind, object: KubeObject): Promise<KubeObject> {
    if (kind === "EndpointSlice" && this.before) {
      const before = this.before;
      this.before = undefined;
      await before();
    }
    return super.apply(kind, object);
  }
}

kubeTest(
  "ha: regression: a replica re-taking a Service unheld past the grace, between its Service and slice writes, keeps it from the leader (same uid, same ClusterIP)",
  async (kube) => {
    const { now, advance } = clock();
    const sink = new SliceHook(api, "wh");
    const replica = replicaController("wormhole-a", "127.0.0.2", sink);
    replica.appExposed(LAPTOP_WEB);
    await replica.idle();
    const service = kube.get("Service", "wh", "laptop-web")!;
    replica.appWithdrawn(LAPTOP_WEB);
    await replica.idle();
    assert.equal(kube.get("EndpointSlice", "wh", "laptop-web"), undefined, "released");

    const live = { survey: () => Promise.resolve({ live: new Set(["wormhole-a"]), gone: [] }) };
    const collector = leaderCollector(
      { ...live, forget: () => Promise.resolve(), reset: () => {} },
      now,
    );
    await collector.collect();
    advance(10_000);
    // The peer comes back just as the grace ends: the leader's pass runs after the
    // replica's Service write and before its slice write.
    let collected: Collected | undefined;
    sink.before = async () => collected = await collector.collect();
    replica.appExposed(LAPTOP_WEB);
    await replica.idle();
    assert.deepEqual(collected?.services, []);
    const after = kube.get("Service", "wh", "laptop-web");
    assert.equal(after?.metadata.uid, service.metadata.uid, "the same Service");
    assert.equal(
      (after?.spec as { clusterIP?: string }).clusterIP,
      (service.spec as { clusterIP?: string }).clusterIP,
    );
    assert.deepEqual((await collector.collect()).services, [], "held: the slice is there");
    await replica.close();
  },
);

kubeTest(
  "ha: regression: after an API outage longer than the lease duration, a leader again does not take the replicas that could not renew either for gone",
  async () => {
    const { now, advance } = clock();
    const members = (replica: string) => replicaLeases(replica, { now });
    const a = members("wormhole-a");
    const b = members("wormhole-b");
    await a.renew();
    await b.renew();
    const collector = leaderCollector(a, now);
    assert.deepEqual((await collector.collect()).replicas, []);
    // The API server is unreachable for longer than a lease duration: nobody renews, and a
    // (leader) steps down after its renew deadline, which resets its collector.
    advance(TIMINGS.durationMs + TIMINGS.retryPeriodMs);
    collector.reset();
    // Back: a leads again and collects before b's next renewal lands.
    await a.renew();
    const after = await collector.collect();
    assert.deepEqual(after.replicas, [], "b is as alive as a");
    assert.deepEqual((await a.survey()).live, new Set(["wormhole-a", "wormhole-b"]));
    await a.close();
    await b.close();
  },
);

kubeTest(
  "ha: regression: a replica the leader took for gone writes its EndpointSlices again once its Lease gets through",
  async (kube) => {
    const { now, advance } = clock();
    const sink = new KubeServiceSink(api, "wh");
    const controller = replicaController("wormhole-a", "127.0.0.2", sink);
    const members = (replica: string, onRejoin?: () => void) =>
      replicaLeases(replica, { now, onRejoin });
    let rejoins = 0;
    const a = members("wormhole-a", () => {
      rejoins++;
      controller.reassert();
    });
    const b = members("wormhole-b");
    await a.renew();
    await b.renew();
    controller.appExposed(LAPTOP_WEB);
    await controller.idle();
    const collector = leaderCollector(b, now, sink);
    await collector.collect();
    // a's renewals do not get through for a lease duration (its own network, say): b,
    // leading, removes its slice and its Lease. a's tunnel to laptop is still up.
    advance(TIMINGS.durationMs);
    await b.renew();
    assert.deepEqual((await collector.collect()).endpointSlices, ["laptop-web"]);
    assert.equal(kube.get("Lease", "wh", "wormhole-replica-wormhole-a"), undefined);
    assert.equal(rejoins, 0);

    await a.renew();
    await controller.idle();
    assert.equal(rejoins, 1);
    const slice = kube.get("EndpointSlice", "wh", "laptop-web");
    assert.deepEqual(
      (slice?.endpoints as { addresses: string[] }[] | undefined)?.[0]?.addresses,
      ["127.0.0.2"],
    );
    await a.renew();
    assert.equal(rejoins, 1, "an ordinary renewal is no rejoin");
    assert.deepEqual((await collector.collect()).endpointSlices, [], "a is live again");
    await controller.close();
    await a.close();
    await b.close();
  },
);

kubeTest(
  "ha: a replica whose first Lease write failed rejoins at its first renewal that gets through",
  async () => {
    let down = true;
    const flaky: KubeApi = {
      ...api,
      request: <T>(request: Parameters<KubeApi["request"]>[0]) =>
        down
          ? Promise.reject(new KubernetesApiError(0, "NetworkError", "API server unreachable"))
          : api.request<T>(request),
    };
    let rejoins = 0;
    const a = replicaLeases("wormhole-a", { api: flaky, onRejoin: () => rejoins++ });
    await assert.rejects(a.renew(), KubernetesApiError);
    down = false;
    await a.renew();
    assert.equal(rejoins, 1);
    await a.renew();
    assert.equal(rejoins, 1);
    await a.close();
  },
);

kubeTest(
  "ha: regression: a leader whose requests hang (an API server that accepts and never answers) steps down at its renew deadline instead of waiting on them",
  async () => {
    const { now, advance } = clock();
    let hang = false;
    const stuck: (() => void)[] = [];
    const hanging: KubeApi = {
      ...api,
      request: <T>(request: Parameters<KubeApi["request"]>[0]) =>
        hang
          ? new Promise<T>((_, reject) =>
            stuck.push(() => reject(new KubernetesApiError(0, "NetworkError", "released")))
          )
          : api.request<T>(request),
    };
    const changes: boolean[] = [];
    // A short retry period: each try gives up after it (real time), as client-go's do.
    const a = new LeaseElector({
      api: hanging,
      namespace: "wh",
      name: "wormhole-leader",
      identity: "wormhole-a",
      durationMs: 15_000,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 50,
      now,
      onChange: (leader) => changes.push(leader),
    });
    assert.equal(await a.tryOnce(), true);
    hang = true;
    // Each try waits what is left of the renew deadline, at least a retry period.
    advance(9_990);
    assert.equal(await a.tryOnce(), true, "within the renew deadline: still leader");
    advance(10);
    assert.equal(await a.tryOnce(), false, "past it: stepped down");
    assert.deepEqual(changes, [true, false]);
    for (const release of stuck) release();
  },
);
