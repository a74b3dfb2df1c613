/**
 * The leader's garbage collection under `--ha`: replicas never delete proxy
 * Services (another replica may hold the peer by now); the leader does,
 * from the shared state alone:
 *
 * - EndpointSlices written by a replica that is gone (its Lease went stale);
 * - Services that no EndpointSlice has pointed at for the grace period (on
 *   the leader's clock, from when it first saw them so), with their
 *   NetworkPolicies; a new leader starts its clocks afresh;
 * - NetworkPolicies without their Service;
 * - the Leases of gone replicas.
 *
 * Every delete is conditioned on the uid and resourceVersion it listed, so a
 * replica that writes meanwhile wins.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { sliceHolder } from "./endpoint_slice.ts";
import { KubernetesApiError } from "./errors.ts";
import { isOwned, type KubeObject, type ProxyKind } from "./objects.ts";
import type { ReplicaView } from "./replica_leases.ts";
import type { ServiceSink } from "./sink.ts";

/** Settings of {@linkcode HaCollector}. */
export interface HaCollectorOptions {
  /** Where the proxy objects are. */
  sink: ServiceSink;
  /** Who is alive. */
  replicas: ReplicaView;
  /** How long a Service may go unheld (`--unexpose-grace`), in ms. */
  graceMs: number;
  /** `--network-policies`: NetworkPolicies are collected too (without it RBAC may not allow them). */
  networkPolicies?: boolean;
  /** Where to log. */
  logger?: Logger;
  /** The clock, in ms (tests replace it). */
  now?: () => number;
}

/** What one collection removed. */
export interface Collected {
  /** Names of the deleted EndpointSlices. */
  endpointSlices: string[];
  /** Names of the deleted Services. */
  services: string[];
  /** Names of the deleted NetworkPolicies. */
  networkPolicies: string[];
  /** Gone replicas whose Lease was deleted. */
  replicas: string[];
}

/** The leader's collector; {@linkcode collect} runs one pass. */
export class HaCollector {
  #options: HaCollectorOptions;
  #log: Logger;
  #now: () => number;
  /**
   * Service name → when (our clock) it was first seen without a slice, at
   * which resourceVersion: a replica's take changes the Service, so a new
   * resourceVersion starts the clock over.
   */
  #unheldSince = new Map<string, { since: number; resourceVersion?: string }>();
  /**
   * Replicas whose slices this leader deleted and whose Lease it has not
   * deleted yet: their Lease goes even if they renew meanwhile, since a
   * Lease created anew is how a live replica learns to write its slices again.
   */
  #owed = new Set<string>();

  /** Creates the collector. */
  constructor(options: HaCollectorOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** Forgets the unheld clocks and the replicas' (leadership lost: the next term starts afresh). */
  reset(): void {
    this.#unheldSince.clear();
    this.#options.replicas.reset();
  }

  /** One pass; throws when the API fails (the caller retries at its next pass). */
  async collect(): Promise<Collected> {
    const { sink, replicas, graceMs } = this.#options;
    const done: Collected = { endpointSlices: [], services: [], networkPolicies: [], replicas: [] };
    const { live, gone } = await replicas.survey();
    const held = new Set<string>();
    for (const slice of await sink.listOwned("EndpointSlice")) {
      const holder = sliceHolder(slice);
      if (holder !== undefined && live.has(holder)) {
        held.add(slice.metadata.name);
      } else if (await this.#delete("EndpointSlice", slice)) {
        done.endpointSlices.push(slice.metadata.name);
        if (holder !== undefined) this.#owed.add(holder);
      }
    }
    const now = this.#now();
    const services = new Set<string>();
    for (const service of await sink.listOwned("Service")) {
      const name = service.metadata.name;
      services.add(name);
      if (held.has(name)) {
        this.#unheldSince.delete(name);
        continue;
      }
      const { resourceVersion } = service.metadata;
      const seen = this.#unheldSince.get(name);
      const unheld = seen !== undefined && seen.resourceVersion === resourceVersion
        ? seen
        : { since: now, resourceVersion };
      this.#unheldSince.set(name, unheld);
      if (now - unheld.since < graceMs) continue;
      // The Service first: if a replica took it meanwhile, its NetworkPolicy stays too.
      if (!await this.#delete("Service", service)) continue;
      services.delete(name);
      this.#unheldSince.delete(name);
      done.services.push(name);
      const policy = this.#options.networkPolicies
        ? await sink.get("NetworkPolicy", name)
        : undefined;
      if (policy && isOwned(policy) && await this.#delete("NetworkPolicy", policy)) {
        done.networkPolicies.push(name);
      }
    }
    for (const name of this.#unheldSince.keys()) {
      if (!services.has(name)) this.#unheldSince.delete(name);
    }
    const policies = this.#options.networkPolicies ? await sink.listOwned("NetworkPolicy") : [];
    for (const policy of policies) {
      const name = policy.metadata.name;
      if (services.has(name) || done.networkPolicies.includes(name)) continue;
      if (await this.#delete("NetworkPolicy", policy)) done.networkPolicies.push(name);
    }
    for (const replica of new Set([...gone, ...this.#owed])) {
      await replicas.forget(replica);
      this.#owed.delete(replica);
      done.replicas.push(replica);
    }
    if (Object.values(done).some((names) => names.length > 0)) {
      this.#log.info("leader collected what no live replica holds", { ...done });
    }
    return done;
  }

  /** Deletes `object` if unchanged since listed; false when it changed or went away. */
  async #delete(kind: ProxyKind, object: KubeObject): Promise<boolean> {
    const { uid, resourceVersion } = object.metadata;
    try {
      return await this.#options.sink.delete(kind, object.metadata.name, { uid, resourceVersion });
    } catch (error) {
      if (error instanceof KubernetesApiError && error.status === 409) return false;
      throw error;
    }
  }
}
