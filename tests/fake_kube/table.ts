/**
 * Server-side printing: the meta.k8s.io/v1 `Table` that kubectl asks for
 * (`Accept: application/json;as=Table;v=v1;g=meta.k8s.io`) when it prints human-readable
 * output, with the columns the real API server uses for the served types.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";
import {
  ENDPOINT_SLICES,
  LEASES,
  NAMESPACES,
  NETWORK_POLICIES,
  type ResourceType,
  SECRETS,
  SERVICES,
} from "./resources.ts";

/**
 * Whether an `Accept` header asks for a `Table`.
 *
 * @param accept The `Accept` header.
 * @returns `true` for `as=Table` with `g=meta.k8s.io`.
 */
export function wantsTable(accept: string | null): boolean {
  return (accept ?? "").split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("as=Table") && params.includes("g=meta.k8s.io");
  });
}

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell(obj: KubeObject): string;
}

function age(obj: KubeObject): string {
  const created = Date.parse(obj.metadata.creationTimestamp ?? "");
  if (Number.isNaN(created)) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 60 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 60 * 60) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function spec(obj: KubeObject): Record<string, unknown> {
  return (obj.spec ?? {}) as Record<string, unknown>;
}

function labelsString(labels: unknown): string {
  const entries = Object.entries((labels ?? {}) as Record<string, string>);
  return entries.length === 0 ? "<none>" : entries.map(([k, v]) => `${k}=${v}`).join(",");
}

const NAME: Column = {
  name: "Name",
  type: "string",
  format: "name",
  description: "Name must be unique within a namespace.",
  priority: 0,
  cell: (o) => o.metadata.name,
};

const AGE: Column = {
  name: "Age",
  type: "string",
  format: "",
  description: "CreationTimestamp of the object.",
  priority: 0,
  cell: age,
};

function column(name: string, cell: (o: KubeObject) => string, priority = 0): Column {
  return { name, type: "string", format: "", description: name, priority, cell };
}

function servicePorts(o: KubeObject): string {
  const ports = (spec(o).ports ?? []) as Record<string, unknown>[];
  if (ports.length === 0) return "<none>";
  return ports.map((p) =>
    `${p.port}${p.nodePort === undefined ? "" : `:${p.nodePort}`}/${p.protocol ?? "TCP"}`
  ).join(",");
}

function externalIp(o: KubeObject): string {
  const s = spec(o);
  if (s.type === "ExternalName") return String(s.externalName ?? "<none>");
  const ingress =
    ((o.status as { loadBalancer?: { ingress?: { ip?: string; hostname?: string }[] } })
      ?.loadBalancer?.ingress ?? []).map((i) => i.ip ?? i.hostname ?? "");
  const ips = [...((s.externalIPs ?? []) as string[]), ...ingress].filter((x) => x !== "");
  if (ips.length > 0) return ips.join(",");
  return s.type === "LoadBalancer" ? "<pending>" : "<none>";
}

/** kubectl's list of at most three values, then `+ N more...`; `<unset>` when empty. */
function atMostThree(values: string[]): string {
  if (values.length === 0) return "<unset>";
  const shown = values.slice(0, 3).join(",");
  return values.length > 3 ? `${shown} + ${values.length - 3} more...` : shown;
}

function slicePorts(o: KubeObject): string {
  const ports = (o.ports ?? []) as { port?: number; name?: string }[];
  return atMostThree(ports.map((p) => p.port !== undefined ? String(p.port) : p.name || "*"));
}

function sliceEndpoints(o: KubeObject): string {
  const endpoints = (o.endpoints ?? []) as { addresses?: string[] }[];
  return atMostThree(endpoints.flatMap((e) => e.addresses ?? []));
}

const COLUMNS = new Map<ResourceType, Column[]>([
  [SERVICES, [
    NAME,
    column("Type", (o) => String(spec(o).type ?? "ClusterIP")),
    column("Cluster-IP", (o) => String(spec(o).clusterIP ?? "<none>")),
    column("External-IP", externalIp),
    column("Port(s)", servicePorts),
    AGE,
    column("Selector", (o) => labelsString(spec(o).selector), 1),
  ]],
  [NAMESPACES, [
    NAME,
    column("Status", (o) => String((o.status as { phase?: string })?.phase ?? "")),
    AGE,
  ]],
  [SECRETS, [
    NAME,
    column("Type", (o) => String(o.type ?? "")),
    { ...column("Data", (o) => String(Object.keys(o.data ?? {}).length)), type: "string" },
    AGE,
  ]],
  [NETWORK_POLICIES, [
    NAME,
    column("Pod-Selector", (o) => {
      const sel = (spec(o).podSelector ?? {}) as { matchLabels?: Record<string, string> };
      const s = labelsString(sel.matchLabels);
      return s === "<none>" ? "<none>" : s;
    }),
    AGE,
  ]],
  [ENDPOINT_SLICES, [
    NAME,
    column("AddressType", (o) => String(o.addressType ?? "")),
    column("Ports", slicePorts),
    column("Endpoints", sliceEndpoints),
    AGE,
  ]],
  [LEASES, [
    NAME,
    column("Holder", (o) => String((spec(o).holderIdentity as string | undefined) ?? "")),
    AGE,
  ]],
]);

/**
 * Renders objects as a `Table`.
 *
 * @param type The resource type (picks the columns).
 * @param objects The rows.
 * @param metadata The list metadata (resourceVersion, continue), if any.
 * @param includeObject The `includeObject` parameter: `None`, `Metadata` (default), `Object`.
 * @param withColumns Whether to include column definitions.
 * @returns The Table object.
 */
export function toTable(
  type: ResourceType,
  objects: KubeObject[],
  metadata: Record<string, unknown> | undefined,
  includeObject: string | null,
  withColumns = true,
): Record<string, unknown> {
  const columns = COLUMNS.get(type) ?? [NAME, AGE];
  const rows = objects.map((o) => {
    const row: Record<string, unknown> = { cells: columns.map((c) => c.cell(o)) };
    if (includeObject === "Object") {
      row.object = o;
    } else if (includeObject !== "None") {
      row.object = {
        kind: "PartialObjectMetadata",
        apiVersion: "meta.k8s.io/v1",
        metadata: o.metadata,
      };
    }
    return row;
  });
  const table: Record<string, unknown> = {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: metadata ?? {},
  };
  if (withColumns) {
    table.columnDefinitions = columns.map(({ name, type, format, description, priority }) => ({
      name,
      type,
      format,
      description,
      priority,
    }));
  }
  table.rows = rows;
  return table;
}
