/**
 * List-then-watch of one resource collection, kept alive for the life of the
 * process: resumes from the last resourceVersion when a watch ends, relists
 * after 410 Expired or any failure, detects stalled streams, and gives up
 * (with the reason) only when failures keep coming.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { type KubeApi, listObjects, watchEvents } from "./api.ts";
import { KubernetesApiError, KubernetesWatchError } from "./errors.ts";
import { type KubeObject, resourcePath, type ResourceType } from "./objects.ts";

/** What a feed tells its consumer. */
export interface FeedEvents {
  /** The full current set (after a list): replaces everything seen before. */
  replace(items: KubeObject[]): void;
  /** An object was added or changed. */
  upsert(item: KubeObject): void;
  /** An object was deleted. */
  remove(item: KubeObject): void;
}

/** A source of objects that runs until aborted. */
export interface ObjectFeed {
  /**
   * Feeds `events` until `signal` aborts (then resolves).
   *
   * @throws {KubernetesWatchError} when it gives up.
   */
  run(events: FeedEvents, signal: AbortSignal): Promise<void>;
}

/** When a failing watch gives up, and how it paces itself. */
export interface WatchPolicy {
  /** Give up after this many failures in a row (default 5)... */
  maxFailures?: number;
  /** ...that span at least this long, in ms (default 30 000). */
  failureWindowMs?: number;
  /** `timeoutSeconds` of each watch; the server ends it then and it resumes (default 60). */
  watchTimeoutSeconds?: number;
  /** A watch still open this long past its timeout is presumed stalled (default 15 000 ms). */
  stallGraceMs?: number;
  /** First retry delay in ms (default 250); doubles per failure... */
  retryMinMs?: number;
  /** ...up to this (default 5 000). */
  retryMaxMs?: number;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** Lists, then watches, one collection of `type` (in one namespace or all). */
export class Reflector implements ObjectFeed {
  #api: KubeApi;
  #type: ResourceType;
  #namespace: string | undefined;
  #fieldSelector: string | undefined;
  #policy: Required<WatchPolicy>;
  #log: Logger;

  /** Creates the reflector; {@linkcode run} starts it. */
  constructor(
    api: KubeApi,
    type: ResourceType,
    options: {
      namespace?: string;
      fieldSelector?: string;
      policy?: WatchPolicy;
      logger?: Logger;
    } = {},
  ) {
    this.#api = api;
    this.#type = type;
    this.#namespace = options.namespace;
    this.#fieldSelector = options.fieldSelector;
    this.#policy = {
      maxFailures: 5,
      failureWindowMs: 30_000,
      watchTimeoutSeconds: 60,
      stallGraceMs: 15_000,
      retryMinMs: 250,
      retryMaxMs: 5_000,
      ...options.policy,
    };
    this.#log = (options.logger ?? silentLogger).with({
      resource: type.plural,
      namespace: options.namespace ?? "*",
    });
  }

  /** Feeds `events` until `signal` aborts; see {@linkcode ObjectFeed.run}. */
  async run(events: FeedEvents, signal: AbortSignal): Promise<void> {
    const policy = this.#policy;
    let resourceVersion: string | undefined;
    let failures = 0;
    let firstFailure = 0;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const list = await listObjects(this.#api, this.#type, {
            namespace: this.#namespace,
            fieldSelector: this.#fieldSelector,
          });
          if (signal.aborted) break;
          events.replace(list.items);
          resourceVersion = list.resourceVersion;
          this.#log.debug("listed", { count: list.items.length, resourceVersion });
        }
        resourceVersion = await this.#watch(resourceVersion, events, signal, () => {
          failures = 0;
        });
      } catch (error) {
        if (signal.aborted) break;
        resourceVersion = undefined;
        failures++;
        if (failures === 1) firstFailure = Date.now();
        const elapsed = Date.now() - firstFailure;
        if (failures >= policy.maxFailures && elapsed >= policy.failureWindowMs) {
          throw new KubernetesWatchError(
            `Watching ${this.#what()} failed ${failures} times in a row over ` +
              `${Math.round(elapsed / 1000)} s; last error: ${(error as Error).message}`,
            { cause: error },
          );
        }
        const backoff = Math.min(policy.retryMaxMs, policy.retryMinMs * 2 ** (failures - 1));
        const delay = Math.round(backoff * (0.5 + Math.random() / 2));
        this.#log.warn("watch failed, relisting", { failures, retryInMs: delay, error });
        await pause(delay, signal);
      }
    }
  }

  #what(): string {
    return `${this.#type.plural} in ${this.#namespace ?? "all namespaces"}`;
  }

  /**
   * Watches from `resourceVersion` until the stream ends. Returns the
   * resourceVersion to resume from, or `undefined` when it expired (relist).
   */
  async #watch(
    resourceVersion: string,
    events: FeedEvents,
    signal: AbortSignal,
    onHealthy: () => void,
  ): Promise<string | undefined> {
    const timeout = this.#policy.watchTimeoutSeconds;
    const stop = new AbortController();
    let stalled = false;
    const stallTimer = setTimeout(() => {
      stalled = true;
      stop.abort();
    }, timeout * 1000 + this.#policy.stallGraceMs);
    try {
      const query: Record<string, string> = {
        watch: "1",
        allowWatchBookmarks: "true",
        timeoutSeconds: String(timeout),
      };
      if (resourceVersion) query.resourceVersion = resourceVersion;
      if (this.#fieldSelector) query.fieldSelector = this.#fieldSelector;
      let body;
      try {
        body = await this.#api.stream(
          resourcePath(this.#type, this.#namespace),
          query,
          AbortSignal.any([signal, stop.signal]),
        );
      } catch (error) {
        if (error instanceof KubernetesApiError && error.expired) {
          this.#log.info("watch expired, relisting", { resourceVersion });
          return undefined;
        }
        throw error;
      }
      let current = resourceVersion;
      for await (const event of watchEvents(body)) {
        // A stream that delivers is healthy; one cut before anything came is a failure.
        onHealthy();
        const object = event.object;
        if (event.type === "ERROR") {
          if (object.code === 410) {
            this.#log.info("watch expired, relisting", { resourceVersion: current });
            return undefined;
          }
          throw new KubernetesApiError(
            object.code ?? 0,
            object.reason ?? "WatchError",
            `watch ${this.#what()}: ${object.message ?? JSON.stringify(object)}`,
          );
        }
        if (event.type === "ADDED" || event.type === "MODIFIED") events.upsert(object);
        else if (event.type === "DELETED") events.remove(object);
        current = object.metadata?.resourceVersion ?? current;
      }
      if (stalled) {
        throw new KubernetesWatchError(
          `watch ${this.#what()} stalled: still open ${this.#policy.stallGraceMs} ms past its ` +
            `${timeout} s timeout`,
        );
      }
      if (!signal.aborted) onHealthy();
      return current;
    } finally {
      clearTimeout(stallTimer);
      stop.abort();
    }
  }
}
