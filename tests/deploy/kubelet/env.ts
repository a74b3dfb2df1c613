/**
 * A container's environment and command line as the kubelet builds them:
 * `envFrom` first, then `env` in order (later wins), `valueFrom` resolved from
 * Secrets, ConfigMaps and the downward API, `$(VAR)` references expanded in
 * env values, command and args, Service links unless disabled, and the
 * `KUBERNETES_SERVICE_*` variables always.
 *
 * A missing Secret, ConfigMap or key that is not `optional` fails as the kubelet
 * fails the container (CreateContainerConfigError).
 *
 * @module
 */

import type { Manifest } from "../chart.ts";

type Obj = Record<string, unknown>;

/** What the downward API and Service links know about the pod. */
export interface PodFacts {
  name: string;
  namespace: string;
  uid: string;
  podIP: string;
  nodeName: string;
  serviceAccountName: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** A Service as the pod's environment sees it. */
export interface ServiceAddress {
  name: string;
  namespace: string;
  clusterIP: string;
  ports: { name?: string; port: number; protocol?: string }[];
}

/** The kubelet's `CreateContainerConfigError`: the container cannot start. */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerConfigError";
  }
}

/**
 * Expands `$(VAR)` with `vars`; `$$` is a literal `$`; unknown references stay
 * as written (Kubernetes' expansion rules).
 */
export function expand(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (all, name?: string) => {
    if (all === "$$") return "$";
    return name !== undefined && Object.hasOwn(vars, name) ? vars[name] : all;
  });
}

function findObject(objects: readonly Manifest[], kind: string, namespace: string, name: string) {
  return objects.find((object) =>
    object.kind === kind && object.metadata.name === name &&
    (object.metadata.namespace ?? "default") === namespace
  );
}

/** The decoded data of a Secret or ConfigMap (`data` is base64 in Secrets). */
function dataOf(object: Manifest): Record<string, string> {
  const out: Record<string, string> = {};
  const data = (object.data ?? {}) as Record<string, string>;
  for (const [key, value] of Object.entries(data)) {
    out[key] = object.kind === "Secret" ? decodeBase64(value) : String(value);
  }
  for (const [key, value] of Object.entries((object.stringData ?? {}) as Record<string, string>)) {
    out[key] = String(value);
  }
  return out;
}

function decodeBase64(text: string): string {
  return new TextDecoder().decode(Uint8Array.from(atob(text), (c) => c.charCodeAt(0)));
}

/** The value of a downward API `fieldRef.fieldPath`. */
export function fieldValue(pod: PodFacts, path: string): string {
  const label = /^metadata\.(labels|annotations)\['([^']+)'\]$/.exec(path);
  if (label) return (label[1] === "labels" ? pod.labels : pod.annotations)[label[2]] ?? "";
  switch (path) {
    case "metadata.name":
      return pod.name;
    case "metadata.namespace":
      return pod.namespace;
    case "metadata.uid":
      return pod.uid;
    case "status.podIP":
    case "status.podIPs":
      return pod.podIP;
    case "status.hostIP":
    case "status.hostIPs":
      return "127.0.0.1";
    case "spec.nodeName":
      return pod.nodeName;
    case "spec.serviceAccountName":
      return pod.serviceAccountName;
  }
  throw new ContainerConfigError(`unsupported fieldPath ${path}`);
}

/** The `<NAME>_SERVICE_HOST`, `<NAME>_PORT`… variables of one Service. */
export function serviceLinkVars(service: ServiceAddress): Record<string, string> {
  const prefix = service.name.toUpperCase().replaceAll("-", "_");
  const vars: Record<string, string> = {};
  const [first] = service.ports;
  if (!first) return vars;
  const protocol = (first.protocol ?? "TCP").toLowerCase();
  vars[`${prefix}_SERVICE_HOST`] = service.clusterIP;
  vars[`${prefix}_SERVICE_PORT`] = String(first.port);
  vars[`${prefix}_PORT`] = `${protocol}://${service.clusterIP}:${first.port}`;
  for (const port of service.ports) {
    const proto = (port.protocol ?? "TCP").toUpperCase();
    if (port.name) {
      vars[`${prefix}_SERVICE_PORT_${port.name.toUpperCase().replaceAll("-", "_")}`] = String(
        port.port,
      );
    }
    const base = `${prefix}_PORT_${port.port}_${proto}`;
    vars[base] = `${proto.toLowerCase()}://${service.clusterIP}:${port.port}`;
    vars[`${base}_PROTO`] = proto.toLowerCase();
    vars[`${base}_PORT`] = String(port.port);
    vars[`${base}_ADDR`] = service.clusterIP;
  }
  return vars;
}

/** Inputs of {@linkcode containerEnv}. */
export interface EnvInputs {
  container: Obj;
  podSpec: Obj;
  pod: PodFacts;
  /** Rendered objects plus those the user created (Secrets, ConfigMaps). */
  objects: readonly Manifest[];
  /** Every Service of the cluster (for links), the `kubernetes` one included. */
  services: readonly ServiceAddress[];
  /** The image's ENV. */
  imageEnv: Readonly<Record<string, string>>;
}

/**
 * The container's environment: image ENV, kubelet defaults, Service links,
 * then `envFrom` and `env`.
 *
 * @throws {ContainerConfigError} As the kubelet fails the container.
 */
export function containerEnv(inputs: EnvInputs): Record<string, string> {
  const { container, podSpec, pod, objects } = inputs;
  const vars: Record<string, string> = {};
  const api = inputs.services.find((s) => s.name === "kubernetes" && s.namespace === "default");
  if (api) {
    const port = api.ports[0].port;
    Object.assign(vars, serviceLinkVars(api), { KUBERNETES_SERVICE_PORT_HTTPS: String(port) });
  }
  if (podSpec.enableServiceLinks !== false) {
    for (const service of inputs.services) {
      if (service.namespace === pod.namespace) Object.assign(vars, serviceLinkVars(service));
    }
  }
  const lookupData = (kind: "Secret" | "ConfigMap", name: string, optional: boolean) => {
    const object = findObject(objects, kind, pod.namespace, name);
    if (!object) {
      if (optional) return undefined;
      throw new ContainerConfigError(`${kind.toLowerCase()} "${name}" not found`);
    }
    return dataOf(object);
  };
  for (const source of (container.envFrom ?? []) as Obj[]) {
    const ref = (source.configMapRef ?? source.secretRef) as Obj;
    const kind = source.configMapRef ? "ConfigMap" : "Secret";
    const data = lookupData(kind, String(ref.name), ref.optional === true) ?? {};
    for (const [key, value] of Object.entries(data)) vars[`${source.prefix ?? ""}${key}`] = value;
  }
  for (const entry of (container.env ?? []) as Obj[]) {
    const name = String(entry.name);
    if (entry.valueFrom === undefined) {
      vars[name] = expand(String(entry.value ?? ""), vars);
      continue;
    }
    const from = entry.valueFrom as Obj;
    if (from.fieldRef) {
      vars[name] = fieldValue(pod, String((from.fieldRef as Obj).fieldPath));
    } else if (from.secretKeyRef || from.configMapKeyRef) {
      const ref = (from.secretKeyRef ?? from.configMapKeyRef) as Obj;
      const kind = from.secretKeyRef ? "Secret" : "ConfigMap";
      const data = lookupData(kind, String(ref.name), ref.optional === true);
      const key = String(ref.key);
      if (data && Object.hasOwn(data, key)) vars[name] = data[key];
      else if (data && ref.optional !== true) {
        throw new ContainerConfigError(
          `couldn't find key ${key} in ${kind} ${pod.namespace}/${ref.name}`,
        );
      }
    } else {
      throw new ContainerConfigError(`unsupported valueFrom ${JSON.stringify(from)}`);
    }
  }
  return {
    ...inputs.imageEnv,
    HOSTNAME: pod.name,
    // The image's /etc/passwd has no entry for uid 1337: the kubelet then sets HOME to /.
    HOME: "/",
    ...vars,
  };
}
