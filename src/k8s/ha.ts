/**
 * `--ha` running: this replica's Lease, the leader election, and the
 * leader's collection, which runs at every retry period while this replica
 * leads. See docs/kubernetes.md, "High availability".
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import type { KubeApi } from "./api.ts";
import { HaCollector } from "./ha_collector.ts";
import { LeaseElector, type LeaseTimings } from "./leader.ts";
import { ReplicaLeases } from "./replica_leases.ts";
import type { ServiceSink } from "./sink.ts";

/** Name of the leader Lease. */
export const LEADER_LEASE = "wormhole-leader";
/** Prefix of the replica Leases (`wormhole-replica-<replica>`). */
export const REPLICA_LEASE_PREFIX = "wormhole-replica";

/** Settings of {@linkcode startHa}. */
export interface HaOptions extends LeaseTimings {
  /** The API. */
  api: KubeApi;
  /** The proxy objects' namespace (the Leases go there too). */
  sink: ServiceSink;
  /** This replica's name. */
  replica: string;
  /** `--unexpose-grace` in ms. */
  graceMs: number;
  /** `--network-policies`. */
  networkPolicies?: boolean;
  /** Where to log. */
  logger?: Logger;
  /** This replica's Lease had to be created anew: its EndpointSlices must be written again. */
  onRejoin?: () => void;
}

/** `--ha`, running. */
export interface Ha {
  /** True while this replica is the leader. */
  readonly leader: boolean;
  /** Leadership changes on this replica so far. */
  readonly changes: number;
  /** Leaves: releases the leader Lease if held, deletes this replica's Lease. */
  close(): Promise<void>;
}

/**
 * Starts this replica's Lease (its first renewal awaited, so that the
 * leader never sees a slice of a replica it does not know yet), the
 * election and the collection loop.
 */
export async function startHa(options: HaOptions): Promise<Ha> {
  const log = options.logger ?? silentLogger;
  const namespace = options.sink.namespace;
  const members = new ReplicaLeases({
    api: options.api,
    namespace,
    replica: options.replica,
    prefix: REPLICA_LEASE_PREFIX,
    durationMs: options.durationMs,
    renewEveryMs: options.retryPeriodMs,
    logger: log,
    onRejoin: () => {
      log.warn(
        "this replica's Lease was missing (taken for gone, or never written): writing its EndpointSlices again",
      );
      options.onRejoin?.();
    },
  });
  try {
    await members.renew();
  } catch (error) {
    log.warn("cannot write this replica's Lease yet: retrying", { error });
  }
  members.start();
  const collector = new HaCollector({
    sink: options.sink,
    replicas: members,
    graceMs: options.graceMs,
    networkPolicies: options.networkPolicies,
    logger: log,
  });
  const elector = new LeaseElector({
    api: options.api,
    namespace,
    name: LEADER_LEASE,
    identity: options.replica,
    durationMs: options.durationMs,
    renewDeadlineMs: options.renewDeadlineMs,
    retryPeriodMs: options.retryPeriodMs,
    logger: log,
    onChange: (leader) => {
      if (!leader) collector.reset();
    },
  });
  elector.start();
  let collecting: Promise<void> | undefined;
  const timer = setInterval(() => {
    // One pass at a time: a slow API skips ticks rather than queueing passes.
    if (!elector.leader || collecting) return;
    collecting = collector.collect().then(
      () => {},
      (error) => log.warn("leader collection failed, retrying", { error }),
    ).finally(() => collecting = undefined);
  }, options.retryPeriodMs);
  return {
    get leader() {
      return elector.leader;
    },
    get changes() {
      return elector.changes;
    },
    async close() {
      clearInterval(timer);
      await collecting;
      await elector.close();
      await members.close();
    },
  };
}
