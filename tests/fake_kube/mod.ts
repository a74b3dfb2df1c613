/**
 * A wire-level fake Kubernetes API server for tests: real HTTP on 127.0.0.1, served to kubectl,
 * kubernetes-fluent-client or plain `fetch` through a generated kubeconfig.
 *
 * It serves discovery (legacy and aggregated v2), a minimal OpenAPI v3 index, core/v1 Services,
 * Secrets (base64 `data`, `stringData` folded into it on write, `type` defaulting to `Opaque`)
 * and Namespaces, networking.k8s.io/v1 NetworkPolicies, discovery.k8s.io/v1 EndpointSlices
 * (`addressType` required and immutable, port defaults) and coordination.k8s.io/v1 Leases with list (label/field selectors,
 * limit/continue), watch (resourceVersion replay, bookmarks, `timeoutSeconds`, ERROR 410 on
 * compacted versions), create, replace, JSON/merge/strategic patch, server-side apply, delete
 * and the `status` subresource, answering failures with real `Status` objects. Tests reach
 * the store directly and inject faults (compaction, ended or aborted watch streams).
 *
 * What kubectl 1.32 needs: `/version` (the gcloud kubectl dispatcher picks the client by the
 * server's minor version), `/api` + `/apis` (aggregated or legacy discovery both work), Tables
 * for human-readable `get`, and `/openapi/v3` for `apply`/`create` with the default
 * `--validate=strict` (it only checks that PATCH takes `fieldValidation`; no `/openapi/v2`).
 *
 * Known simplifications: writing into a missing namespace creates it (the real server says
 * 404); in server-side apply, lists are owned and replaced whole and only leaf fields are
 * tracked; strategic merge patch replaces lists instead of merging them by key; apply bodies
 * must be JSON (what kubectl and kubernetes-fluent-client send), and so must every body (kubectl's
 * typed commands such as `create secret generic` send protobuf); an abort injected with
 * `failWatches()` makes Deno print one line ("fake kube: injected watch failure").
 *
 * @example
 * ```ts
 * await using kube = await startFakeKube();
 * kube.put({ apiVersion: "v1", kind: "Service", metadata: { name: "a", namespace: "ns" } });
 * const list = await (await fetch(`${kube.url}/api/v1/services`)).json();
 * ```
 *
 * @module
 */

import { createHandler, type RecordedRequest } from "./handler.ts";
import { renderKubeconfig } from "./kubeconfig.ts";
import type { KubeObject } from "./object.ts";
import { Registry } from "./registry.ts";
import { NAMESPACES, type ResourceKind, resourceType } from "./resources.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { ObjectStore } from "./store.ts";
import { WatchHub } from "./watch.ts";

export type { RecordedRequest } from "./handler.ts";
export type { KubeObject, ManagedFieldsEntry, ObjectMeta } from "./object.ts";
export type { ResourceKind } from "./resources.ts";
export type { Status, StatusReason } from "./status.ts";
export type { BookmarkObject, WatchEvent, WatchEventType } from "./watch.ts";
export { WatchEventReader } from "./watch_reader.ts";
export { UNDICI_TIMER, usingKubeconfig } from "./client_env.ts";
export { renderKubeconfig } from "./kubeconfig.ts";

/** Options of {@linkcode startFakeKube}. */
export interface FakeKubeOptions {
  /** Port on 127.0.0.1; default `0` (any free port). */
  port?: number;
  /**
   * Interval of periodic BOOKMARK events on watches with `allowWatchBookmarks=true`, in
   * milliseconds; default `1000`. `0` disables them ({@linkcode FakeKube.sendBookmarks} still
   * works).
   */
  bookmarkIntervalMs?: number;
  /**
   * Whether to answer aggregated discovery (apidiscovery.k8s.io/v2) when a client asks for it;
   * default `true`. With `false`, clients fall back to the legacy per-group documents.
   */
  aggregatedDiscovery?: boolean;
  /** Namespaces that exist from the start; default `["default", "kube-system"]`. */
  namespaces?: string[];
  /** Objects stored at start (after the namespaces), as by {@linkcode FakeKube.put}. */
  objects?: KubeObject[];
  /** Closes the server when aborted. */
  signal?: AbortSignal;
}

/** Filters of {@linkcode FakeKube.list}. */
export interface FakeListOptions {
  /** Only this namespace. */
  namespace?: string;
  /** A label selector in query-parameter syntax, e.g. `app=web,!canary`. */
  labelSelector?: string;
  /** A field selector over metadata.name/metadata.namespace, e.g. `metadata.name=a`. */
  fieldSelector?: string;
}

/** A running fake API server. Close it with `await using`, or `close()`. */
export interface FakeKube extends AsyncDisposable {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** A kubeconfig (cluster/user/context `fake-kube`, token user, no TLS) for this server. */
  readonly kubeconfigPath: string;
  /** The temporary directory holding the kubeconfig; removed by `close()`. */
  readonly tempDir: string;
  /**
   * Environment for kubectl child processes: `KUBECONFIG`, and `KUBECACHEDIR` inside
   * {@linkcode FakeKube.tempDir} so that discovery caches do not land in `~/.kube`.
   */
  readonly env: Readonly<Record<string, string>>;
  /** The current global resourceVersion. */
  readonly resourceVersion: string;
  /** The compacted resourceVersion: watches from older ones get 410 Expired. */
  readonly compactedResourceVersion: string;
  /** The number of watch streams open now. */
  readonly openWatchCount: number;
  /** The number of watch streams served so far. */
  readonly servedWatchCount: number;
  /** Every request served so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /**
   * Called with each request before it is served; a test can change the store here (e.g. write
   * and compact when a client's watch request arrives, to answer it with 410). Replaceable at
   * any time; `undefined` to stop.
   */
  onRequest: ((request: RecordedRequest) => void) | undefined;

  /**
   * Creates or replaces an object, unconditionally, with server-side defaults and metadata
   * (uid, creationTimestamp, resourceVersion, generation); `status` is taken as given.
   * Namespaced objects without a namespace go to `default`. Watches see the change.
   *
   * @param object The object; its `kind` picks the resource type.
   * @returns The stored object.
   */
  put(object: KubeObject): KubeObject;
  /**
   * Reads an object.
   *
   * @param kind Kind (`Service`) or plural (`services`).
   * @param namespace Namespace (ignored for Namespaces).
   * @param name Name.
   * @returns A copy, or `undefined`.
   */
  get(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined;
  /**
   * Lists objects, sorted by namespace and name.
   *
   * @param kind Kind or plural.
   * @param options Namespace and selectors.
   * @returns Copies of the objects.
   */
  list(kind: ResourceKind, options?: FakeListOptions): KubeObject[];
  /**
   * Deletes an object if present. Watches see the change.
   *
   * @param kind Kind or plural.
   * @param namespace Namespace (ignored for Namespaces).
   * @param name Name.
   * @returns The deleted object, or `undefined` when absent.
   */
  delete(kind: ResourceKind, namespace: string | undefined, name: string): KubeObject | undefined;
  /**
   * Compacts the history: watches (and exact or continued lists) from an older
   * resourceVersion fail with 410 Expired.
   *
   * @param resourceVersion Compact up to this version; default: the current one.
   * @returns The compacted resourceVersion.
   */
  compact(resourceVersion?: string | number): string;
  /**
   * Aborts every open watch response mid-stream (no terminating chunk), as a crashed server
   * or cut connection would.
   *
   * @returns How many streams were aborted.
   */
  failWatches(): number;
  /**
   * Ends every open watch response normally, as the server does at `timeoutSeconds`.
   *
   * @returns How many streams were ended.
   */
  endWatches(): number;
  /** Sends a BOOKMARK event now on every open watch that allows bookmarks. */
  sendBookmarks(): void;
  /**
   * Polls until `predicate` holds.
   *
   * @param predicate The condition, evaluated every few milliseconds.
   * @param timeoutMs Give up after this long; default 10 000.
   * @throws {Error} When the condition does not hold in time.
   */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Ends all watches, stops the server and awaits its end, removes the temp dir. */
  close(): Promise<void>;
}

const TEST_MANAGER = "fake-kube-test";

/**
 * Starts a fake API server on 127.0.0.1 and writes its kubeconfig.
 *
 * @param options Port, bookmark interval, discovery mode, initial objects, abort signal.
 * @returns The running server.
 */
export async function startFakeKube(options: FakeKubeOptions = {}): Promise<FakeKube> {
  const store = new ObjectStore();
  const registry = new Registry(store);
  const watches = new WatchHub(store, { bookmarkIntervalMs: options.bookmarkIntervalMs ?? 1000 });
  const requests: RecordedRequest[] = [];

  const put = (object: KubeObject): KubeObject => {
    const type = resourceType(object.kind ?? "");
    const ns = type.namespaced ? object.metadata.namespace ?? "default" : undefined;
    const body = structuredClone(object);
    delete body.metadata.resourceVersion;
    const write = { fieldManager: TEST_MANAGER, writeStatus: body.status !== undefined };
    const exists = store.get(type, ns, body.metadata.name) !== undefined;
    return exists
      ? registry.replace(type, ns, body.metadata.name, body, write).object
      : registry.create(type, ns, body, write).object;
  };
  for (const name of options.namespaces ?? ["default", "kube-system"]) {
    put({ apiVersion: "v1", kind: NAMESPACES.kind, metadata: { name } });
  }
  for (const object of options.objects ?? []) put(object);

  const tempDir = await Deno.makeTempDir({ prefix: "fake-kube-" });
  const handler = createHandler({
    registry,
    watches,
    aggregatedDiscovery: options.aggregatedDiscovery ?? true,
    record: (r) => {
      requests.push(r);
      kube.onRequest?.(r);
    },
  });
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 0,
    onListen: () => {},
  }, handler);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const kubeconfigPath = `${tempDir}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfigPath,
    renderKubeconfig({
      server: url,
      token: "fake-kube-token",
      name: "fake-kube",
      namespace: "default",
    }),
  );

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      watches.closeAll("graceful");
      await server.shutdown();
      await server.finished;
      await Deno.remove(tempDir, { recursive: true });
    })();
    return closing;
  };
  options.signal?.addEventListener("abort", () => void close(), { once: true });

  const kube: FakeKube = {
    onRequest: undefined,
    url,
    kubeconfigPath,
    tempDir,
    env: { KUBECONFIG: kubeconfigPath, KUBECACHEDIR: `${tempDir}/cache` },
    get resourceVersion() {
      return String(store.revision);
    },
    get compactedResourceVersion() {
      return String(store.compactedRevision);
    },
    get openWatchCount() {
      return watches.openCount;
    },
    get servedWatchCount() {
      return watches.servedCount;
    },
    requests,
    put,
    get: (kind, namespace, name) => {
      const type = resourceType(kind);
      return store.get(type, type.namespaced ? namespace : undefined, name);
    },
    list: (kind, filter = {}) =>
      registry.list(resourceType(kind), {
        namespace: filter.namespace,
        labels: parseLabelSelector(filter.labelSelector ?? null),
        fields: parseFieldSelector(filter.fieldSelector ?? null),
      }),
    delete: (kind, namespace, name) => {
      const type = resourceType(kind);
      const ns = type.namespaced ? namespace : undefined;
      if (store.get(type, ns, name) === undefined) return undefined;
      return registry.delete(type, ns, name);
    },
    compact: (resourceVersion) =>
      String(store.compact(resourceVersion === undefined ? undefined : Number(resourceVersion))),
    failWatches: () => watches.closeAll("abrupt"),
    endWatches: () => watches.closeAll("graceful"),
    sendBookmarks: () => watches.bookmarkAll(),
    waitFor: async (predicate, timeoutMs = 10_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) {
          throw new Error(`fake kube: condition not met in ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close,
    [Symbol.asyncDispose]: close,
  };
  return kube;
}

/**
 * Why kubectl cannot be used here (not on PATH, or it fails), or
 * `undefined` when it can: tests that drive the fake with it skip otherwise.
 */
export async function kubectlMissing(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? undefined : "`kubectl version --client` failed";
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return "kubectl is not on PATH";
    throw e;
  }
}

/** Runs kubectl with `env` (the fake's KUBECONFIG); resolves with stdout, rejects with its output. */
export async function kubectl(
  env: Readonly<Record<string, string>>,
  ...args: string[]
): Promise<string> {
  const out = await new Deno.Command("kubectl", { args, env, stdout: "piped", stderr: "piped" })
    .output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  if (!out.success) {
    throw new Error(`kubectl ${args.join(" ")} failed: ${decode(out.stderr)}${decode(out.stdout)}`);
  }
  return decode(out.stdout);
}
