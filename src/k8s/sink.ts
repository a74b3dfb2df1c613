/**
 * The server side's writes: the seam {@linkcode ServiceSink} (get, apply,
 * delete, list owned objects in one namespace), on the Kubernetes API
 * ({@linkcode KubeServiceSink}) or in memory ({@linkcode MemoryServiceSink}).
 *
 * @module
 */

import { applyObject, deleteObject, getObject, type KubeApi, listObjects } from "./api.ts";
import { KubernetesApiError } from "./errors.ts";
import {
  type KubeObject,
  LABEL_MANAGED_BY,
  MANAGER,
  type ProxyKind,
  resourceOf,
} from "./objects.ts";

/** Preconditions of a delete: it only happens while the object is still this one. */
export interface Preconditions {
  /** The object's uid. */
  uid?: string;
  /** The object's resourceVersion. */
  resourceVersion?: string;
}

/** Where the server's proxy Services and NetworkPolicies go: one namespace. */
export interface ServiceSink {
  /** The namespace written to. */
  readonly namespace: string;
  /** Reads an object; `undefined` when absent. */
  get(kind: ProxyKind, name: string): Promise<KubeObject | undefined>;
  /**
   * Server-side applies `object` (field manager `wormhole`, forced). With
   * `metadata.resourceVersion` set, only while the stored object has it.
   */
  apply(kind: ProxyKind, object: KubeObject): Promise<KubeObject>;
  /** Deletes an object if the preconditions hold; false when it was absent. */
  delete(kind: ProxyKind, name: string, preconditions: Preconditions): Promise<boolean>;
  /** Every object labelled `app.kubernetes.io/managed-by=wormhole`. */
  listOwned(kind: ProxyKind): Promise<KubeObject[]>;
}

/** {@linkcode ServiceSink} on the Kubernetes API. */
export class KubeServiceSink implements ServiceSink {
  #api: KubeApi;
  /** See {@linkcode ServiceSink.namespace}. */
  readonly namespace: string;

  /** Creates a sink writing into `namespace`. */
  constructor(api: KubeApi, namespace: string) {
    this.#api = api;
    this.namespace = namespace;
  }

  /** See {@linkcode ServiceSink.get}. */
  get(kind: ProxyKind, name: string): Promise<KubeObject | undefined> {
    return getObject(this.#api, resourceOf(kind), this.namespace, name);
  }

  /** See {@linkcode ServiceSink.apply}. */
  apply(kind: ProxyKind, object: KubeObject): Promise<KubeObject> {
    const metadata = { ...object.metadata, namespace: this.namespace };
    return applyObject(this.#api, resourceOf(kind), { ...object, metadata });
  }

  /** See {@linkcode ServiceSink.delete}. */
  delete(kind: ProxyKind, name: string, preconditions: Preconditions): Promise<boolean> {
    return deleteObject(this.#api, resourceOf(kind), this.namespace, name, preconditions);
  }

  /** See {@linkcode ServiceSink.listOwned}. */
  async listOwned(kind: ProxyKind): Promise<KubeObject[]> {
    const list = await listObjects(this.#api, resourceOf(kind), {
      namespace: this.namespace,
      labelSelector: `${LABEL_MANAGED_BY}=${MANAGER}`,
    });
    return list.items;
  }
}

/**
 * An in-memory {@linkcode ServiceSink} for tests: keeps uids across applies
 * (and a Service's clusterIP), honours preconditions, records every write in
 * {@linkcode MemoryServiceSink.writes}, and fails on demand.
 */
export class MemoryServiceSink implements ServiceSink {
  /** See {@linkcode ServiceSink.namespace}. */
  readonly namespace: string;
  /** `apply Service x`, `delete NetworkPolicy y`, in order. */
  readonly writes: string[] = [];
  #objects = new Map<string, KubeObject>();
  #version = 0;
  #failures = 0;

  /** Creates an empty sink for `namespace`. */
  constructor(namespace = "wormhole") {
    this.namespace = namespace;
  }

  /** Stores an object as is (e.g. one wormhole does not own). */
  put(kind: ProxyKind, object: KubeObject): KubeObject {
    const stored: KubeObject = structuredClone({
      ...object,
      kind,
      metadata: {
        ...object.metadata,
        namespace: this.namespace,
        uid: object.metadata.uid ?? crypto.randomUUID(),
        resourceVersion: String(++this.#version),
      },
    });
    this.#objects.set(`${kind}/${object.metadata.name}`, stored);
    return structuredClone(stored);
  }

  /** The stored object, or `undefined` (synchronous, for assertions). */
  peek(kind: ProxyKind, name: string): KubeObject | undefined {
    const object = this.#objects.get(`${kind}/${name}`);
    return object && structuredClone(object);
  }

  /** Names of the stored objects of `kind`, sorted. */
  names(kind: ProxyKind): string[] {
    return [...this.#objects.values()].filter((o) => o.kind === kind).map((o) => o.metadata.name)
      .sort();
  }

  /** Makes the next `count` calls fail as an unreachable API would. */
  failNext(count: number): void {
    this.#failures = count;
  }

  #maybeFail(what: string): void {
    if (this.#failures <= 0) return;
    this.#failures--;
    throw new KubernetesApiError(0, "NetworkError", `${what}: injected failure`);
  }

  /** See {@linkcode ServiceSink.get}. */
  get(kind: ProxyKind, name: string): Promise<KubeObject | undefined> {
    return Promise.resolve().then(() => {
      this.#maybeFail(`get ${kind} ${name}`);
      return this.peek(kind, name);
    });
  }

  /** See {@linkcode ServiceSink.apply}. */
  apply(kind: ProxyKind, object: KubeObject): Promise<KubeObject> {
    return Promise.resolve().then(() => {
      const name = object.metadata.name;
      this.#maybeFail(`apply ${kind} ${name}`);
      const existing = this.#objects.get(`${kind}/${name}`);
      const wanted = object.metadata.resourceVersion;
      if (wanted !== undefined && existing?.metadata.resourceVersion !== wanted) {
        throw new KubernetesApiError(409, "Conflict", `apply ${kind} ${name}: changed since`);
      }
      const spec = { ...(object.spec as Record<string, unknown> | undefined) };
      const clusterIP = (existing?.spec as { clusterIP?: string } | undefined)?.clusterIP;
      if (kind === "Service") spec.clusterIP = clusterIP ?? `10.96.0.${this.#version + 1}`;
      this.writes.push(`apply ${kind} ${name}`);
      return this.put(kind, {
        ...object,
        // EndpointSlices have no spec.
        ...(kind === "EndpointSlice" ? {} : { spec }),
        metadata: { ...object.metadata, uid: existing?.metadata.uid },
      });
    });
  }

  /** See {@linkcode ServiceSink.delete}. */
  delete(kind: ProxyKind, name: string, preconditions: Preconditions): Promise<boolean> {
    return Promise.resolve().then(() => {
      this.#maybeFail(`delete ${kind} ${name}`);
      const existing = this.#objects.get(`${kind}/${name}`);
      if (!existing) return false;
      if (
        (preconditions.uid && preconditions.uid !== existing.metadata.uid) ||
        (preconditions.resourceVersion &&
          preconditions.resourceVersion !== existing.metadata.resourceVersion)
      ) {
        throw new KubernetesApiError(
          409,
          "Conflict",
          `delete ${kind} ${name}: precondition failed`,
        );
      }
      this.#objects.delete(`${kind}/${name}`);
      this.writes.push(`delete ${kind} ${name}`);
      return true;
    });
  }

  /** See {@linkcode ServiceSink.listOwned}. */
  listOwned(kind: ProxyKind): Promise<KubeObject[]> {
    return Promise.resolve().then(() => {
      this.#maybeFail(`list ${kind}`);
      return [...this.#objects.values()]
        .filter((o) => o.kind === kind && o.metadata.labels?.[LABEL_MANAGED_BY] === MANAGER)
        .map((o) => structuredClone(o));
    });
  }
}
