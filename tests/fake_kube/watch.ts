/**
 * Watch streams: newline-delimited JSON watch events (`{"type":…,"object":…}`) over a chunked
 * HTTP response, replayed from the store's history and then live, with bookmarks, timeouts,
 * the 410 ERROR event for a compacted resourceVersion, and fault injection.
 *
 * @module
 */

import { clone, type KubeObject } from "./object.ts";
import type { ResourceType } from "./resources.ts";
import type { Selector } from "./selectors.ts";
import type { Change, ObjectStore } from "./store.ts";
import { KubeStatusError, type Status } from "./status.ts";

/** The `type` of a watch event. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";

/** The object of a BOOKMARK event: only the resourceVersion that the watch has reached. */
export interface BookmarkObject {
  /** Kind of the watched resource. */
  kind: string;
  /** apiVersion of the watched resource. */
  apiVersion: string;
  /** The resourceVersion, and `k8s.io/initial-events-end` after initial events. */
  metadata: { resourceVersion: string; annotations?: Record<string, string> };
}

/** One watch event as sent on the wire. */
export interface WatchEvent {
  /** Event type. */
  type: WatchEventType;
  /** The object: a `Status` for ERROR, a {@linkcode BookmarkObject} for BOOKMARK. */
  object: KubeObject | Status | BookmarkObject;
}

/** Parameters of one watch request. */
export interface WatchRequest {
  /** The watched resource type. */
  type: ResourceType;
  /** Only this namespace; `undefined` for all. */
  namespace?: string;
  /** Label selector. */
  labels: Selector;
  /** Field selector. */
  fields: Selector;
  /**
   * The `resourceVersion` parameter as a number; `undefined` when absent, empty or `"0"`,
   * which starts the watch with synthetic ADDED events for the current state.
   */
  resourceVersion: number | undefined;
  /** `allowWatchBookmarks=true`. */
  allowBookmarks: boolean;
  /** `sendInitialEvents=true`: synthetic ADDED events then an initial-events-end BOOKMARK. */
  sendInitialEvents: boolean;
  /** `timeoutSeconds`: end the stream normally after this many seconds. */
  timeoutSeconds?: number;
  /** Converts each event object before it is sent (e.g. to a `Table`). */
  transform?: (obj: KubeObject) => unknown;
}

/** How {@linkcode WatchHub.closeAll} ends streams. */
export type CloseMode =
  /** End the chunked response properly, as the server does at `timeoutSeconds`. */
  | "graceful"
  /** Abort the response mid-stream, as a crashed server or a cut connection does. */
  | "abrupt";

interface OpenWatch {
  request: WatchRequest;
  bookmark(): void;
  close(mode: CloseMode): void;
}

/** Options of a {@linkcode WatchHub}. */
export interface WatchHubOptions {
  /**
   * Interval of periodic BOOKMARK events on watches that allow them, in milliseconds;
   * `0` disables periodic bookmarks (use {@linkcode WatchHub.bookmarkAll}).
   */
  bookmarkIntervalMs: number;
}

const encoder = new TextEncoder();

/** Serves watch streams from an {@linkcode ObjectStore} and keeps track of the open ones. */
export class WatchHub {
  readonly #store: ObjectStore;
  readonly #options: WatchHubOptions;
  readonly #open = new Set<OpenWatch>();
  #served = 0;

  /**
   * Creates a hub over `store`.
   *
   * @param store The store whose changes are watched.
   * @param options Bookmark interval.
   */
  constructor(store: ObjectStore, options: WatchHubOptions) {
    this.#store = store;
    this.#options = options;
  }

  /** The number of watch streams currently open. */
  get openCount(): number {
    return this.#open.size;
  }

  /** The number of watch streams served so far (open or closed). */
  get servedCount(): number {
    return this.#served;
  }

  /**
   * Opens a watch stream. Without a `resourceVersion` it starts with synthetic ADDED events
   * for the current state; otherwise the changes after that version are replayed.
   * A compacted `resourceVersion` yields one ERROR event carrying a 410 Expired `Status`,
   * after which the stream ends, as the real API server does.
   *
   * @param request What to watch.
   * @returns The response body.
   */
  open(request: WatchRequest): ReadableStream<Uint8Array> {
    const store = this.#store;
    const hub = this.#open;
    this.#served++;
    const intervalMs = this.#options.bookmarkIntervalMs;
    let watch: OpenWatch | undefined;
    let cleanup = () => {};
    return new ReadableStream<Uint8Array>({
      start(controller) {
        const send = (event: WatchEvent) => {
          const object = event.type === "ERROR" || event.type === "BOOKMARK" ||
              request.transform === undefined
            ? event.object
            : request.transform(event.object as KubeObject);
          controller.enqueue(encoder.encode(`${JSON.stringify({ type: event.type, object })}\n`));
        };
        const matches = (o: KubeObject | undefined) =>
          o !== undefined && o !== null &&
          (request.namespace === undefined || o.metadata.namespace === request.namespace) &&
          request.labels(o) && request.fields(o);
        const forward = (change: Change) => {
          if (change.resource !== request.type) return;
          const now = matches(change.object);
          if (change.type === "DELETED") {
            if (now) send({ type: "DELETED", object: clone(change.object) });
            return;
          }
          const before = change.type === "MODIFIED" && matches(change.previous);
          if (now) send({ type: before ? "MODIFIED" : "ADDED", object: clone(change.object) });
          else if (before) send({ type: "DELETED", object: clone(change.object) });
        };
        const bookmark = (annotations?: Record<string, string>) => {
          const metadata: BookmarkObject["metadata"] = { resourceVersion: String(store.revision) };
          if (annotations !== undefined) metadata.annotations = annotations;
          send({
            type: "BOOKMARK",
            object: { kind: request.type.kind, apiVersion: request.type.apiVersion, metadata },
          });
        };

        const from = request.resourceVersion;
        if (from === undefined) {
          for (const o of store.list(request.type, request.namespace)) {
            if (matches(o)) send({ type: "ADDED", object: o });
          }
        } else {
          let replay: readonly Change[];
          try {
            replay = store.changesSince(from);
          } catch (e) {
            if (!(e instanceof KubeStatusError)) throw e;
            send({ type: "ERROR", object: e.status });
            controller.close();
            return;
          }
          if (request.sendInitialEvents) {
            for (const o of store.list(request.type, request.namespace)) {
              if (matches(o)) send({ type: "ADDED", object: o });
            }
          } else {
            for (const change of replay) forward(change);
          }
        }
        if (request.sendInitialEvents && request.allowBookmarks) {
          bookmark({ "k8s.io/initial-events-end": "true" });
        }

        const unsubscribe = store.subscribe(forward);
        const timers: ReturnType<typeof setTimeout>[] = [];
        if (request.allowBookmarks && intervalMs > 0) {
          timers.push(setInterval(() => bookmark(), intervalMs));
        }
        if (request.timeoutSeconds !== undefined) {
          timers.push(setTimeout(() => watch?.close("graceful"), request.timeoutSeconds * 1000));
        }
        cleanup = () => {
          unsubscribe();
          for (const t of timers) clearTimeout(t);
          if (watch !== undefined) hub.delete(watch);
        };
        let closed = false;
        watch = {
          request,
          bookmark: () => {
            if (request.allowBookmarks && !closed) bookmark();
          },
          close: (mode) => {
            if (closed) return;
            closed = true;
            cleanup();
            if (mode === "graceful") controller.close();
            else controller.error("fake kube: injected watch failure (FakeKube.failWatches)");
          },
        };
        hub.add(watch);
      },
      cancel() {
        cleanup();
      },
    });
  }

  /** Sends a BOOKMARK event now on every open watch that allows bookmarks. */
  bookmarkAll(): void {
    for (const w of [...this.#open]) w.bookmark();
  }

  /**
   * Ends every open watch stream.
   *
   * @param mode `graceful` ends the responses properly; `abrupt` aborts them mid-stream.
   * @returns How many streams were ended.
   */
  closeAll(mode: CloseMode): number {
    const all = [...this.#open];
    for (const w of all) w.close(mode);
    return all.length;
  }
}
