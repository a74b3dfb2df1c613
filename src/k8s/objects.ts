/**
 * The few shapes of Kubernetes objects wormhole reads and writes, and the
 * annotation and label keys it uses.
 *
 * @module
 */

/** Prefix of every annotation and label key wormhole defines. */
export const KEY_PREFIX = "wormhole.glothriel.github.com";

/** Edge Services: expose this Service when `1`, `yes` or `true` (any case). */
export const ANNOTATION_EXPOSED = `${KEY_PREFIX}/exposed`;
/** Edge Services: the app name (default `<namespace>-<service>`). */
export const ANNOTATION_NAME = `${KEY_PREFIX}/name`;
/** Edge Services: comma-separated port names or numbers to expose (default: all TCP ports). */
export const ANNOTATION_PORTS = `${KEY_PREFIX}/ports`;
/**
 * Central Services: `*` or comma-separated peer names the Service is offered
 * to; without it an `exposed` central Service is not offered.
 */
export const ANNOTATION_PEERS = `${KEY_PREFIX}/peers`;

/** Proxy objects: label (label-safe value) and annotation (full name) of the peer. */
export const KEY_EXPOSED_PEER = `${KEY_PREFIX}/exposed-peer`;
/** Proxy objects: label (label-safe value) and annotation (full name) of the app. */
export const KEY_EXPOSED_APP = `${KEY_PREFIX}/exposed-app`;
/** Pods carrying this label, set to a proxy Service's name, may reach it under `--network-policies`. */
export const LABEL_CONSUMES_APP = `${KEY_PREFIX}/network-policy-consumes-app`;
/** The standard ownership label. */
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
/** Its value on every object wormhole owns. */
export const MANAGER = "wormhole";
/** Field manager of wormhole's server-side applies. */
export const FIELD_MANAGER = "wormhole";

/** Object metadata, as far as wormhole uses it. */
export interface ObjectMeta {
  /** Name, unique per kind and namespace. */
  name: string;
  /** Namespace (absent for cluster-scoped objects). */
  namespace?: string;
  /** Server-assigned identity; a recreated object gets a new one. */
  uid?: string;
  /** Server-assigned version, changed by every write. */
  resourceVersion?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Anything else the server sends. */
  [key: string]: unknown;
}

/** Any Kubernetes object. */
export interface KubeObject {
  /** `v1` or `<group>/<version>`. */
  apiVersion?: string;
  /** Kind, e.g. `Service`. */
  kind?: string;
  /** Metadata. */
  metadata: ObjectMeta;
  /** The desired state. */
  spec?: unknown;
  /** Anything else (status, …). */
  [key: string]: unknown;
}

/** One port of a Service. */
export interface ServicePort {
  /** Port name (needed when there are several). */
  name?: string;
  /** The Service's port. */
  port: number;
  /** `TCP` (the default), `UDP` or `SCTP`. */
  protocol?: string;
  /** The pods' port (number or name). */
  targetPort?: number | string;
}

/** A core/v1 Service, as far as wormhole uses it. */
export interface Service extends KubeObject {
  /** The parts of the spec wormhole reads. */
  spec?: {
    type?: string;
    clusterIP?: string;
    ports?: ServicePort[];
    selector?: Record<string, string>;
    [key: string]: unknown;
  };
}

/** A list answer. */
export interface KubeList<T extends KubeObject = KubeObject> {
  /** The list's resourceVersion (to watch from) and continue token (next page). */
  metadata?: { resourceVersion?: string; continue?: string };
  /** The objects. */
  items: T[];
}

/** The kinds the server writes per proxy Service. */
export type ProxyKind = "Service" | "NetworkPolicy" | "EndpointSlice";

/** API path segments of a resource type. */
export interface ResourceType {
  /** `/api/v1` or `/apis/<group>/<version>`. */
  base: string;
  /** Plural name in paths. */
  plural: string;
  /** `apiVersion` of its objects. */
  apiVersion: string;
  /** Kind of its objects. */
  kind: string;
}

/** core/v1 Services. */
export const SERVICES: ResourceType = {
  base: "/api/v1",
  plural: "services",
  apiVersion: "v1",
  kind: "Service",
};

/** core/v1 Secrets. */
export const SECRETS: ResourceType = {
  base: "/api/v1",
  plural: "secrets",
  apiVersion: "v1",
  kind: "Secret",
};

/** A core/v1 Secret, as far as wormhole uses it. */
export interface Secret extends KubeObject {
  /** `Opaque` for wormhole's. */
  type?: string;
  /** Key → base64 of the value. */
  data?: Record<string, string>;
}

/** networking.k8s.io/v1 NetworkPolicies. */
export const NETWORK_POLICIES: ResourceType = {
  base: "/apis/networking.k8s.io/v1",
  plural: "networkpolicies",
  apiVersion: "networking.k8s.io/v1",
  kind: "NetworkPolicy",
};

/** discovery.k8s.io/v1 EndpointSlices (the proxy Services' endpoints with `--ha`). */
export const ENDPOINT_SLICES: ResourceType = {
  base: "/apis/discovery.k8s.io/v1",
  plural: "endpointslices",
  apiVersion: "discovery.k8s.io/v1",
  kind: "EndpointSlice",
};

/** coordination.k8s.io/v1 Leases (leader election and replica membership with `--ha`). */
export const LEASES: ResourceType = {
  base: "/apis/coordination.k8s.io/v1",
  plural: "leases",
  apiVersion: "coordination.k8s.io/v1",
  kind: "Lease",
};

/** The resource type of a proxy kind. */
export function resourceOf(kind: ProxyKind): ResourceType {
  return kind === "Service"
    ? SERVICES
    : kind === "NetworkPolicy"
    ? NETWORK_POLICIES
    : ENDPOINT_SLICES;
}

/**
 * The path of a collection (`name` absent) or an object, in `namespace` or,
 * for a collection, across all namespaces.
 */
export function resourcePath(type: ResourceType, namespace?: string, name?: string): string {
  const ns = namespace === undefined ? "" : `/namespaces/${encodeURIComponent(namespace)}`;
  const tail = name === undefined ? "" : `/${encodeURIComponent(name)}`;
  return `${type.base}${ns}/${type.plural}${tail}`;
}

/** `namespace/name`, for maps and logs. */
export function objectKey(object: KubeObject): string {
  return `${object.metadata.namespace ?? ""}/${object.metadata.name}`;
}

/** True when wormhole owns the object (its managed-by label says so). */
export function isOwned(object: KubeObject): boolean {
  return object.metadata.labels?.[LABEL_MANAGED_BY] === MANAGER;
}
