/**
 * The shape of stored Kubernetes objects, and small JSON helpers used on them.
 *
 * @module
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** One `metadata.managedFields` entry. */
export interface ManagedFieldsEntry {
  /** The field manager, e.g. `kubectl` or `pepr`. */
  manager: string;
  /** `Apply` for server-side apply, `Update` for every other write. */
  operation: "Apply" | "Update";
  /** The `apiVersion` the write used. */
  apiVersion: string;
  /** RFC 3339 time of the write. */
  time: string;
  /** Always `FieldsV1`. */
  fieldsType: "FieldsV1";
  /** The owned fields as a `FieldsV1` trie (`{"f:spec": {"f:ports": {}}}`). */
  fieldsV1: Record<string, unknown>;
  /** The subresource written, when not the main resource. */
  subresource?: string;
}

/** `metadata` of a stored object. */
export interface ObjectMeta {
  /** Object name. */
  name: string;
  /** Namespace (namespaced types only). */
  namespace?: string;
  /** Prefix for a server-generated name (create only). */
  generateName?: string;
  /** Server-assigned unique id. */
  uid?: string;
  /** Server-assigned resourceVersion (decimal string of the global counter). */
  resourceVersion?: string;
  /** Server-assigned generation, bumped when anything outside metadata/status changes. */
  generation?: number;
  /** Server-assigned RFC 3339 creation time. */
  creationTimestamp?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Field ownership. */
  managedFields?: ManagedFieldsEntry[];
  /** Anything else. */
  [key: string]: unknown;
}

/** A stored Kubernetes object. */
export interface KubeObject {
  /** e.g. `v1` or `networking.k8s.io/v1`. */
  apiVersion?: string;
  /** e.g. `Service`. */
  kind?: string;
  /** Object metadata. */
  metadata: ObjectMeta;
  /** Anything else (`spec`, `status`, ...). */
  [key: string]: unknown;
}

/**
 * Deep-copies a JSON-compatible value.
 *
 * @param value The value.
 * @returns An independent copy.
 */
export function clone<T>(value: T): T {
  return structuredClone(value);
}

/**
 * Whether `value` is a plain JSON object (not an array, not null).
 *
 * @param value Any value.
 * @returns `true` for a plain object.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * Structural equality of two JSON values.
 *
 * @param a First value.
 * @param b Second value.
 * @returns `true` when equal.
 */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The current time in the API server's RFC 3339 format (second precision).
 *
 * @returns e.g. `2025-01-02T03:04:05Z`.
 */
export function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, "Z");
}
