/**
 * The client side: annotated edge Services become the apps a client offers.
 *
 * {@linkcode ServiceSource} is the seam the CLI uses; {@linkcode AnnotatedServiceSource}
 * implements it over {@linkcode ObjectFeed}s, which are {@linkcode Reflector}s on the
 * Kubernetes API in production and {@linkcode MemoryServiceFeed}s in unit tests.
 *
 * @module
 */

import type { OfferSpec } from "../protocol/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import { type AppMappingOptions, appsFromService } from "./annotations.ts";
import { type KubeObject, objectKey, type Service } from "./objects.ts";
import type { FeedEvents, ObjectFeed } from "./reflector.ts";

/** Where a client's apps come from. */
export interface ServiceSource {
  /**
   * Starts watching. `onApps` gets the whole app list, sorted by name, once
   * the first Services are known and after every change that alters it.
   */
  start(onApps: (apps: OfferSpec[]) => void): void;
  /**
   * Resolves when closed; rejects with a `KubernetesWatchError` when watching
   * gave up (the process should then exit non-zero).
   */
  readonly done: Promise<void>;
  /** Stops watching; resolves when every request has ended. */
  close(): Promise<void>;
}

/** Settings of {@linkcode AnnotatedServiceSource}. */
export interface ServiceSourceOptions extends AppMappingOptions {
  /** Changes within this many ms are announced together (default 100). */
  debounceMs?: number;
  /** Where to log skipped Services and app changes. */
  logger?: Logger;
}

/** Offers an app per selected port of every Service annotated `exposed`. */
export class AnnotatedServiceSource implements ServiceSource {
  #feeds: ObjectFeed[];
  #options: ServiceSourceOptions;
  #log: Logger;
  #caches: Map<string, Service>[];
  #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onApps: ((apps: OfferSpec[]) => void) | null = null;
  #last: string | null = null;
  #problems = new Map<string, string>();
  #runs: Promise<void>[] = [];
  #done: Promise<void> = Promise.resolve();

  /** Creates the source over `feeds` (one per namespace, or one for all). */
  constructor(feeds: ObjectFeed[], options: ServiceSourceOptions) {
    this.#feeds = feeds;
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#caches = feeds.map(() => new Map());
  }

  /** Starts every feed; see {@linkcode ServiceSource.start}. */
  start(onApps: (apps: OfferSpec[]) => void): void {
    if (this.#onApps) throw new Error("AnnotatedServiceSource already started");
    this.#onApps = onApps;
    const signal = this.#abort.signal;
    this.#runs = this.#feeds.map((feed, i) =>
      feed.run(this.#events(this.#caches[i]), signal).catch((error) => {
        this.#abort.abort();
        throw error;
      })
    );
    this.#done = Promise.all(this.#runs).then(() => {});
    // Handled by whoever awaits `done`; never an unhandled rejection.
    this.#done.catch(() => {});
  }

  /** See {@linkcode ServiceSource.done}. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** See {@linkcode ServiceSource.close}. */
  async close(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.allSettled(this.#runs);
  }

  #events(cache: Map<string, Service>): FeedEvents {
    return {
      replace: (items: KubeObject[]) => {
        cache.clear();
        for (const item of items) cache.set(objectKey(item), item as Service);
        this.#changed();
      },
      upsert: (item: KubeObject) => {
        cache.set(objectKey(item), item as Service);
        this.#changed();
      },
      remove: (item: KubeObject) => {
        cache.delete(objectKey(item));
        this.#changed();
      },
    };
  }

  #changed(): void {
    if (this.#timer !== undefined || this.#abort.signal.aborted) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#options.debounceMs ?? 100);
  }

  #flush(): void {
    const services = this.#caches.flatMap((cache) => [...cache.entries()])
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const apps: OfferSpec[] = [];
    const taken = new Map<string, string>();
    const seen = new Set<string>();
    for (const [key, service] of services) {
      seen.add(key);
      const result = appsFromService(service, this.#options);
      for (const app of result.apps) {
        const other = taken.get(app.name);
        if (other) {
          result.problems.push(`app name "${app.name}" is already taken by Service ${other}`);
          continue;
        }
        taken.set(app.name, key);
        apps.push(app);
      }
      this.#report(key, result.problems);
    }
    for (const key of [...this.#problems.keys()]) if (!seen.has(key)) this.#problems.delete(key);
    apps.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const text = JSON.stringify(apps);
    if (text === this.#last) return;
    this.#last = text;
    this.#log.info("apps from Kubernetes changed", { apps: apps.map((app) => app.name) });
    this.#onApps?.(apps);
  }

  /** Logs a Service's problems when they change (not at every recomputation). */
  #report(key: string, problems: string[]): void {
    const text = problems.join("; ");
    if ((this.#problems.get(key) ?? "") === text) return;
    if (text) {
      this.#problems.set(key, text);
      this.#log.warn("skipping part of an exposed Service", { service: key, problems });
    } else {
      this.#problems.delete(key);
    }
  }
}

/** An in-memory {@linkcode ObjectFeed} of Services, for tests. */
export class MemoryServiceFeed implements ObjectFeed {
  #objects = new Map<string, Service>();
  #events: FeedEvents | null = null;
  #fail: ((error: Error) => void) | null = null;

  /** Adds or replaces a Service (and tells a running consumer). */
  put(service: Service): void {
    const copy = structuredClone(service);
    this.#objects.set(objectKey(copy), copy);
    this.#events?.upsert(structuredClone(copy));
  }

  /** Deletes a Service (and tells a running consumer). */
  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const service = this.#objects.get(key);
    if (!service) return;
    this.#objects.delete(key);
    this.#events?.remove(service);
  }

  /** Sends the whole set again, as a relist does. */
  relist(): void {
    this.#events?.replace([...this.#objects.values()].map((s) => structuredClone(s)));
  }

  /** Makes the running feed fail with `error`, as a watch that gives up does. */
  fail(error: Error): void {
    this.#fail?.(error);
  }

  /** See {@linkcode ObjectFeed.run}. */
  run(events: FeedEvents, signal: AbortSignal): Promise<void> {
    this.#events = events;
    this.relist();
    return new Promise((resolve, reject) => {
      const stop = () => {
        this.#events = null;
        this.#fail = null;
      };
      signal.addEventListener("abort", () => {
        stop();
        resolve();
      }, { once: true });
      this.#fail = (error) => {
        stop();
        reject(error);
      };
    });
  }
}
