/**
 * Which apps an annotated Service turns into: an edge Service into a
 * client's apps, a central one (with `peers`) into the server's offers.
 *
 * | annotation                                 | meaning                                              |
 * | ------------------------------------------ | ---------------------------------------------------- |
 * | `wormhole.glothriel.github.com/exposed`    | `1`, `yes`, `true` (any case): expose                |
 * | `wormhole.glothriel.github.com/name`       | app name; default `<namespace>-<service>`            |
 * | `wormhole.glothriel.github.com/ports`      | port names or numbers, comma-separated; default all  |
 * | `wormhole.glothriel.github.com/peers`      | central only: `*` or peer names, comma-separated     |
 *
 * @module
 */

import { nameProblem, type OfferSpec } from "../protocol/mod.ts";
import {
  ANNOTATION_EXPOSED,
  ANNOTATION_NAME,
  ANNOTATION_PEERS,
  ANNOTATION_PORTS,
  type Service,
} from "./objects.ts";
import type { ServicePort } from "./objects.ts";
import { sanitizeAppName } from "./names.ts";

/** How the client reaches an exposed Service. */
export type UpstreamMode = "dns" | "cluster-ip";

/** Settings of {@linkcode appsFromService}. */
export interface AppMappingOptions {
  /** `dns`: `<svc>.<ns>.svc.<clusterDomain>`; `cluster-ip`: the Service's clusterIP. */
  upstream: UpstreamMode;
  /** Cluster DNS domain (default `cluster.local`). */
  clusterDomain?: string;
  /**
   * Central Services (the server's offers): the `peers` annotation is
   * required and becomes each app's `peers` (`*`: every approved peer).
   */
  offers?: boolean;
}

/** The apps of one Service, and what was wrong with it (for the log). */
export interface ServiceApps {
  /** Apps to offer, one per selected port (with `peers` for central Services). */
  apps: OfferSpec[];
  /** Human-readable problems: ports or names that were skipped. */
  problems: string[];
}

const TRUTHY = new Set(["1", "yes", "true"]);

/** True when the `exposed` annotation's value asks for exposure (`1`, `yes`, `true`, any case). */
export function isExposedValue(value: string | undefined): boolean {
  return value !== undefined && TRUTHY.has(value.trim().toLowerCase());
}

function isTcp(port: ServicePort): boolean {
  return (port.protocol ?? "TCP").toUpperCase() === "TCP";
}

function selectPorts(ports: ServicePort[], annotation: string | undefined, problems: string[]) {
  const wanted = (annotation ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (wanted.length === 0) return ports.filter(isTcp);
  const selected: ServicePort[] = [];
  for (const entry of wanted) {
    const port = ports.find((p) => p.name === entry) ??
      (/^\d+$/.test(entry) ? ports.find((p) => p.port === Number(entry)) : undefined);
    if (!port) {
      problems.push(`port "${entry}" in ${ANNOTATION_PORTS} is not a port of the Service`);
    } else if (!isTcp(port)) {
      problems.push(`port "${entry}" is ${port.protocol}: only TCP ports are exposed`);
    } else if (!selected.includes(port)) {
      selected.push(port);
    }
  }
  return selected;
}

/**
 * The apps an edge Service offers: none unless annotated `exposed`; else one
 * per selected TCP port, named `<name>` (one port) or `<name>-<port name or
 * number>` (several), sanitized to a valid app name. Never throws: what
 * cannot be used is reported in `problems`.
 */
export function appsFromService(service: Service, options: AppMappingOptions): ServiceApps {
  const annotations = service.metadata.annotations ?? {};
  if (!isExposedValue(annotations[ANNOTATION_EXPOSED])) return { apps: [], problems: [] };
  const problems: string[] = [];
  let peers: readonly string[] | undefined;
  if (options.offers) {
    const parsed = peersOf(annotations[ANNOTATION_PEERS], problems);
    if (parsed === null) return { apps: [], problems };
    peers = parsed;
  }
  const namespace = service.metadata.namespace ?? "default";
  const svc = service.metadata.name;
  const ports = selectPorts(service.spec?.ports ?? [], annotations[ANNOTATION_PORTS], problems);
  if (ports.length === 0) {
    problems.push("no TCP port to expose");
    return { apps: [], problems };
  }
  let host: string;
  if (options.upstream === "dns") {
    host = `${svc}.${namespace}.svc.${options.clusterDomain ?? "cluster.local"}`;
  } else {
    const ip = service.spec?.clusterIP;
    if (!ip || ip === "None") {
      problems.push("has no cluster IP (headless?): use --kubernetes-upstream dns for it");
      return { apps: [], problems };
    }
    host = ip;
  }
  const base = annotations[ANNOTATION_NAME]?.trim() || `${namespace}-${svc}`;
  const apps: OfferSpec[] = [];
  for (const port of ports) {
    const raw = ports.length > 1 ? `${base}-${port.name || port.port}` : base;
    const name = sanitizeAppName(raw);
    if (name === null) {
      problems.push(`app name "${raw}" cannot be made valid`);
      continue;
    }
    apps.push({ name, host, port: port.port, ...(peers ? { peers } : {}) });
  }
  return { apps, problems };
}

/**
 * The peers of a central Service's `peers` annotation: `undefined` for `*`
 * (every approved peer), the names otherwise; `null`, with the problem, when
 * it is missing or names no valid peer.
 */
function peersOf(
  value: string | undefined,
  problems: string[],
): readonly string[] | undefined | null {
  if (value === undefined || value.trim() === "") {
    problems.push(`has no ${ANNOTATION_PEERS} annotation ("*" or peer names): not offered`);
    return null;
  }
  if (value.trim() === "*") return undefined;
  const peers: string[] = [];
  for (const peer of value.split(",").map((s) => s.trim()).filter(Boolean)) {
    const problem = nameProblem(peer);
    if (problem) problems.push(`peer "${peer}" in ${ANNOTATION_PEERS} ${problem}`);
    else if (!peers.includes(peer)) peers.push(peer);
  }
  if (peers.length === 0) {
    problems.push(`${ANNOTATION_PEERS} names no valid peer: not offered`);
    return null;
  }
  return peers;
}
