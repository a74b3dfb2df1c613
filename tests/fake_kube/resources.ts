/**
 * The resource types the fake API server serves: their names, scope, discovery data and the
 * defaults the real API server fills in on write.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";
import { badRequest, invalid } from "./status.ts";

/** Static description of one served resource type. */
export interface ResourceType {
  /** API group, `""` for core. */
  group: string;
  /** API version, e.g. `v1`. */
  version: string;
  /** `apiVersion` field value: `v1` or `group/version`. */
  apiVersion: string;
  /** Kind, e.g. `Service`. */
  kind: string;
  /** List kind, e.g. `ServiceList`. */
  listKind: string;
  /** Plural resource name used in paths, e.g. `services`. */
  plural: string;
  /** Singular resource name, e.g. `service`. */
  singular: string;
  /** Whether objects live in a namespace. */
  namespaced: boolean;
  /** kubectl short names, e.g. `svc`. */
  shortNames: string[];
  /** kubectl categories, e.g. `all`. */
  categories: string[];
  /** Whether the type has a `status` subresource (status is then ignored on main writes). */
  hasStatus: boolean;
  /** False for types whose objects carry no `metadata.generation` (Secrets); default true. */
  generation?: boolean;
  /**
   * Fills in server-side defaults on a new or replaced object; throws a `KubeStatusError` for
   * invalid input.
   *
   * @param obj The object to default, modified in place.
   * @param previous The stored object it replaces, if any.
   * @param allocate Allocates an opaque cluster IP string (never connected to).
   */
  applyDefaults(obj: KubeObject, previous: KubeObject | undefined, allocate: () => string): void;
}

/** Verbs every served resource supports (as discovery lists them). */
export const RESOURCE_VERBS: readonly string[] = [
  "create",
  "delete",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? v as Record<string, unknown>
    : undefined;
}

function defaultService(
  obj: KubeObject,
  previous: KubeObject | undefined,
  allocate: () => string,
): void {
  const ref = { group: "", plural: "services", kind: "Service" };
  const name = obj.metadata.name;
  const spec = record(obj.spec) ?? {};
  obj.spec = spec;
  spec.type ??= "ClusterIP";
  const prevSpec = record(previous?.spec);
  const prevIP = prevSpec?.clusterIP;
  if (spec.clusterIP === undefined || spec.clusterIP === "") {
    if (typeof prevIP === "string") spec.clusterIP = prevIP;
    else if (spec.type !== "ExternalName") spec.clusterIP = allocate();
  } else if (typeof prevIP === "string" && spec.clusterIP !== prevIP) {
    throw invalid(ref, name, "spec.clusterIPs[0]", "field is immutable");
  }
  if (typeof spec.clusterIP === "string") {
    spec.clusterIPs = [spec.clusterIP];
    if (spec.clusterIP !== "None") {
      spec.ipFamilies ??= ["IPv4"];
      spec.ipFamilyPolicy ??= "SingleStack";
    }
  }
  spec.sessionAffinity ??= "None";
  if (spec.type !== "ExternalName") spec.internalTrafficPolicy ??= "Cluster";
  if (spec.ports !== undefined && !Array.isArray(spec.ports)) {
    throw invalid(ref, name, "spec.ports", "must be a list");
  }
  for (const [i, raw] of ((spec.ports as unknown[] | undefined) ?? []).entries()) {
    const port = record(raw);
    if (port === undefined || typeof port.port !== "number") {
      throw invalid(ref, name, `spec.ports[${i}].port`, "must be a number");
    }
    port.protocol ??= "TCP";
    port.targetPort ??= port.port;
  }
  obj.status = record(previous?.status) ?? { loadBalancer: {} };
}

function defaultNetworkPolicy(obj: KubeObject): void {
  const spec = record(obj.spec) ?? {};
  obj.spec = spec;
  spec.podSelector ??= {};
  spec.policyTypes ??= spec.egress === undefined ? ["Ingress"] : ["Ingress", "Egress"];
}

function defaultNamespace(obj: KubeObject, previous: KubeObject | undefined): void {
  obj.metadata.labels = {
    ...(obj.metadata.labels ?? {}),
    "kubernetes.io/metadata.name": obj.metadata.name,
  };
  obj.spec = record(previous?.spec) ?? { finalizers: ["kubernetes"] };
  obj.status = record(previous?.status) ?? { phase: "Active" };
}

const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Secrets as the API server stores them: `data` holds base64 text (the real server decodes it
 * into bytes, so malformed base64 is a 400 at decode time), `stringData` is a write-only
 * convenience folded into `data` (winning over the same key there) and never stored, `type`
 * defaults to `Opaque` and cannot change.
 */
function defaultSecret(obj: KubeObject, previous: KubeObject | undefined): void {
  const ref = { group: "", plural: "secrets", kind: "Secret" };
  const name = obj.metadata.name;
  obj.type ??= previous?.type ?? "Opaque";
  if (previous !== undefined && obj.type !== previous.type) {
    throw invalid(ref, name, "type", `"${obj.type}": field is immutable`);
  }
  const data: Record<string, string> = {};
  for (const [field, entries] of [["data", obj.data], ["stringData", obj.stringData]] as const) {
    if (entries === undefined || entries === null) continue;
    const map = record(entries);
    if (map === undefined) {
      throw badRequest(
        `Secret in version "v1" cannot be handled as a Secret: ${field} must be an object`,
      );
    }
    for (const [key, value] of Object.entries(map)) {
      if (!SECRET_KEY.test(key)) {
        throw invalid(
          ref,
          name,
          `${field}[${key}]`,
          `"${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`,
        );
      }
      if (typeof value !== "string") {
        throw badRequest(
          `Secret in version "v1" cannot be handled as a Secret: ${field}[${key}] must be a string`,
        );
      }
      if (field === "data" && !BASE64.test(value)) {
        throw badRequest(
          `Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 0`,
        );
      }
      data[key] = field === "data" ? value : new TextEncoder().encode(value).toBase64();
    }
  }
  delete obj.stringData;
  if (Object.keys(data).length > 0) obj.data = data;
  else delete obj.data;
}

/** Core v1 Services. */
export const SERVICES: ResourceType = {
  group: "",
  version: "v1",
  apiVersion: "v1",
  kind: "Service",
  listKind: "ServiceList",
  plural: "services",
  singular: "service",
  namespaced: true,
  shortNames: ["svc"],
  categories: ["all"],
  hasStatus: true,
  applyDefaults: defaultService,
};

/** Core v1 Namespaces. */
export const NAMESPACES: ResourceType = {
  group: "",
  version: "v1",
  apiVersion: "v1",
  kind: "Namespace",
  listKind: "NamespaceList",
  plural: "namespaces",
  singular: "namespace",
  namespaced: false,
  shortNames: ["ns"],
  categories: [],
  hasStatus: true,
  applyDefaults: defaultNamespace,
};

/** networking.k8s.io/v1 NetworkPolicies. */
export const NETWORK_POLICIES: ResourceType = {
  group: "networking.k8s.io",
  version: "v1",
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
  listKind: "NetworkPolicyList",
  plural: "networkpolicies",
  singular: "networkpolicy",
  namespaced: true,
  shortNames: ["netpol"],
  categories: [],
  hasStatus: false,
  applyDefaults: defaultNetworkPolicy,
};

/** Core v1 Secrets. */
export const SECRETS: ResourceType = {
  group: "",
  version: "v1",
  apiVersion: "v1",
  kind: "Secret",
  listKind: "SecretList",
  plural: "secrets",
  singular: "secret",
  namespaced: true,
  shortNames: [],
  categories: [],
  hasStatus: false,
  generation: false,
  applyDefaults: defaultSecret,
};

const IP_V4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * EndpointSlices as the API server validates and defaults them: `addressType` is required and
 * immutable, every endpoint has one to 100 addresses of that type, and ports default their
 * `name` to `""` and `protocol` to `TCP`. No `spec`: the fields sit at the top level.
 */
function defaultEndpointSlice(obj: KubeObject, previous: KubeObject | undefined): void {
  const ref = { group: "discovery.k8s.io", plural: "endpointslices", kind: "EndpointSlice" };
  const name = obj.metadata.name;
  const addressType = obj.addressType;
  if (!["IPv4", "IPv6", "FQDN"].includes(addressType as string)) {
    throw invalid(ref, name, "addressType", `"${addressType ?? ""}": must be IPv4, IPv6 or FQDN`);
  }
  if (previous !== undefined && previous.addressType !== addressType) {
    throw invalid(ref, name, "addressType", `"${addressType}": field is immutable`);
  }
  if (obj.endpoints === undefined || obj.endpoints === null) obj.endpoints = [];
  if (!Array.isArray(obj.endpoints)) throw invalid(ref, name, "endpoints", "must be a list");
  for (const [i, raw] of (obj.endpoints as unknown[]).entries()) {
    const addresses = record(raw)?.addresses;
    if (!Array.isArray(addresses) || addresses.length < 1 || addresses.length > 100) {
      throw invalid(ref, name, `endpoints[${i}].addresses`, "must have 1 to 100 addresses");
    }
    for (const [j, address] of addresses.entries()) {
      if (addressType === "IPv4" && !IP_V4.test(String(address))) {
        throw invalid(
          ref,
          name,
          `endpoints[${i}].addresses[${j}]`,
          `"${address}": must be a valid IPv4 address`,
        );
      }
    }
  }
  if (obj.ports !== undefined && !Array.isArray(obj.ports)) {
    throw invalid(ref, name, "ports", "must be a list");
  }
  for (const [i, raw] of ((obj.ports as unknown[] | undefined) ?? []).entries()) {
    const port = record(raw);
    if (port === undefined) throw invalid(ref, name, `ports[${i}]`, "must be an object");
    if (port.port !== undefined && (!Number.isInteger(port.port) || (port.port as number) < 1)) {
      throw invalid(ref, name, `ports[${i}].port`, `${port.port}: must be between 1 and 65535`);
    }
    port.name ??= "";
    port.protocol ??= "TCP";
  }
}

/** Leases: `spec` is required as an object; `leaseDurationSeconds` must be positive. */
function defaultLease(obj: KubeObject): void {
  const ref = { group: "coordination.k8s.io", plural: "leases", kind: "Lease" };
  const spec = record(obj.spec) ?? {};
  obj.spec = spec;
  const duration = spec.leaseDurationSeconds;
  if (duration !== undefined && (!Number.isInteger(duration) || (duration as number) <= 0)) {
    throw invalid(
      ref,
      obj.metadata.name,
      "spec.leaseDurationSeconds",
      `${duration}: must be greater than 0`,
    );
  }
}

/** discovery.k8s.io/v1 EndpointSlices. */
export const ENDPOINT_SLICES: ResourceType = {
  group: "discovery.k8s.io",
  version: "v1",
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
  listKind: "EndpointSliceList",
  plural: "endpointslices",
  singular: "endpointslice",
  namespaced: true,
  shortNames: [],
  categories: [],
  hasStatus: false,
  applyDefaults: defaultEndpointSlice,
};

/** coordination.k8s.io/v1 Leases (no `metadata.generation`, like the real server's). */
export const LEASES: ResourceType = {
  group: "coordination.k8s.io",
  version: "v1",
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
  listKind: "LeaseList",
  plural: "leases",
  singular: "lease",
  namespaced: true,
  shortNames: [],
  categories: [],
  hasStatus: false,
  generation: false,
  applyDefaults: defaultLease,
};

/** Every served resource type. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  SERVICES,
  NAMESPACES,
  NETWORK_POLICIES,
  SECRETS,
  ENDPOINT_SLICES,
  LEASES,
];

/** What {@linkcode ResourceKind} names: a kind, or a plural resource name. */
export type ResourceKind =
  | "Service"
  | "Namespace"
  | "NetworkPolicy"
  | "Secret"
  | "EndpointSlice"
  | "Lease"
  | "services"
  | "namespaces"
  | "networkpolicies"
  | "secrets"
  | "endpointslices"
  | "leases";

/**
 * Looks up a served resource type by kind (`Service`) or plural (`services`).
 *
 * @param kind Kind or plural name.
 * @returns The resource type.
 * @throws {RangeError} If the fake server does not serve it.
 */
export function resourceType(kind: ResourceKind | string): ResourceType {
  const found = RESOURCE_TYPES.find((t) => t.kind === kind || t.plural === kind);
  if (found === undefined) throw new RangeError(`fake kube does not serve "${kind}"`);
  return found;
}

/**
 * Finds the resource type served at `/api/v1` (group `""`) or `/apis/{group}/{version}`.
 *
 * @param group API group, `""` for core.
 * @param version API version.
 * @param plural Plural resource name.
 * @returns The resource type, or `undefined` when not served.
 */
export function findResourceType(
  group: string,
  version: string,
  plural: string,
): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) =>
    t.group === group && t.version === version && t.plural === plural
  );
}
