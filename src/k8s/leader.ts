/**
 * Leader election on a coordination.k8s.io/v1 Lease, the way client-go's
 * leaderelection package does it: every retry period each candidate reads
 * the Lease; the holder renews it, the others take it over once it has not
 * changed for a lease duration (measured on their own clock from when they
 * last saw it change, so clock skew between pods does not matter). Writes
 * are replaces conditioned on the resourceVersion read, so two candidates
 * never both win. A leader that cannot renew for the renew deadline steps
 * down; one that stops releases the Lease so that another takes over at
 * its next retry rather than a lease duration later.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { getObject, type KubeApi } from "./api.ts";
import { KubernetesApiError } from "./errors.ts";
import { type KubeObject, LABEL_MANAGED_BY, LEASES, MANAGER, resourcePath } from "./objects.ts";

/** `spec` of a Lease. */
export interface LeaseSpec {
  /** Who holds it; empty or absent when released. */
  holderIdentity?: string;
  /** How long a holder's claim lasts without renewal. */
  leaseDurationSeconds?: number;
  /** RFC 3339 (micro) time the current holder took it. */
  acquireTime?: string;
  /** RFC 3339 (micro) time of the last renewal. */
  renewTime?: string;
  /** How many times the holder changed. */
  leaseTransitions?: number;
}

/** A Lease. */
export interface Lease extends KubeObject {
  /** The claim. */
  spec?: LeaseSpec;
}

/** Timings of the election, in ms (client-go's defaults: 15 s, 10 s, 2 s). */
export interface LeaseTimings {
  /** How long a claim lasts without renewal (`--lease-duration`). */
  durationMs: number;
  /** How long the leader keeps trying to renew before it steps down (`--lease-renew-deadline`). */
  renewDeadlineMs: number;
  /** How often every candidate tries (`--lease-retry-period`). */
  retryPeriodMs: number;
}

/** client-go's defaults. */
export const DEFAULT_LEASE_TIMINGS: LeaseTimings = {
  durationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

/**
 * Why `timings` cannot work (client-go's rules), or `null`: the renew
 * deadline must be shorter than the duration (else two leaders overlap) and
 * longer than the retry period (else the leader steps down between tries).
 */
export function leaseTimingsProblem(timings: LeaseTimings): string | null {
  if (timings.renewDeadlineMs >= timings.durationMs) {
    return "--lease-renew-deadline must be shorter than --lease-duration";
  }
  if (timings.retryPeriodMs >= timings.renewDeadlineMs) {
    return "--lease-retry-period must be shorter than --lease-renew-deadline";
  }
  return null;
}

/** Settings of {@linkcode LeaseElector}. */
export interface LeaseElectorOptions extends LeaseTimings {
  /** The API. */
  api: KubeApi;
  /** Namespace of the Lease. */
  namespace: string;
  /** Name of the Lease. */
  name: string;
  /** This candidate's identity (the replica name). */
  identity: string;
  /** Called with `true` when this candidate becomes leader, `false` when it stops being it. */
  onChange?: (leader: boolean) => void;
  /** Where to log (leadership changes at info). */
  logger?: Logger;
  /** The clock, in ms (tests replace it). */
  now?: () => number;
}

function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, "000Z");
}

/** Runs one candidate of a Lease election. */
export class LeaseElector {
  #options: LeaseElectorOptions;
  #log: Logger;
  #now: () => number;
  #leader = false;
  #changes = 0;
  /** The Lease as last read, and when (our clock) it last changed. */
  #observed: { resourceVersion: string; at: number } | undefined;
  #lastRenew = 0;
  #stop = new AbortController();
  #loop: Promise<void> | undefined;

  /** Creates the candidate; {@linkcode start} enters the election. */
  constructor(options: LeaseElectorOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#now = options.now ?? Date.now;
  }

  /** True while this candidate holds the Lease. */
  get leader(): boolean {
    return this.#leader;
  }

  /** How many times leadership changed here (became or stopped being leader). */
  get changes(): number {
    return this.#changes;
  }

  /** Enters the election: one try now, then one every retry period. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /**
   * One try: acquire or renew. Exposed for tests, which step the election
   * with a fake clock instead of waiting.
   *
   * @returns Whether this candidate holds the Lease afterwards.
   */
  async tryOnce(): Promise<boolean> {
    let held = false;
    try {
      // A leader may wait out what is left of its renew deadline, as client-go's does.
      const left = this.#leader ? this.#lastRenew + this.#options.renewDeadlineMs - this.#now() : 0;
      held = await this.#within(
        Math.max(this.#options.retryPeriodMs, left),
        this.#acquireOrRenew(),
      );
    } catch (error) {
      this.#log.warn("cannot read or write the leader Lease", { lease: this.#options.name, error });
    }
    const now = this.#now();
    if (held) this.#lastRenew = now;
    if (held) this.#set(true);
    else if (!this.#leader || now - this.#lastRenew >= this.#options.renewDeadlineMs) {
      this.#set(false);
    }
    return this.#leader;
  }

  /** Leaves the election; a leader releases the Lease so that another takes over at once. */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.#loop;
    if (!this.#leader) return;
    try {
      // Bounded: a stopping replica must not wait on an API server that never answers.
      await this.#within(this.#options.retryPeriodMs, this.#release());
    } catch (error) {
      this.#log.warn("cannot release the leader Lease", { lease: this.#options.name, error });
    }
    this.#set(false);
  }

  async #run(): Promise<void> {
    const signal = this.#stop.signal;
    while (!signal.aborted) {
      await this.tryOnce();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.#options.retryPeriodMs);
        function done() {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        }
        signal.addEventListener("abort", done);
      });
    }
  }

  /**
   * `attempt`, or a failure once `ms` passed without its answer: an API
   * server that accepts and never answers must not keep a leader from
   * stepping down at its renew deadline (another may lead by then). A write
   * that lands later is harmless: the next try reads it.
   */
  async #within<T>(ms: number, attempt: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() =>
        reject(
          new KubernetesApiError(
            0,
            "Timeout",
            `no answer from the API server within ${ms} ms`,
          ),
        ), ms);
    });
    attempt.catch(() => {}); // Answered after the limit: nobody is waiting any more.
    try {
      return await Promise.race([attempt, limit]);
    } finally {
      clearTimeout(timer);
    }
  }

  #set(leader: boolean): void {
    if (leader === this.#leader) return;
    this.#leader = leader;
    this.#changes++;
    this.#log.info(leader ? "became the leader" : "stopped being the leader", {
      lease: this.#options.name,
      identity: this.#options.identity,
    });
    this.#options.onChange?.(leader);
  }

  #path(name?: string): string {
    return resourcePath(LEASES, this.#options.namespace, name);
  }

  async #acquireOrRenew(): Promise<boolean> {
    const { api, namespace, name, identity } = this.#options;
    const now = this.#now();
    const current = await getObject<Lease>(api, LEASES, namespace, name);
    const claim = (spec: LeaseSpec): LeaseSpec => ({
      ...spec,
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.#options.durationMs / 1000),
      renewTime: microTime(now),
    });
    if (current === undefined) {
      await this.#write("POST", {
        apiVersion: LEASES.apiVersion,
        kind: LEASES.kind,
        metadata: { name, namespace, labels: { [LABEL_MANAGED_BY]: MANAGER } },
        spec: claim({ acquireTime: microTime(now), leaseTransitions: 0 }),
      });
      return true;
    }
    const rv = current.metadata.resourceVersion ?? "";
    if (this.#observed?.resourceVersion !== rv) this.#observed = { resourceVersion: rv, at: now };
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? "";
    const mine = holder === identity;
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    if (!mine && holder !== "" && now - this.#observed.at < durationMs) return false;
    const next = mine ? claim(spec) : claim({
      ...spec,
      acquireTime: microTime(now),
      leaseTransitions: (spec.leaseTransitions ?? 0) + 1,
    });
    return await this.#write("PUT", { ...current, spec: next });
  }

  /** Creates or replaces (conditioned on the resourceVersion); false when another got there first. */
  async #write(method: "POST" | "PUT", lease: Lease): Promise<boolean> {
    try {
      const written = await this.#options.api.request<Lease>({
        method,
        path: method === "POST" ? this.#path() : this.#path(lease.metadata.name),
        body: lease,
      });
      this.#observed = { resourceVersion: written.metadata.resourceVersion ?? "", at: this.#now() };
      return true;
    } catch (error) {
      // 409: someone else wrote it since we read it (or created it first): they won this round.
      if (error instanceof KubernetesApiError && error.status === 409) return false;
      throw error;
    }
  }

  async #release(): Promise<void> {
    const { api, namespace, name, identity } = this.#options;
    const current = await getObject<Lease>(api, LEASES, namespace, name);
    if (current?.spec?.holderIdentity !== identity) return;
    await this.#write("PUT", {
      ...current,
      spec: {
        ...current.spec,
        holderIdentity: "",
        // client-go releases with a one-second duration, so that late readers do not wait.
        leaseDurationSeconds: 1,
        renewTime: microTime(this.#now()),
      },
    });
    this.#log.info("released the leader Lease", { lease: name, identity });
  }
}
