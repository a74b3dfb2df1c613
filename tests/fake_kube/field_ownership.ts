/**
 * An approximation of server-side apply and `metadata.managedFields`.
 *
 * Ownership is tracked per field manager and operation at the level of leaf fields: maps
 * (objects) are walked into, while lists and scalars are leaves, so a list such as
 * `spec.ports` is owned and replaced whole (the real server merges keyed lists per item).
 * Applying:
 * - sets every field in the applied configuration, merging maps such as labels/annotations;
 * - removes fields that the same manager applied before, omits now, and nobody else owns;
 * - fails with 409 Conflict when it would change a field another manager owns, unless forced,
 *   in which case ownership moves to the applier.
 *
 * Non-apply writes (create, replace, merge/JSON patch) give their manager the fields they
 * changed, taking them from other managers without conflict, as the real server does.
 *
 * @module
 */

import { clone, isRecord, jsonEqual, type KubeObject, nowRfc3339 } from "./object.ts";
import type { ManagedFieldsEntry } from "./object.ts";
import type { ResourceType } from "./resources.ts";
import { applyConflict } from "./status.ts";

type Path = string[];

const SERVER_META = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "managedFields",
  "generateName",
  "deletionTimestamp",
  "selfLink",
]);

function key(path: Path): string {
  return JSON.stringify(path);
}

function walk(value: unknown, prefix: Path, out: Map<string, Path>): void {
  if (isRecord(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) walk(v, [...prefix, k], out);
    }
  } else {
    out.set(key(prefix), prefix);
  }
}

/**
 * The leaf fields of an object that a writer can own.
 *
 * @param obj The object.
 * @param type Its resource type (status is not owned through the main resource).
 * @returns Leaf paths keyed by their JSON encoding.
 */
function ownableFields(obj: KubeObject, type: ResourceType): Map<string, Path> {
  const out = new Map<string, Path>();
  for (const [k, v] of Object.entries(obj)) {
    if (k === "apiVersion" || k === "kind" || v === undefined) continue;
    if (k === "status" && type.hasStatus) continue;
    if (k === "metadata" && isRecord(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (!SERVER_META.has(mk) && mv !== undefined) walk(mv, ["metadata", mk], out);
      }
      continue;
    }
    walk(v, [k], out);
  }
  return out;
}

function toFieldsV1(paths: Iterable<Path>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const path of paths) {
    let node = root;
    for (const segment of path) {
      const k = `f:${segment}`;
      node[k] ??= {};
      node = node[k] as Record<string, unknown>;
    }
  }
  return root;
}

function fromFieldsV1(trie: unknown, prefix: Path, out: Map<string, Path>): void {
  const children = isRecord(trie) ? Object.keys(trie).filter((k) => k.startsWith("f:")) : [];
  if (children.length === 0) {
    if (prefix.length > 0) out.set(key(prefix), prefix);
    return;
  }
  for (const child of children) {
    fromFieldsV1((trie as Record<string, unknown>)[child], [...prefix, child.slice(2)], out);
  }
}

function getPath(obj: unknown, path: Path): unknown {
  let node = obj;
  for (const segment of path) {
    if (!isRecord(node)) return undefined;
    node = node[segment];
  }
  return node;
}

function deletePath(obj: unknown, path: Path): void {
  let node = obj;
  for (const segment of path.slice(0, -1)) {
    if (!isRecord(node)) return;
    node = node[segment];
  }
  if (isRecord(node)) delete node[path[path.length - 1]];
}

/**
 * Whether the applied value is already in place: equal, except that the stored value may have
 * extra (defaulted) keys in objects, also inside lists.
 */
function containedIn(applied: unknown, stored: unknown): boolean {
  if (Array.isArray(applied)) {
    return Array.isArray(stored) && applied.length === stored.length &&
      applied.every((v, i) => containedIn(v, stored[i]));
  }
  if (isRecord(applied)) {
    return isRecord(stored) && Object.entries(applied).every(([k, v]) => containedIn(v, stored[k]));
  }
  return jsonEqual(applied, stored);
}

function related(a: Path, b: Path): boolean {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

function dotted(path: Path): string {
  return path.map((s) => `.${s}`).join("");
}

interface Owner {
  entry: ManagedFieldsEntry;
  fields: Map<string, Path>;
}

function owners(obj: KubeObject | undefined): Owner[] {
  return (obj?.metadata.managedFields ?? []).map((entry) => {
    const fields = new Map<string, Path>();
    fromFieldsV1(entry.fieldsV1, [], fields);
    return { entry: clone(entry), fields };
  });
}

function writeOwners(obj: KubeObject, list: Owner[]): void {
  const entries = list
    .filter((o) => o.fields.size > 0)
    .map((o) => ({ ...o.entry, fieldsV1: toFieldsV1(o.fields.values()) }));
  if (entries.length > 0) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
}

function ownerFor(
  list: Owner[],
  manager: string,
  operation: "Apply" | "Update",
  apiVersion: string,
): Owner {
  let owner = list.find((o) =>
    o.entry.manager === manager && o.entry.operation === operation &&
    o.entry.subresource === undefined
  );
  if (owner === undefined) {
    owner = {
      entry: { manager, operation, apiVersion, time: "", fieldsType: "FieldsV1", fieldsV1: {} },
      fields: new Map(),
    };
    list.push(owner);
  }
  owner.entry.time = nowRfc3339();
  owner.entry.apiVersion = apiVersion;
  return owner;
}

function deepMerge(target: Record<string, unknown>, applied: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(applied)) {
    if (v === undefined) continue;
    if (v === null) {
      delete target[k];
    } else if (isRecord(v) && isRecord(target[k]) && Object.keys(v).length > 0) {
      deepMerge(target[k] as Record<string, unknown>, v);
    } else {
      target[k] = clone(v);
    }
  }
}

/** Input of {@linkcode serverSideApply}. */
export interface ApplyInput {
  /** The resource type. */
  type: ResourceType;
  /** The stored object, or `undefined` when the apply creates it. */
  existing: KubeObject | undefined;
  /** The applied configuration (already checked for name/kind). */
  applied: KubeObject;
  /** The `fieldManager` query parameter. */
  manager: string;
  /** The `force` query parameter. */
  force: boolean;
}

/**
 * Computes the result of a server-side apply: the merged object with its managedFields
 * updated. Server-assigned metadata is not touched; the caller sets it.
 *
 * @param input What to apply to what.
 * @returns The new object.
 * @throws {KubeStatusError} 409 Conflict when another manager owns a field that the apply
 *   changes and `force` is false.
 */
export function serverSideApply(input: ApplyInput): KubeObject {
  const { type, existing, applied, manager, force } = input;
  const appliedFields = ownableFields(applied, type);
  const list = owners(existing);
  const result: KubeObject = existing === undefined
    ? { apiVersion: type.apiVersion, kind: type.kind, metadata: { name: applied.metadata.name } }
    : clone(existing);
  const self = ownerFor(list, manager, "Apply", type.apiVersion);
  const others = list.filter((o) => o !== self);

  const conflicts: { owner: Owner; key: string; path: Path }[] = [];
  for (const path of appliedFields.values()) {
    if (containedIn(getPath(applied, path), getPath(existing, path))) continue;
    for (const owner of others) {
      for (const [k, owned] of owner.fields) {
        if (related(owned, path)) conflicts.push({ owner, key: k, path: owned });
      }
    }
  }
  if (conflicts.length > 0 && !force) {
    throw applyConflict(
      type,
      applied.metadata.name,
      conflicts.map((c) => ({ manager: c.owner.entry.manager, field: dotted(c.path) })),
      type.apiVersion,
    );
  }
  for (const c of conflicts) c.owner.fields.delete(c.key);

  for (const [k, path] of self.fields) {
    if (appliedFields.has(k)) continue;
    const stillOwned = others.some((o) => [...o.fields.values()].some((p) => related(p, path))) ||
      [...appliedFields.values()].some((p) => related(p, path));
    if (!stillOwned) deletePath(result, path);
  }
  const body = clone(applied) as Record<string, unknown>;
  delete body.status;
  const meta = body.metadata as Record<string, unknown>;
  for (const k of SERVER_META) delete meta[k];
  deepMerge(result as Record<string, unknown>, body);
  self.fields = appliedFields;
  writeOwners(result, list);
  return result;
}

/**
 * Records a non-apply write (create, replace, merge/JSON/strategic patch) in managedFields:
 * `manager` takes the fields whose value changed; removed fields lose every owner.
 *
 * @param type The resource type.
 * @param before The stored object before the write (`undefined` on create).
 * @param after The object to be stored, modified in place.
 * @param manager The field manager of the write.
 */
export function recordUpdate(
  type: ResourceType,
  before: KubeObject | undefined,
  after: KubeObject,
  manager: string,
): void {
  const list = owners(before);
  const beforeFields = before === undefined ? new Map<string, Path>() : ownableFields(before, type);
  const afterFields = ownableFields(after, type);
  const changed: Path[] = [];
  for (const path of afterFields.values()) {
    if (!jsonEqual(getPath(after, path), getPath(before, path))) changed.push(path);
  }
  const removed = [...beforeFields.entries()].filter(([k]) => !afterFields.has(k));
  if (changed.length === 0 && removed.length === 0) {
    writeOwners(after, list);
    return;
  }
  const self = ownerFor(list, manager, "Update", type.apiVersion);
  for (const owner of list) {
    for (const [k, owned] of owner.fields) {
      const gone = !afterFields.has(k) ||
        (owner !== self && changed.some((p) => related(p, owned)));
      if (gone) owner.fields.delete(k);
    }
  }
  for (const path of changed) self.fields.set(key(path), path);
  writeOwners(after, list);
}
