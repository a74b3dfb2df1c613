/**
 * The write and read semantics of the API server on top of the {@linkcode ObjectStore}:
 * server-assigned metadata, defaults, validation, preconditions, field ownership and the
 * failure `Status` of each operation. Unlike the real server, a write into a namespace that
 * does not exist creates the Namespace instead of failing with 404.
 *
 * @module
 */

import { recordUpdate, serverSideApply } from "./field_ownership.ts";
import { clone, isRecord, jsonEqual, type KubeObject, nowRfc3339 } from "./object.ts";
import { jsonPatch, mergePatch, PATCH_TYPES, strategicMergePatch } from "./patch.ts";
import { NAMESPACES, RESOURCE_TYPES, type ResourceType, SERVICES } from "./resources.ts";
import { EVERYTHING, type Selector } from "./selectors.ts";
import type { Change, ObjectStore } from "./store.ts";
import {
  alreadyExists,
  badRequest,
  conflict,
  failureStatus,
  invalid,
  KubeStatusError,
  notFound,
} from "./status.ts";

/** Options common to every write. */
export interface WriteOptions {
  /** The field manager recorded in managedFields. */
  fieldManager: string;
  /** When true (`dryRun=All`), compute and return the result without storing it. */
  dryRun?: boolean;
  /**
   * When true, take `status` from the written object (status subresource writes and direct
   * test access); otherwise status is kept from the stored object, as on the main resource.
   */
  writeStatus?: boolean;
}

/** Options of a PATCH. */
export interface PatchOptions extends WriteOptions {
  /** The `Content-Type` of the patch, one of {@linkcode PATCH_TYPES}. */
  contentType: string;
  /** `force` of a server-side apply. */
  force?: boolean;
}

/** Preconditions of a DELETE (`DeleteOptions.preconditions`). */
export interface DeletePreconditions {
  /** Delete only if the object has this uid. */
  uid?: string;
  /** Delete only if the object has this resourceVersion. */
  resourceVersion?: string;
}

/** The result of a write. */
export interface WriteResult {
  /** The stored object (or, for a dry run, the object that would be stored). */
  object: KubeObject;
  /** Whether the write created the object. */
  created: boolean;
}

/** Filters of a list. */
export interface ListFilter {
  /** Only this namespace; `undefined` for all. */
  namespace?: string;
  /** Label selector. */
  labels?: Selector;
  /** Field selector. */
  fields?: Selector;
  /** List as of this resourceVersion (consistent snapshot); default: current. */
  revision?: number;
}

const DNS_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function withoutTimes(obj: KubeObject): KubeObject {
  const copy = clone(obj);
  delete copy.metadata.resourceVersion;
  for (const entry of copy.metadata.managedFields ?? []) entry.time = "";
  return copy;
}

function specPart(obj: KubeObject | undefined): Record<string, unknown> {
  const rest: Record<string, unknown> = { ...(obj ?? {}) };
  delete rest.metadata;
  delete rest.status;
  return rest;
}

function randomSuffix(): string {
  const alphabet = "bcdfghjklmnpqrstvwxz2456789";
  const bytes = crypto.getRandomValues(new Uint8Array(5));
  return [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
}

/** API-server semantics over an {@linkcode ObjectStore}. */
export class Registry {
  readonly #store: ObjectStore;
  #nextIp = 10;

  /**
   * Creates a registry over `store`.
   *
   * @param store The store to read and write.
   */
  constructor(store: ObjectStore) {
    this.#store = store;
  }

  /** The underlying store. */
  get store(): ObjectStore {
    return this.#store;
  }

  #allocateIp = (): string => {
    const used = new Set(
      this.#store.list(SERVICES).map((s) => (s.spec as { clusterIP?: string }).clusterIP),
    );
    for (;;) {
      const n = this.#nextIp++;
      const ip = `10.96.${(n >> 8) & 255}.${n & 255}`;
      if (!used.has(ip)) return ip;
    }
  };

  /**
   * Reads one object.
   *
   * @param type Resource type.
   * @param namespace Namespace (ignored for cluster-scoped types).
   * @param name Name.
   * @returns A copy of the object.
   * @throws {KubeStatusError} 404 NotFound.
   */
  get(type: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const found = this.#store.get(type, type.namespaced ? namespace : undefined, name);
    if (found === undefined) throw notFound(type, name);
    return found;
  }

  /**
   * Lists objects.
   *
   * @param type Resource type.
   * @param filter Namespace, selectors and revision.
   * @returns Copies of the matching objects, sorted by namespace and name.
   * @throws {KubeStatusError} 410 Expired for a compacted revision.
   */
  list(type: ResourceType, filter: ListFilter = {}): KubeObject[] {
    const labels = filter.labels ?? EVERYTHING;
    const fields = filter.fields ?? EVERYTHING;
    return this.#store
      .list(type, type.namespaced ? filter.namespace : undefined, filter.revision)
      .filter((o) => labels(o) && fields(o));
  }

  #checkIdentity(type: ResourceType, namespace: string | undefined, body: unknown): KubeObject {
    if (!isRecord(body)) throw badRequest("the body of the request must be a JSON object");
    const obj = clone(body) as KubeObject;
    if (obj.apiVersion !== undefined && obj.apiVersion !== type.apiVersion) {
      throw badRequest(
        `the API version in the data (${obj.apiVersion}) does not match the expected API version (${type.apiVersion})`,
      );
    }
    if (obj.kind !== undefined && obj.kind !== type.kind) {
      throw badRequest(
        `the kind in the data (${obj.kind}) does not match the expected kind (${type.kind})`,
      );
    }
    if (!isRecord(obj.metadata)) obj.metadata = { name: "" };
    const meta = obj.metadata;
    if (type.namespaced) {
      if (meta.namespace !== undefined && meta.namespace !== "" && meta.namespace !== namespace) {
        throw badRequest(
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      }
      meta.namespace = namespace;
    } else {
      delete meta.namespace;
    }
    obj.apiVersion = type.apiVersion;
    obj.kind = type.kind;
    return obj;
  }

  #checkName(type: ResourceType, name: unknown): string {
    if (typeof name !== "string" || name === "") {
      throw new KubeStatusError(
        failureStatus(422, "Invalid", `${type.kind} "" is invalid: metadata.name: Required value`),
      );
    }
    const pattern = type === SERVICES ? DNS_LABEL : DNS_SUBDOMAIN;
    if (!pattern.test(name) || name.length > (type === SERVICES ? 63 : 253)) {
      throw invalid(type, name, "metadata.name", `"${name}": must be a DNS name`);
    }
    return name;
  }

  #checkResourceVersion(type: ResourceType, body: KubeObject, existing: KubeObject): void {
    const wanted = body.metadata.resourceVersion;
    if (wanted !== undefined && wanted !== "" && wanted !== existing.metadata.resourceVersion) {
      throw conflict(
        type,
        existing.metadata.name,
        "the object has been modified; please apply your changes to the latest version and try again",
      );
    }
  }

  /** Stamps server metadata and defaults on `next`, then stores it unless it is a no-op. */
  #finish(
    type: ResourceType,
    next: KubeObject,
    existing: KubeObject | undefined,
    options: WriteOptions,
  ): WriteResult {
    const meta = next.metadata;
    const written = options.writeStatus ? clone(next.status) : undefined;
    meta.uid = existing?.metadata.uid ?? crypto.randomUUID();
    meta.creationTimestamp = existing?.metadata.creationTimestamp ?? nowRfc3339();
    if (type.hasStatus && existing !== undefined) next.status = clone(existing.status);
    type.applyDefaults(next, existing, this.#allocateIp);
    if (options.writeStatus) {
      if (written === undefined) delete next.status;
      else next.status = written;
    }
    const generation = existing?.metadata.generation ?? 0;
    if (type.generation === false) {
      delete meta.generation;
    } else {
      meta.generation = existing === undefined || !jsonEqual(specPart(existing), specPart(next))
        ? generation + 1
        : generation;
    }
    if (existing !== undefined && jsonEqual(withoutTimes(existing), withoutTimes(next))) {
      return { object: existing, created: false };
    }
    if (options.dryRun) {
      meta.resourceVersion = existing?.metadata.resourceVersion;
      if (meta.resourceVersion === undefined) delete meta.resourceVersion;
      return { object: next, created: existing === undefined };
    }
    if (type.namespaced && this.#store.get(NAMESPACES, undefined, meta.namespace!) === undefined) {
      this.create(NAMESPACES, undefined, { metadata: { name: meta.namespace } }, {
        fieldManager: options.fieldManager,
      });
    }
    const change = this.#store.commit(
      type,
      type.namespaced ? meta.namespace : undefined,
      meta.name,
      next,
    );
    return { object: change.object, created: existing === undefined };
  }

  /**
   * Creates an object (POST).
   *
   * @param type Resource type.
   * @param namespace Namespace from the path (ignored for cluster-scoped types).
   * @param body The object.
   * @param options Field manager and dry run.
   * @returns The created object.
   * @throws {KubeStatusError} 409 AlreadyExists, 400 BadRequest, 422 Invalid.
   */
  create(
    type: ResourceType,
    namespace: string | undefined,
    body: unknown,
    options: WriteOptions,
  ): WriteResult {
    const obj = this.#checkIdentity(type, namespace, body);
    const meta = obj.metadata;
    if ((meta.name ?? "") === "" && typeof meta.generateName === "string") {
      meta.name = `${meta.generateName}${randomSuffix()}`;
    }
    const name = this.#checkName(type, meta.name);
    if (this.#store.get(type, meta.namespace, name) !== undefined) {
      throw alreadyExists(type, name);
    }
    for (
      const k of ["uid", "resourceVersion", "generation", "creationTimestamp", "managedFields"]
    ) {
      delete meta[k];
    }
    recordUpdate(type, undefined, obj, options.fieldManager);
    return this.#finish(type, obj, undefined, options);
  }

  /**
   * Replaces an object (PUT). A `metadata.resourceVersion` in the body is a precondition.
   *
   * @param type Resource type.
   * @param namespace Namespace from the path.
   * @param name Name from the path.
   * @param body The new object.
   * @param options Field manager and dry run.
   * @returns The stored object.
   * @throws {KubeStatusError} 404 NotFound, 409 Conflict, 400 BadRequest, 422 Invalid.
   */
  replace(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    options: WriteOptions,
  ): WriteResult {
    const obj = this.#checkIdentity(type, namespace, body);
    if (obj.metadata.name !== name) {
      throw badRequest(
        `the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`,
      );
    }
    const existing = this.get(type, namespace, name);
    this.#checkResourceVersion(type, obj, existing);
    obj.metadata.managedFields = existing.metadata.managedFields;
    recordUpdate(type, existing, obj, options.fieldManager);
    return this.#finish(type, obj, existing, options);
  }

  /**
   * Patches an object (PATCH): server-side apply (creates when absent), JSON merge patch,
   * strategic merge patch (approximated) or JSON patch.
   *
   * @param type Resource type.
   * @param namespace Namespace from the path.
   * @param name Name from the path.
   * @param body The parsed patch body.
   * @param options Content type, field manager, force and dry run.
   * @returns The stored object and whether it was created.
   * @throws {KubeStatusError} 404 NotFound (non-apply), 409 Conflict, 400, 415, 422.
   */
  patch(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    options: PatchOptions,
  ): WriteResult {
    const ns = type.namespaced ? namespace : undefined;
    const existing = this.#store.get(type, ns, name);
    if (options.contentType === PATCH_TYPES.apply) {
      const applied = this.#checkIdentity(type, namespace, body);
      if (applied.metadata.name !== name) {
        throw badRequest(
          `the name of the object (${applied.metadata.name}) does not match the name on the URL (${name})`,
        );
      }
      this.#checkName(type, name);
      if (existing !== undefined) this.#checkResourceVersion(type, applied, existing);
      const next = serverSideApply({
        type,
        existing,
        applied,
        manager: options.fieldManager,
        force: options.force ?? false,
      });
      next.metadata.name = name;
      if (type.namespaced) next.metadata.namespace = namespace;
      return this.#finish(type, next, existing, options);
    }
    if (existing === undefined) throw notFound(type, name);
    let patched: unknown;
    switch (options.contentType) {
      case PATCH_TYPES.merge:
        patched = mergePatch(existing, body);
        break;
      case PATCH_TYPES.strategic:
        patched = strategicMergePatch(existing, body);
        break;
      case PATCH_TYPES.json:
        patched = jsonPatch(existing, body);
        break;
      default:
        throw new KubeStatusError(
          failureStatus(
            415,
            "UnsupportedMediaType",
            `the body of the request was in an unknown format - accepted media types include: ${
              Object.values(PATCH_TYPES).join(", ")
            }`,
          ),
        );
    }
    const obj = this.#checkIdentity(type, namespace, patched);
    if (obj.metadata.name !== name) throw badRequest("metadata.name cannot be changed by a patch");
    this.#checkResourceVersion(type, obj, existing);
    obj.metadata.managedFields = existing.metadata.managedFields;
    recordUpdate(type, existing, obj, options.fieldManager);
    return this.#finish(type, obj, existing, options);
  }

  /**
   * Deletes an object (DELETE). Deleting a Namespace also deletes the objects in it.
   *
   * @param type Resource type.
   * @param namespace Namespace from the path.
   * @param name Name from the path.
   * @param preconditions Optional uid/resourceVersion preconditions.
   * @param dryRun When true, return the object without deleting it.
   * @returns The deleted object, stamped with the resourceVersion of the deletion.
   * @throws {KubeStatusError} 404 NotFound, 409 Conflict (failed precondition).
   */
  delete(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    preconditions: DeletePreconditions = {},
    dryRun = false,
  ): KubeObject {
    const existing = this.get(type, namespace, name);
    const { uid, resourceVersion } = preconditions;
    if (uid !== undefined && uid !== existing.metadata.uid) {
      throw conflict(
        type,
        name,
        `Precondition failed: UID in precondition: ${uid}, UID in object meta: ${existing.metadata.uid}`,
      );
    }
    if (resourceVersion !== undefined && resourceVersion !== existing.metadata.resourceVersion) {
      throw conflict(
        type,
        name,
        `Precondition failed: ResourceVersion in precondition: ${resourceVersion}, ResourceVersion in object meta: ${existing.metadata.resourceVersion}`,
      );
    }
    if (dryRun) return existing;
    if (type === NAMESPACES) {
      for (const t of RESOURCE_TYPES.filter((t) => t.namespaced)) {
        for (const o of this.#store.list(t, name)) {
          this.#store.commit(t, name, o.metadata.name, null);
        }
      }
    }
    const change: Change = this.#store.commit(
      type,
      type.namespaced ? namespace : undefined,
      name,
      null,
    );
    return change.object;
  }
}
