/**
 * A pod's volumes as the kubelet makes them (emptyDir, PVC, Secret, ConfigMap,
 * the service account), its /etc/hosts, and the bind mounts of its container.
 *
 * @module
 */

import type { Manifest } from "../chart.ts";
import { ContainerConfigError, type PodFacts, type ServiceAddress } from "./env.ts";
import type { Bind } from "./sandbox.ts";

type Obj = Record<string, unknown>;

/** Where the service account is mounted. */
export const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Inputs of {@linkcode podVolumes}. */
export interface VolumeInputs {
  spec: Obj;
  container: Obj;
  pod: PodFacts;
  /** The pod's directory: emptyDirs, Secret volumes, the service account, /etc/hosts. */
  podDir: string;
  /** Where PVCs live, one directory per claim, kept across pods. */
  pvDir: string;
  fsGroup?: number;
  /** Finds a rendered or user-created object. */
  find(kind: string, namespace: string, name: string): Manifest | undefined;
  /** The service-account token and the cluster's CA, when mounted. */
  serviceAccount: { token: string; ca: string };
  /** The pod's /etc/hosts. */
  hosts: string;
}

/**
 * Creates the pod's volumes as the kubelet does and returns the bind mounts of its container,
 * the service account and /etc/hosts included.
 *
 * @throws {ContainerConfigError} A missing PVC, Secret or ConfigMap, or an unsupported volume.
 */
export async function podVolumes(inputs: VolumeInputs): Promise<Bind[]> {
  const { spec, container, pod, podDir, fsGroup } = inputs;
  const sources = new Map<string, string>();
  // The kubelet gives emptyDir and block-backed volumes to the fsGroup (setgid, group rwx);
  // without one, an emptyDir is world-writable.
  const own = async (path: string) => {
    if (fsGroup === undefined) return await Deno.chmod(path, 0o777);
    await Deno.chown(path, 0, fsGroup);
    await Deno.chmod(path, 0o2775);
  };
  for (const volume of (spec.volumes ?? []) as Obj[]) {
    const name = String(volume.name);
    if (volume.emptyDir) {
      const path = `${podDir}/volumes/${name}`;
      await Deno.mkdir(path, { recursive: true });
      await own(path);
      sources.set(name, path);
    } else if (volume.persistentVolumeClaim) {
      const claim = String((volume.persistentVolumeClaim as Obj).claimName);
      if (!inputs.find("PersistentVolumeClaim", pod.namespace, claim)) {
        throw new ContainerConfigError(
          `persistentvolumeclaim "${claim}" not found (pod Pending)`,
        );
      }
      // One directory per claim, kept across pods: what a bound volume is.
      const path = `${inputs.pvDir}/${pod.namespace}/${claim}`;
      await Deno.mkdir(path, { recursive: true });
      await own(path);
      sources.set(name, path);
    } else if (volume.secret || volume.configMap) {
      const ref = (volume.secret ?? volume.configMap) as Obj;
      const kind = volume.secret ? "Secret" : "ConfigMap";
      const refName = String(ref.secretName ?? ref.name);
      const object = inputs.find(kind, pod.namespace, refName);
      if (!object) throw new ContainerConfigError(`${kind.toLowerCase()} "${refName}" not found`);
      const path = `${podDir}/volumes/${name}`;
      await Deno.mkdir(path, { recursive: true });
      for (const [key, value] of Object.entries((object.data ?? {}) as Record<string, string>)) {
        const bytes = kind === "Secret"
          ? Uint8Array.from(atob(value), (c) => c.charCodeAt(0))
          : new TextEncoder().encode(value);
        await Deno.writeFile(`${path}/${key}`, bytes, { mode: Number(ref.defaultMode ?? 0o644) });
        if (fsGroup !== undefined) await Deno.chown(`${path}/${key}`, 0, fsGroup);
      }
      sources.set(name, path);
    } else {
      throw new ContainerConfigError(`volume ${name}: only emptyDir, PVC, Secret and ConfigMap`);
    }
  }
  const binds: Bind[] = [];
  for (const mount of (container.volumeMounts ?? []) as Obj[]) {
    const source = sources.get(String(mount.name));
    if (!source) throw new ContainerConfigError(`volumeMount ${mount.name}: no such volume`);
    binds.push({ source, target: String(mount.mountPath), readOnly: mount.readOnly === true });
  }
  if (spec.automountServiceAccountToken !== false) {
    const path = `${podDir}/serviceaccount`;
    await Deno.mkdir(path);
    await Deno.writeTextFile(`${path}/token`, inputs.serviceAccount.token);
    await Deno.writeTextFile(`${path}/ca.crt`, inputs.serviceAccount.ca);
    await Deno.writeTextFile(`${path}/namespace`, pod.namespace);
    for (const file of ["token", "ca.crt", "namespace"]) {
      await Deno.chmod(`${path}/${file}`, 0o644);
    }
    binds.push({ source: path, target: SA_DIR, readOnly: true });
  }
  const hosts = `${podDir}/hosts`;
  await Deno.writeTextFile(hosts, inputs.hosts);
  await Deno.chmod(hosts, 0o644);
  binds.push({ source: hosts, target: "/etc/hosts", readOnly: true });
  return binds;
}

/** The kubelet's /etc/hosts plus cluster DNS: every Service's names, short ones for its namespace. */
export function hostsFile(pod: PodFacts, services: readonly ServiceAddress[]): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    `${pod.podIP}\t${pod.name}`,
  ];
  for (const service of services) {
    const fqdn = `${service.name}.${service.namespace}.svc`;
    const names = [`${fqdn}.cluster.local`, fqdn, `${service.name}.${service.namespace}`];
    if (service.namespace === pod.namespace) names.push(service.name);
    lines.push(`${service.clusterIP}\t${names.join(" ")}`);
  }
  return `${lines.join("\n")}\n`;
}
