/**
 * Replica membership under `--ha`: every replica keeps a Lease of its own
 * (`<prefix>-<replica>`, labelled as a replica Lease) renewed every retry
 * period, and deletes it when it stops. A replica whose Lease has not
 * changed for a lease duration (on the reader's clock, so skew between pods
 * does not matter) is gone: the leader then removes its EndpointSlices and
 * its Lease ({@linkcode HaCollector}).
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { applyObject, deleteObject, type KubeApi, listObjects } from "./api.ts";
import type { Lease } from "./leader.ts";
import { KEY_PREFIX, LABEL_MANAGED_BY, LEASES, MANAGER } from "./objects.ts";

/** Label of the replica Leases (value `true`). */
export const LABEL_REPLICA_LEASE = `${KEY_PREFIX}/replica-lease`;

/** Who is alive, as the replica Leases say. */
export interface ReplicaSurvey {
  /** Names of the replicas whose Lease is fresh. */
  live: Set<string>;
  /** Names of the replicas whose Lease went stale. */
  gone: string[];
}

/** The membership view the leader's collector needs. */
export interface ReplicaView {
  /** Reads the replica Leases. */
  survey(): Promise<ReplicaSurvey>;
  /** Deletes a gone replica's Lease. */
  forget(name: string): Promise<void>;
  /**
   * Forgets when each Lease was last seen to change (leadership lost): a
   * stale clock would take replicas that could not renew during an API
   * outage, as this one could not, for gone the moment it is back.
   */
  reset(): void;
}

/** Settings of {@linkcode ReplicaLeases}. */
export interface ReplicaLeasesOptions {
  /** The API. */
  api: KubeApi;
  /** Namespace of the Leases. */
  namespace: string;
  /** This replica's name. */
  replica: string;
  /** Prefix of the Lease names (`<prefix>-<replica>`). */
  prefix: string;
  /** A replica is gone after its Lease did not change for this long (ms). */
  durationMs: number;
  /** How often this replica renews its Lease (ms). */
  renewEveryMs: number;
  /** Where to log. */
  logger?: Logger;
  /** The clock, in ms (tests replace it). */
  now?: () => number;
  /**
   * Called when a renewal had to create this replica's Lease anew: the
   * leader took the replica for gone (its renewals did not get through for a
   * lease duration) and removed its EndpointSlices, or the first write
   * failed, so slices written meanwhile may have gone. They must be written
   * again.
   */
  onRejoin?: () => void;
}

/** This replica's Lease, and the view of everyone's. */
export class ReplicaLeases implements ReplicaView {
  #options: ReplicaLeasesOptions;
  #log: Logger;
  #now: () => number;
  /** Lease name → last resourceVersion seen and when (our clock) it changed. */
  #seen = new Map<string, { resourceVersion: string; at: number }>();
  #timer: number | undefined;
  #beat: Promise<void> | undefined;
  #closed = false;
  /** uid of this replica's Lease as last written; a new one means it was deleted meanwhile. */
  #uid: string | undefined;
  #failed = false;

  /** Creates the membership; {@linkcode start} begins renewing this replica's Lease. */
  constructor(options: ReplicaLeasesOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** The Lease name of `replica`. */
  leaseName(replica: string): string {
    return `${this.#options.prefix}-${replica}`.slice(0, 253).replace(/[-.]+$/, "");
  }

  /** Renews now and then every renewal period. */
  start(): void {
    const tick = () => {
      this.#beat = this.renew().catch((error) =>
        this.#log.warn("cannot renew this replica's Lease", { error })
      );
      this.#beat.finally(() => {
        if (!this.#closed) {
          this.#timer = setTimeout(tick, this.#options.renewEveryMs) as unknown as number;
        }
      });
    };
    tick();
  }

  /** Writes this replica's Lease with a fresh renew time. */
  async renew(): Promise<void> {
    let written: Lease;
    try {
      written = await this.#write();
    } catch (error) {
      this.#failed = true;
      throw error;
    }
    const uid = written.metadata.uid;
    const rejoined = this.#uid === undefined ? this.#failed : uid !== this.#uid;
    this.#uid = uid;
    this.#failed = false;
    if (rejoined) this.#options.onRejoin?.();
  }

  #write(): Promise<Lease> {
    const { api, namespace, replica, durationMs } = this.#options;
    return applyObject<Lease>(api, LEASES, {
      metadata: {
        name: this.leaseName(replica),
        namespace,
        labels: { [LABEL_MANAGED_BY]: MANAGER, [LABEL_REPLICA_LEASE]: "true" },
      },
      spec: {
        holderIdentity: replica,
        leaseDurationSeconds: Math.ceil(durationMs / 1000),
        renewTime: new Date(this.#now()).toISOString().replace(/Z$/, "000Z"),
      },
    });
  }

  /** See {@linkcode ReplicaView.survey}. */
  async survey(): Promise<ReplicaSurvey> {
    const { items } = await listObjects<Lease>(this.#options.api, LEASES, {
      namespace: this.#options.namespace,
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGER},${LABEL_REPLICA_LEASE}=true`,
    });
    const now = this.#now();
    const live = new Set<string>();
    const gone: string[] = [];
    const names = new Set<string>();
    for (const lease of items) {
      const holder = lease.spec?.holderIdentity;
      if (!holder) continue;
      const name = lease.metadata.name;
      names.add(name);
      const rv = lease.metadata.resourceVersion ?? "";
      let seen = this.#seen.get(name);
      if (seen?.resourceVersion !== rv) {
        this.#seen.set(name, seen = { resourceVersion: rv, at: now });
      }
      const durationMs = (lease.spec?.leaseDurationSeconds ?? 0) * 1000;
      if (now - seen.at < durationMs) live.add(holder);
      else gone.push(holder);
    }
    for (const name of this.#seen.keys()) if (!names.has(name)) this.#seen.delete(name);
    live.add(this.#options.replica);
    return { live, gone: gone.filter((name) => !live.has(name)) };
  }

  /** See {@linkcode ReplicaView.reset}. */
  reset(): void {
    this.#seen.clear();
  }

  /** See {@linkcode ReplicaView.forget}. */
  async forget(replica: string): Promise<void> {
    await deleteObject(this.#options.api, LEASES, this.#options.namespace, this.leaseName(replica));
  }

  /** Stops renewing and deletes this replica's Lease (it leaves the set of live replicas). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#beat;
    clearTimeout(this.#timer);
    try {
      await this.forget(this.#options.replica);
    } catch (error) {
      this.#log.warn("cannot delete this replica's Lease", { error });
    }
  }
}
