/**
 * The EndpointSlice of a selector-less proxy Service (`--ha`): one slice per
 * Service, named like it, with one endpoint — the replica that holds the
 * peer's tunnel — at that replica's listener port. kube-proxy routes the
 * Service's port to it; when the peer reconnects to another replica, that
 * replica rewrites the slice with its own address.
 *
 * @module
 */

import { labelValue } from "./names.ts";
import {
  ENDPOINT_SLICES,
  KEY_PREFIX,
  type KubeObject,
  LABEL_MANAGED_BY,
  MANAGER,
  SERVICES,
} from "./objects.ts";

/** The label that ties a slice to its Service (kube-proxy reads it). */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";
/** The label that keeps Kubernetes' own EndpointSlice controllers away from a slice. */
export const LABEL_SLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
/** Its value on wormhole's slices. */
export const SLICE_MANAGER = `${KEY_PREFIX}/server`;
/** Label (and annotation, unabridged) of the replica that wrote a slice: the one holding the peer. */
export const KEY_REPLICA = `${KEY_PREFIX}/replica`;

/**
 * Annotation on a `--ha` proxy Service: when a replica last took it (the
 * peer's app exposed there). Each take thus changes the Service, and its
 * resourceVersion, which the leader's collection of unheld Services is
 * conditioned on: a take between the leader's read and its delete wins.
 */
export const KEY_TAKEN = `${KEY_PREFIX}/taken`;

/** Who this server replica is, as `--ha` knows it. */
export interface Replica {
  /** Its identity (`--replica-name`, default the pod's name). */
  name: string;
  /** The address other pods reach its app listeners on (`--advertise-address`, default the pod IP). */
  address: string;
}

/** The owner reference that ties a slice to its Service (deleted with it). */
export interface ServiceOwner {
  /** The Service's name. */
  name: string;
  /** The Service's uid. */
  uid: string;
}

/**
 * The slice `replica` writes for a proxy Service.
 *
 * @param service The proxy Service's metadata (labels and annotations are copied).
 * @param owner The Service, for the owner reference.
 * @param replica The replica holding the peer.
 * @param port The replica's listener port for the app.
 * @returns The EndpointSlice to apply.
 */
export function endpointSliceFor(
  service: KubeObject["metadata"],
  owner: ServiceOwner,
  replica: Replica,
  port: number,
): KubeObject {
  return {
    apiVersion: ENDPOINT_SLICES.apiVersion,
    kind: ENDPOINT_SLICES.kind,
    metadata: {
      name: service.name,
      namespace: service.namespace,
      labels: {
        ...service.labels,
        [LABEL_MANAGED_BY]: MANAGER,
        [LABEL_SERVICE_NAME]: service.name,
        [LABEL_SLICE_MANAGED_BY]: SLICE_MANAGER,
        [KEY_REPLICA]: labelValue(replica.name),
      },
      annotations: { ...service.annotations, [KEY_REPLICA]: replica.name },
      ownerReferences: [{
        apiVersion: SERVICES.apiVersion,
        kind: SERVICES.kind,
        name: owner.name,
        uid: owner.uid,
        // Not a controller: Kubernetes' EndpointSlice controller must not think it owns this.
        controller: false,
        blockOwnerDeletion: false,
      }],
    },
    addressType: replica.address.includes(":") ? "IPv6" : "IPv4",
    endpoints: [{
      addresses: [replica.address],
      conditions: { ready: true, serving: true, terminating: false },
    }],
    ports: [{ name: "", protocol: "TCP", port }],
  };
}

/** The replica that wrote a slice (from its annotation); `undefined` when none is named. */
export function sliceHolder(slice: KubeObject): string | undefined {
  return slice.metadata.annotations?.[KEY_REPLICA];
}
