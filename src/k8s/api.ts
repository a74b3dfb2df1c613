/**
 * The narrow view of the Kubernetes API that wormhole needs: JSON requests
 * and streamed watches, plus typed helpers (get, paginated list, server-side
 * apply, delete with preconditions, watch events). The implementation on
 * kubernetes-fluent-client is loaded lazily ({@linkcode loadKubeApi}), so
 * that local mode never pays for it.
 *
 * @module
 */

import { KubernetesApiError } from "./errors.ts";
import {
  FIELD_MANAGER,
  type KubeList,
  type KubeObject,
  resourcePath,
  type ResourceType,
} from "./objects.ts";

/** One JSON request. */
export interface KubeRequest {
  /** HTTP method. */
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, e.g. `/api/v1/namespaces/ns/services/web`. */
  path: string;
  /** Query parameters. */
  query?: Record<string, string>;
  /** Body, sent as JSON. */
  body?: unknown;
  /** Content type of the body (default `application/json`). */
  contentType?: string;
}

/** Talks to one API server, with the credentials of the current kubeconfig or the pod. */
export interface KubeApi {
  /**
   * Sends one request.
   *
   * @returns The parsed JSON answer.
   * @throws {KubernetesApiError} for an error status or when no answer came.
   */
  request<T>(request: KubeRequest): Promise<T>;
  /**
   * Opens a streamed GET (a watch). Resolves once the server answered 200,
   * with the body's chunks, which end when the server ends the stream. The
   * caller must iterate the body to its end or abort `signal`; either
   * releases the connection. After an abort, the body just ends.
   *
   * @throws {KubernetesApiError} for an error status or a failed connection
   *   (and, from the body, for a broken stream).
   */
  stream(
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Uint8Array>>;
}

/** Reads an object; `undefined` when it does not exist. */
export async function getObject<T extends KubeObject = KubeObject>(
  api: KubeApi,
  type: ResourceType,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  try {
    return await api.request<T>({ method: "GET", path: resourcePath(type, namespace, name) });
  } catch (error) {
    if (error instanceof KubernetesApiError && error.notFound) return undefined;
    throw error;
  }
}

/** Options of {@linkcode listObjects}. */
export interface ListOptions {
  /** One namespace; all when absent. */
  namespace?: string;
  /** Label selector, e.g. `app.kubernetes.io/managed-by=wormhole`. */
  labelSelector?: string;
  /** Field selector, e.g. `metadata.name=x` (what RBAC `resourceNames` needs for list and watch). */
  fieldSelector?: string;
  /** Page size (default 500). */
  limit?: number;
}

/**
 * Lists objects, following continue tokens; the result's resourceVersion is
 * the list's (a consistent snapshot), ready to watch from.
 */
export async function listObjects<T extends KubeObject = KubeObject>(
  api: KubeApi,
  type: ResourceType,
  options: ListOptions = {},
): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let resourceVersion = "";
  let token: string | undefined;
  do {
    const query: Record<string, string> = { limit: String(options.limit ?? 500) };
    if (options.labelSelector) query.labelSelector = options.labelSelector;
    if (options.fieldSelector) query.fieldSelector = options.fieldSelector;
    if (token) query.continue = token;
    const page = await api.request<KubeList<T>>({
      method: "GET",
      path: resourcePath(type, options.namespace),
      query,
    });
    if (!token) resourceVersion = page.metadata?.resourceVersion ?? "";
    for (const item of page.items ?? []) items.push(item);
    token = page.metadata?.continue || undefined;
  } while (token);
  return { items, resourceVersion };
}

/**
 * Server-side applies `object` with field manager `wormhole`, forcing
 * conflicts. A `metadata.resourceVersion` in `object` makes it conditional
 * (409 Conflict when the stored object changed since).
 */
export function applyObject<T extends KubeObject>(
  api: KubeApi,
  type: ResourceType,
  object: T,
): Promise<T> {
  const body = { ...object, apiVersion: type.apiVersion, kind: type.kind };
  return api.request<T>({
    method: "PATCH",
    path: resourcePath(type, object.metadata.namespace, object.metadata.name),
    query: { fieldManager: FIELD_MANAGER, force: "true" },
    body,
    contentType: "application/apply-patch+yaml",
  });
}

/**
 * Deletes an object if it still is the one described by `preconditions`.
 *
 * @returns false when it did not exist.
 * @throws {KubernetesApiError} 409 when the preconditions no longer hold.
 */
export async function deleteObject(
  api: KubeApi,
  type: ResourceType,
  namespace: string,
  name: string,
  preconditions: { uid?: string; resourceVersion?: string } = {},
): Promise<boolean> {
  try {
    await api.request({
      method: "DELETE",
      path: resourcePath(type, namespace, name),
      body: { apiVersion: "v1", kind: "DeleteOptions", preconditions },
    });
    return true;
  } catch (error) {
    if (error instanceof KubernetesApiError && error.notFound) return false;
    throw error;
  }
}

/** One event of a watch stream. */
export interface WatchEvent {
  /** Event type. */
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  /** The object; a `Status` for ERROR. */
  object: KubeObject & { code?: number; reason?: string; message?: string };
}

/**
 * Splits a watch stream (one JSON object per line) into events.
 *
 * @throws {KubernetesApiError} on a line that is not a watch event.
 */
export async function* watchEvents(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<WatchEvent> {
  const decoder = new TextDecoder();
  let rest = "";
  const parse = (line: string): WatchEvent => {
    try {
      const event = JSON.parse(line);
      if (typeof event?.type === "string" && typeof event.object === "object") return event;
    } catch {
      // Reported below.
    }
    throw new KubernetesApiError(0, "BadResponse", `Not a watch event: ${line.slice(0, 200)}`);
  };
  for await (const chunk of chunks) {
    rest += decoder.decode(chunk, { stream: true });
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl).trim();
      rest = rest.slice(nl + 1);
      if (line) yield parse(line);
    }
  }
  rest += decoder.decode();
  if (rest.trim()) yield parse(rest.trim());
}
