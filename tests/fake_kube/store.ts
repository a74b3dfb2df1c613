/**
 * A versioned object store in the manner of etcd behind the API server: one global,
 * monotonically increasing resourceVersion, a history of changes that watches replay, and
 * compaction that makes older resourceVersions unusable (410 Gone).
 *
 * @module
 */

import { clone, type KubeObject } from "./object.ts";
import type { ResourceType } from "./resources.ts";
import { expired } from "./status.ts";

/** The type of a change, as watch events name it. */
export type ChangeType = "ADDED" | "MODIFIED" | "DELETED";

/** One committed change. */
export interface Change {
  /** What happened. */
  type: ChangeType;
  /** The resourceVersion the change was committed at. */
  revision: number;
  /** The resource type of the object. */
  resource: ResourceType;
  /** The object after the change (for DELETED, its last state stamped with `revision`). */
  object: KubeObject;
  /** The object before the change (`undefined` for ADDED). */
  previous: KubeObject | undefined;
}

/** Receives every change as it is committed. */
export type ChangeListener = (change: Change) => void;

function storeKey(type: ResourceType, namespace: string | undefined, name: string): string {
  return `${type.group}/${type.plural}/${namespace ?? ""}/${name}`;
}

/** The versioned store. All methods hand out and take copies, never shared references. */
export class ObjectStore {
  #revision: number;
  #compacted: number;
  #objects = new Map<string, KubeObject>();
  #types = new Map<string, ResourceType>();
  #history: Change[] = [];
  #listeners = new Set<ChangeListener>();

  /**
   * Creates an empty store.
   *
   * @param initialRevision The resourceVersion before the first write (the first write gets
   *   `initialRevision + 1`).
   */
  constructor(initialRevision = 0) {
    this.#revision = initialRevision;
    this.#compacted = initialRevision;
  }

  /** The current (latest committed) resourceVersion. */
  get revision(): number {
    return this.#revision;
  }

  /** The oldest resourceVersion from which watches and consistent lists can still be served. */
  get compactedRevision(): number {
    return this.#compacted;
  }

  /**
   * Reads one object.
   *
   * @param type Resource type.
   * @param namespace Namespace (`undefined` for cluster-scoped types).
   * @param name Object name.
   * @returns A copy of the object, or `undefined`.
   */
  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject | undefined {
    const found = this.#objects.get(storeKey(type, namespace, name));
    return found === undefined ? undefined : clone(found);
  }

  /**
   * Lists objects of a type, sorted by namespace then name, optionally as they were at an
   * older resourceVersion.
   *
   * @param type Resource type.
   * @param namespace Only this namespace; `undefined` for all.
   * @param revision Reconstruct the state at this resourceVersion; default: current.
   * @returns Copies of the objects.
   * @throws {KubeStatusError} 410 Expired when `revision` is older than the compacted one.
   */
  list(type: ResourceType, namespace?: string, revision?: number): KubeObject[] {
    const state = new Map<string, KubeObject>();
    for (const [k, obj] of this.#objects) {
      if (this.#types.get(k) === type) state.set(k, obj);
    }
    if (revision !== undefined && revision < this.#revision) {
      if (revision < this.#compacted) {
        throw expired("The resourceVersion for the provided list is too old.");
      }
      for (let i = this.#history.length - 1; i >= 0; i--) {
        const change = this.#history[i];
        if (change.revision <= revision) break;
        if (change.resource !== type) continue;
        const { namespace: ns, name } = change.object.metadata;
        const k = storeKey(type, ns, name);
        if (change.previous === undefined) state.delete(k);
        else state.set(k, change.previous);
      }
    }
    return [...state.values()]
      .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
      .sort((a, b) =>
        (a.metadata.namespace ?? "").localeCompare(b.metadata.namespace ?? "") ||
        a.metadata.name.localeCompare(b.metadata.name)
      )
      .map(clone);
  }

  /**
   * Commits a write or a delete at the next resourceVersion, records it in the history and
   * tells the listeners.
   *
   * @param type Resource type.
   * @param namespace Namespace (`undefined` for cluster-scoped types).
   * @param name Object name.
   * @param object The new state (its `metadata.resourceVersion` is set here), or `null` to
   *   delete.
   * @returns The committed change.
   * @throws {RangeError} When deleting an object that is not stored.
   */
  commit(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    object: KubeObject | null,
  ): Change {
    const k = storeKey(type, namespace, name);
    const previous = this.#objects.get(k);
    if (object === null && previous === undefined) {
      throw new RangeError(`cannot delete ${k}: not stored`);
    }
    const revision = ++this.#revision;
    const stored = clone(object ?? previous!);
    stored.metadata.resourceVersion = String(revision);
    if (object === null) {
      this.#objects.delete(k);
      this.#types.delete(k);
    } else {
      this.#objects.set(k, stored);
      this.#types.set(k, type);
    }
    const change: Change = {
      type: object === null ? "DELETED" : previous === undefined ? "ADDED" : "MODIFIED",
      revision,
      resource: type,
      object: stored,
      previous,
    };
    this.#history.push(change);
    for (const listener of [...this.#listeners]) listener(change);
    return { ...change, object: clone(stored), previous: clone(previous) };
  }

  /**
   * The changes committed after `revision`, oldest first.
   *
   * @param revision A resourceVersion.
   * @returns The changes (shared; callers must not modify them).
   * @throws {KubeStatusError} 410 Expired when `revision` is older than the compacted one,
   *   with the message the API server sends on a watch: `too old resource version: X (Y)`.
   */
  changesSince(revision: number): readonly Change[] {
    if (revision < this.#compacted) {
      throw expired(`too old resource version: ${revision} (${this.#compacted})`);
    }
    const first = this.#history.findIndex((c) => c.revision > revision);
    return first === -1 ? [] : this.#history.slice(first);
  }

  /**
   * Drops history up to `revision` (default: the current one), so that watches and
   * consistent lists from an older resourceVersion fail with 410 Gone.
   *
   * @param revision The new compacted revision; clamped to the current revision.
   * @returns The compacted revision.
   */
  compact(revision: number = this.#revision): number {
    const target = Math.min(Math.max(revision, this.#compacted), this.#revision);
    this.#compacted = target;
    this.#history = this.#history.filter((c) => c.revision > target);
    return target;
  }

  /**
   * Registers a listener for future changes.
   *
   * @param listener Called synchronously for each commit.
   * @returns A function that unregisters it.
   */
  subscribe(listener: ChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
