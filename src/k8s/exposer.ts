/**
 * The server side: every app a peer exposes becomes a proxy Service (and,
 * optionally, a NetworkPolicy) in one namespace, selecting the server pod,
 * with the server's listener port as targetPort.
 *
 * {@linkcode ProxyServiceController} is a server observer. Apps that go away
 * (withdrawn, or their peer gone) keep their Service for a grace period, so a
 * quick reconnect keeps the ClusterIP; a garbage collection one grace period
 * after start-up removes what no live peer exposes any more. Writes go
 * through a {@linkcode ServiceSink}, serialized per name and retried with
 * backoff, and never touch an object without the managed-by label.
 *
 * The controller is ready ({@linkcode ProxyServiceController.ready}, which
 * the server's `/readyz` asks) once its first sync has listed the owned
 * objects: the API server answers and lets it list them. Readiness cannot
 * wait for the garbage collection: that waits for clients to come back, and
 * they reach the server only through a Service of a ready pod.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { hashedServiceName, labelValue, proxyServiceName } from "./names.ts";
import {
  isOwned,
  KEY_EXPOSED_APP,
  KEY_EXPOSED_PEER,
  type KubeObject,
  LABEL_CONSUMES_APP,
  LABEL_MANAGED_BY,
  MANAGER,
  NETWORK_POLICIES,
  type ProxyKind,
  SERVICES,
} from "./objects.ts";
import type { ServiceSink } from "./sink.ts";
import { endpointSliceFor, KEY_TAKEN, type Replica, sliceHolder } from "./endpoint_slice.ts";

/** An exposed app, as the server reports it (its `AppEvent`). */
export interface ExposedAppEvent {
  /** The peer offering the app. */
  peer: string;
  /** The app as announced: name and original port (0 when unknown). */
  app: { name: string; port: number };
  /** The server's listener port for it. */
  port: number;
  /** `host:port` of the listener. */
  endpoint: string;
}

/** Timer functions, replaceable in tests. */
export interface Timers {
  /** Calls `callback` after `ms`; returns a handle for {@linkcode Timers.clear}. */
  set(callback: () => void, ms: number): number;
  /** Cancels a timer. */
  clear(handle: number): void;
}

const REAL_TIMERS: Timers = {
  set: (callback, ms) => setTimeout(callback, ms) as unknown as number,
  clear: (handle) => clearTimeout(handle),
};

/** Settings of {@linkcode ProxyServiceController}. */
export interface ProxyServiceOptions {
  /** Where the objects go. */
  sink: ServiceSink;
  /** Labels of the server pod: the Services' selector. */
  selector: Record<string, string>;
  /** Also write a NetworkPolicy per app. */
  networkPolicies?: boolean;
  /** How long a gone app keeps its Service, in ms. */
  graceMs: number;
  /** Retry delay bounds of failed writes in ms (default 500 to 30 000). */
  retry?: { minMs?: number; maxMs?: number };
  /** Where to log. */
  logger?: Logger;
  /** Timers (tests replace them). */
  timers?: Timers;
  /**
   * `--ha`: this replica among several. Proxy Services then have no selector;
   * the replica holding a peer writes each Service's EndpointSlice with its
   * own address and removes it (if still its own) when the peer goes. Only
   * the leader deletes Services ({@linkcode HaCollector}), so this
   * controller does not delete them after the grace, and its start-up
   * collection only releases slices naming it that no peer of this run holds.
   */
  replica?: Replica;
}

interface Exposure {
  /** Listeners open for this (peer, app): exposures minus withdrawals. */
  count: number;
  /** The most recent exposure. */
  latest: ExposedAppEvent;
  /** The proxy Service name (hashing is asynchronous). */
  name: Promise<string>;
  resolved?: string;
  /** Pending deletion after the grace period. */
  timer?: number;
}

/** What a name should be: its objects, or `null` for deleted. */
type Desired = Map<ProxyKind, KubeObject> | null;

/** Turns exposed apps into proxy Services; plug it into the server's observers. */
export class ProxyServiceController {
  #options: ProxyServiceOptions;
  #sink: ServiceSink;
  #log: Logger;
  #timers: Timers;
  #exposures = new Map<string, Exposure>();
  /** Service name → key of the (peer, app) it belongs to. */
  #owners = new Map<string, string>();
  #desired = new Map<string, Desired>();
  #dirty = new Set<string>();
  #running = new Map<string, Promise<void>>();
  #tracked = new Set<Promise<unknown>>();
  #sleeps = new Map<number, () => void>();
  #foreign = new Set<string>();
  #gcTimer: number | undefined;
  #synced = false;
  #closed = false;

  /** Creates the controller; {@linkcode start} schedules the start-up garbage collection. */
  constructor(options: ProxyServiceOptions) {
    this.#options = options;
    this.#sink = options.sink;
    this.#log = options.logger ?? silentLogger;
    this.#timers = options.timers ?? REAL_TIMERS;
  }

  /**
   * Starts the first sync (retried until it succeeds) and schedules the
   * garbage collection of orphans one grace period from now (`--ha`: only
   * of this replica's own slices of an earlier run).
   */
  start(): void {
    this.#track(this.#firstSync());
    this.#gcTimer = this.#timers.set(() => {
      this.#gcTimer = undefined;
      this.#track(this.#options.replica ? this.#releaseStaleSlices() : this.#collectGarbage());
    }, this.#options.graceMs);
  }

  /** True once the first sync has listed the owned objects (server readiness). */
  ready(): boolean {
    return this.#synced;
  }

  /** Server hook: a listener was opened for an app. */
  appExposed(event: ExposedAppEvent): void {
    if (this.#closed) return;
    const key = `${event.peer}\0${event.app.name}`;
    let exposure = this.#exposures.get(key);
    if (!exposure) {
      exposure = { count: 0, latest: event, name: proxyServiceName(event.peer, event.app.name) };
      const created = exposure;
      this.#track(created.name.then((name) => created.resolved = name));
      this.#exposures.set(key, exposure);
    }
    exposure.count++;
    exposure.latest = event;
    if (exposure.timer !== undefined) {
      this.#timers.clear(exposure.timer);
      exposure.timer = undefined;
      this.#log.info("app is back within the grace period: keeping its Service", {
        peer: event.peer,
        app: event.app.name,
      });
    }
    const current = exposure;
    this.#withName(current, (name) => {
      if (this.#exposures.get(key) === current && current.count > 0) {
        this.#want(name, key, current.latest);
      }
    });
  }

  /** Server hook: an app's listener was closed (withdrawn, or its peer gone). */
  appWithdrawn(event: ExposedAppEvent): void {
    if (this.#closed) return;
    const key = `${event.peer}\0${event.app.name}`;
    const exposure = this.#exposures.get(key);
    if (!exposure) return;
    exposure.count = Math.max(0, exposure.count - 1);
    if (exposure.count > 0 || exposure.timer !== undefined) return;
    if (this.#options.replica) this.#release(key, exposure);
    exposure.timer = this.#timers.set(() => {
      exposure.timer = undefined;
      if (exposure.count > 0 || this.#exposures.get(key) !== exposure) return;
      this.#exposures.delete(key);
      this.#withName(exposure, (name) => {
        const owner = this.#owners.get(name);
        // Another app holds the name (this one was skipped): not ours to delete.
        if (this.#exposures.has(key) || (owner !== undefined && owner !== key)) return;
        this.#owners.delete(name);
        if (this.#options.replica) {
          // The Service may be held by another replica: deleting it is the leader's call.
          if (!this.#dirty.has(name) && !this.#running.has(name)) this.#desired.delete(name);
          return;
        }
        this.#desired.set(name, null);
        this.#kick(name);
      });
    }, this.#options.graceMs);
  }

  /**
   * `--ha`: writes this replica's EndpointSlices (and their Services) again,
   * after the leader took the replica for gone and removed them.
   */
  reassert(): void {
    if (this.#closed) return;
    for (const [name, desired] of this.#desired) {
      if (desired?.has("EndpointSlice")) this.#kick(name);
    }
  }

  /**
   * The endpoint `/v1/apps` should show for an app: `<service>.<namespace>:<port>`,
   * once its Service name is known; `undefined` otherwise.
   */
  endpoint(event: ExposedAppEvent): string | undefined {
    const name = this.#exposures.get(`${event.peer}\0${event.app.name}`)?.resolved;
    return name && `${name}.${this.#sink.namespace}:${event.app.port || event.port}`;
  }

  /** Resolves once no write, retry or collection is pending (for tests). */
  async idle(): Promise<void> {
    while (this.#running.size > 0 || this.#tracked.size > 0) {
      await Promise.all([...this.#running.values(), ...this.#tracked]);
    }
  }

  /**
   * Stops: cancels pending deletions, retries and the collection, and waits
   * for requests in flight. Deletes nothing: after a restart, the collection
   * removes what nobody exposes again.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#gcTimer !== undefined) this.#timers.clear(this.#gcTimer);
    for (const exposure of this.#exposures.values()) {
      if (exposure.timer !== undefined) this.#timers.clear(exposure.timer);
    }
    for (const [handle, wake] of this.#sleeps) {
      this.#timers.clear(handle);
      wake();
    }
    this.#sleeps.clear();
    await this.idle();
  }

  #track(work: Promise<unknown>): void {
    const tracked = work.catch((error) => this.#log.error("kubernetes task failed", { error }))
      .finally(() => this.#tracked.delete(tracked));
    this.#tracked.add(tracked);
  }

  #withName(exposure: Exposure, use: (name: string) => void): void {
    if (exposure.resolved !== undefined) use(exposure.resolved);
    else this.#track(exposure.name.then(use));
  }

  #kinds(): ProxyKind[] {
    const kinds: ProxyKind[] = this.#options.networkPolicies
      ? ["Service", "NetworkPolicy"]
      : ["Service"];
    return this.#options.replica ? [...kinds, "EndpointSlice"] : kinds;
  }

  /** `--ha`: the peer left this replica; its slice goes now (the Service stays). */
  #release(key: string, exposure: Exposure): void {
    this.#withName(exposure, (name) => {
      const desired = this.#desired.get(name);
      if (this.#owners.get(name) !== key || !desired || exposure.count > 0) return;
      const kept = new Map(desired);
      kept.delete("EndpointSlice");
      this.#desired.set(name, kept);
      this.#kick(name);
    });
  }

  #want(name: string, key: string, event: ExposedAppEvent): void {
    const owner = this.#owners.get(name);
    if (owner !== undefined && owner !== key) {
      this.#relocate(key, name, owner.replace("\0", "/"));
      return;
    }
    this.#owners.set(name, key);
    this.#desired.set(name, this.#objects(name, event));
    this.#kick(name);
  }

  /**
   * `name` belongs to another (peer, app): the exposure `key` moves to its
   * hashed name, which no other pair has. Never a takeover: whoever had the
   * name first (here or, after a restart, in the cluster) keeps it.
   */
  #relocate(key: string, taken: string, takenBy: string): void {
    const exposure = this.#exposures.get(key);
    if (!exposure) return;
    const [peer, app] = key.split("\0");
    exposure.name = hashedServiceName(peer, app);
    exposure.resolved = undefined;
    const moved = exposure;
    this.#track(moved.name.then((name) => {
      if (this.#exposures.get(key) !== moved) return;
      if (name === taken || (this.#owners.get(name) ?? key) !== key) {
        this.#log.error("two apps map to the same Service name: skipping the later one", {
          service: taken,
          peer,
          app,
          takenBy,
        });
        return;
      }
      moved.resolved = name;
      this.#log.warn("the Service name is taken by another app: using this app's hashed name", {
        service: taken,
        takenBy,
        peer,
        app,
        instead: name,
      });
      if (moved.count > 0) this.#want(name, key, moved.latest);
    }));
  }

  #objects(name: string, event: ExposedAppEvent): Map<ProxyKind, KubeObject> {
    const selector = this.#options.selector;
    const metadata = {
      name,
      namespace: this.#sink.namespace,
      labels: {
        [LABEL_MANAGED_BY]: MANAGER,
        [KEY_EXPOSED_PEER]: labelValue(event.peer),
        [KEY_EXPOSED_APP]: labelValue(event.app.name),
      },
      annotations: { [KEY_EXPOSED_PEER]: event.peer, [KEY_EXPOSED_APP]: event.app.name },
    };
    const objects = new Map<ProxyKind, KubeObject>();
    const replica = this.#options.replica;
    objects.set("Service", {
      apiVersion: SERVICES.apiVersion,
      kind: SERVICES.kind,
      // `--ha`: a take must change the Service (an identical apply keeps its resourceVersion).
      metadata: replica
        ? {
          ...metadata,
          annotations: { ...metadata.annotations, [KEY_TAKEN]: new Date().toISOString() },
        }
        : metadata,
      spec: {
        type: "ClusterIP",
        // `--ha`: no selector; the holding replica's EndpointSlice says where the app is.
        ...(replica ? {} : { selector: { ...selector } }),
        ports: [{ protocol: "TCP", port: event.app.port || event.port, targetPort: event.port }],
      },
    });
    if (this.#options.networkPolicies) {
      objects.set("NetworkPolicy", {
        apiVersion: NETWORK_POLICIES.apiVersion,
        kind: NETWORK_POLICIES.kind,
        metadata: structuredClone(metadata),
        spec: {
          podSelector: { matchLabels: { ...selector } },
          policyTypes: ["Ingress"],
          ingress: [{
            // Labelled pods in any namespace: the Service is reachable cluster-wide by name.
            from: [{
              namespaceSelector: {},
              podSelector: { matchLabels: { [LABEL_CONSUMES_APP]: name } },
            }],
            ports: [{ protocol: "TCP", port: event.port }],
          }],
        },
      });
    }
    if (replica) {
      // The owner's uid is filled in by #reconcile, from the Service it just applied.
      objects.set(
        "EndpointSlice",
        endpointSliceFor(metadata, { name, uid: "" }, replica, event.port),
      );
    }
    return objects;
  }

  #kick(name: string): void {
    this.#dirty.add(name);
    if (this.#running.has(name) || this.#closed) return;
    const run = this.#drain(name).finally(() => this.#running.delete(name));
    this.#running.set(name, run);
  }

  /** Converges `name` to its desired state, retrying failures until it holds or the controller closes. */
  async #drain(name: string): Promise<void> {
    const retry = this.#options.retry ?? {};
    let failures = 0;
    while (this.#dirty.has(name) && !this.#closed) {
      this.#dirty.delete(name);
      try {
        await this.#reconcile(name);
        failures = 0;
      } catch (error) {
        if (this.#closed) return;
        failures++;
        this.#dirty.add(name);
        const delay = Math.min(retry.maxMs ?? 30_000, (retry.minMs ?? 500) * 2 ** (failures - 1));
        this.#log.warn("cannot update Kubernetes, retrying", {
          service: name,
          failures,
          retryInMs: delay,
          error,
        });
        await this.#sleep(delay);
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const handle = this.#timers.set(() => {
        this.#sleeps.delete(handle);
        resolve();
      }, ms);
      this.#sleeps.set(handle, resolve);
    });
  }

  async #reconcile(name: string): Promise<void> {
    const desired = this.#desired.get(name);
    if (desired === undefined) return;
    if (desired === null) {
      for (const kind of this.#kinds().reverse()) await this.#remove(kind, name);
      if (this.#desired.get(name) === null && !this.#dirty.has(name)) this.#desired.delete(name);
      return;
    }
    let serviceUid: string | undefined;
    if (this.#options.replica && !desired.has("EndpointSlice")) await this.#releaseSlice(name);
    if (desired.size === 0) {
      if (this.#desired.get(name) === desired && !this.#dirty.has(name)) this.#desired.delete(name);
      return;
    }
    for (const [kind, desiredObject] of desired) {
      let object = desiredObject;
      if (kind === "EndpointSlice") {
        if (serviceUid === undefined) continue;
        object = structuredClone(object);
        (object.metadata.ownerReferences as { uid: string }[])[0].uid = serviceUid;
      }
      const existing = await this.#sink.get(kind, name);
      if (existing && !isOwned(existing)) {
        this.#warnForeign(kind, name);
        continue;
      }
      const holder = existing && ownerOf(existing);
      if (holder && holder !== ownerOf(object)) {
        // Another (peer, app) holds this name in the cluster (written before a restart).
        const key = this.#owners.get(name);
        this.#owners.delete(name);
        this.#desired.delete(name);
        if (key !== undefined) this.#relocate(key, name, holder.replace("\0", "/"));
        return;
      }
      this.#foreign.delete(`${kind}/${name}`);
      const metadata = { ...object.metadata, resourceVersion: existing?.metadata.resourceVersion };
      if (!existing) delete metadata.resourceVersion;
      const applied = await this.#sink.apply(kind, { ...object, metadata });
      if (kind === "Service") serviceUid = applied.metadata.uid;
      const spec = object.spec as { ports?: { port: number; targetPort: number }[] } | undefined;
      this.#log.info(existing ? `proxy ${kind} updated` : `proxy ${kind} created`, {
        name,
        namespace: this.#sink.namespace,
        peer: object.metadata.annotations?.[KEY_EXPOSED_PEER],
        app: object.metadata.annotations?.[KEY_EXPOSED_APP],
        port: spec?.ports?.[0]?.port,
        targetPort: spec?.ports?.[0]?.targetPort,
      });
    }
  }

  /** Deletes the slice of `name` if this replica still holds it (a 409 retries and re-reads). */
  async #releaseSlice(name: string): Promise<void> {
    const existing = await this.#sink.get("EndpointSlice", name);
    if (!existing || !isOwned(existing) || sliceHolder(existing) !== this.#options.replica?.name) {
      return;
    }
    const { uid, resourceVersion } = existing.metadata;
    if (await this.#sink.delete("EndpointSlice", name, { uid, resourceVersion })) {
      this.#log.info("proxy EndpointSlice released: the peer left this replica", {
        name,
        namespace: this.#sink.namespace,
      });
    }
  }

  async #remove(kind: ProxyKind, name: string): Promise<void> {
    const existing = await this.#sink.get(kind, name);
    if (!existing) return;
    if (!isOwned(existing)) {
      this.#warnForeign(kind, name);
      return;
    }
    const { uid, resourceVersion } = existing.metadata;
    if (await this.#sink.delete(kind, name, { uid, resourceVersion })) {
      this.#log.info(`proxy ${kind} deleted`, { name, namespace: this.#sink.namespace });
    }
  }

  #warnForeign(kind: ProxyKind, name: string): void {
    if (this.#foreign.has(`${kind}/${name}`)) return;
    this.#foreign.add(`${kind}/${name}`);
    this.#log.warn(`a ${kind} of that name exists and is not managed by wormhole: leaving it`, {
      name,
      namespace: this.#sink.namespace,
    });
  }

  /** Lists the owned objects once, retrying until the API server lets it; then ready. */
  #firstSync(): Promise<void> {
    return this.#retrying("cannot list proxy Services, not ready yet: retrying", async () => {
      const owned: Record<string, number> = {};
      for (const kind of this.#kinds()) owned[kind] = (await this.#sink.listOwned(kind)).length;
      this.#synced = true;
      this.#log.info("proxy Services synced with the API server: ready", {
        namespace: this.#sink.namespace,
        owned,
      });
    });
  }

  /** Deletes owned objects that no exposure (live or within its grace) accounts for. */
  #collectGarbage(): Promise<void> {
    return this.#retrying(
      "cannot list proxy Services for garbage collection, retrying",
      async () => {
        const live = new Set(
          await Promise.all([...this.#exposures.values()].map((exposure) => exposure.name)),
        );
        const orphans = new Set<string>();
        for (const kind of this.#kinds()) {
          for (const object of await this.#sink.listOwned(kind)) {
            const name = object.metadata.name;
            if (live.has(name) || this.#owners.has(name) || this.#desired.has(name)) continue;
            orphans.add(name);
          }
        }
        for (const name of orphans) {
          this.#desired.set(name, null);
          this.#kick(name);
        }
        this.#log.info("garbage collection of proxy Services done", { orphans: [...orphans] });
      },
    );
  }

  /**
   * `--ha`: releases the slices that name this replica but that no peer of
   * this run holds (written before a restart under the same name); the
   * leader does not, as the replica is alive.
   */
  #releaseStaleSlices(): Promise<void> {
    return this.#retrying("cannot list this replica's EndpointSlices, retrying", async () => {
      const me = this.#options.replica?.name;
      const stale = (await this.#sink.listOwned("EndpointSlice"))
        .filter((slice) => sliceHolder(slice) === me && !this.#desired.has(slice.metadata.name))
        .map((slice) => slice.metadata.name);
      for (const name of stale) {
        // Through the per-name queue: an exposure arriving meanwhile wins.
        this.#desired.set(name, new Map());
        this.#kick(name);
      }
      if (stale.length > 0) this.#log.info("releasing EndpointSlices of an earlier run", { stale });
    });
  }

  /** Runs `work` until it succeeds or the controller closes, with backoff between failures. */
  async #retrying(warning: string, work: () => Promise<void>): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      try {
        return await work();
      } catch (error) {
        if (this.#closed) return;
        failures++;
        const delay = Math.min(30_000, 500 * 2 ** (failures - 1));
        this.#log.warn(warning, { retryInMs: delay, error });
        await this.#sleep(delay);
      }
    }
  }
}

/** `peer\0app` of the annotations of a proxy object, when it has them. */
function ownerOf(object: KubeObject): string | undefined {
  const annotations = object.metadata.annotations ?? {};
  const peer = annotations[KEY_EXPOSED_PEER];
  const app = annotations[KEY_EXPOSED_APP];
  return peer === undefined || app === undefined ? undefined : `${peer}\0${app}`;
}
