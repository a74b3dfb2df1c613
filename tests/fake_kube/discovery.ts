/**
 * Discovery documents: `/version`, the legacy per-group documents (`/api`, `/apis`,
 * `/api/v1`, `/apis/{group}/{version}`) and aggregated discovery (apidiscovery.k8s.io/v2).
 *
 * @module
 */

import { RESOURCE_TYPES, RESOURCE_VERBS, type ResourceType } from "./resources.ts";

/** The Kubernetes version the fake server reports. */
export const FAKE_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.0" } as const;

/** Content type of an aggregated discovery answer. */
export const AGGREGATED_DISCOVERY_TYPE =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/**
 * Whether an `Accept` header asks for aggregated discovery v2 (kubectl and client-go put it
 * first and fall back to the legacy documents when the answer is plain `application/json`).
 *
 * @param accept The `Accept` header.
 * @returns `true` when v2 aggregated discovery is acceptable.
 */
export function wantsAggregatedDiscovery(accept: string | null): boolean {
  return (accept ?? "").split(",").some((part) => {
    const params = part.split(";").map((p) => p.trim());
    return params.includes("g=apidiscovery.k8s.io") && params.includes("v=v2") &&
      params.includes("as=APIGroupDiscoveryList");
  });
}

/**
 * The `/version` document.
 *
 * @returns version.Info.
 */
export function versionInfo(): Record<string, string> {
  return {
    ...FAKE_VERSION,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2024-12-11T00:00:00Z",
    goVersion: "go1.23.0",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

/**
 * The `/api` document (APIVersions).
 *
 * @param serverAddress `host:port` of the server.
 * @returns APIVersions.
 */
export function coreVersions(serverAddress: string): Record<string, unknown> {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groups(): Map<string, ResourceType[]> {
  const byGroup = new Map<string, ResourceType[]>();
  for (const t of RESOURCE_TYPES) {
    if (t.group === "") continue;
    byGroup.set(t.group, [...(byGroup.get(t.group) ?? []), t]);
  }
  return byGroup;
}

/**
 * The `/apis` document (APIGroupList) listing the non-core groups.
 *
 * @returns APIGroupList.
 */
export function groupList(): Record<string, unknown> {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups()].map(([name, types]) => {
      const versions = [...new Set(types.map((t) => t.version))].map((version) => ({
        groupVersion: `${name}/${version}`,
        version,
      }));
      return { name, versions, preferredVersion: versions[0] };
    }),
  };
}

/**
 * The `/apis/{group}` document (APIGroup), or `undefined` for an unknown group.
 *
 * @param group The group name.
 * @returns APIGroup.
 */
export function apiGroup(group: string): Record<string, unknown> | undefined {
  const found = (groupList().groups as Record<string, unknown>[]).find((g) => g.name === group);
  return found === undefined ? undefined : { kind: "APIGroup", apiVersion: "v1", ...found };
}

function typesOf(group: string, version: string): ResourceType[] {
  return RESOURCE_TYPES.filter((t) => t.group === group && t.version === version);
}

/**
 * The `/api/v1` or `/apis/{group}/{version}` document (APIResourceList), or `undefined` when
 * the group/version is not served.
 *
 * @param group API group, `""` for core.
 * @param version API version.
 * @returns APIResourceList.
 */
export function resourceList(group: string, version: string): Record<string, unknown> | undefined {
  const types = typesOf(group, version);
  if (types.length === 0) return undefined;
  const resources = types.flatMap((t) => {
    const main: Record<string, unknown> = {
      name: t.plural,
      singularName: t.singular,
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: RESOURCE_VERBS,
    };
    if (t.shortNames.length > 0) main.shortNames = t.shortNames;
    if (t.categories.length > 0) main.categories = t.categories;
    if (!t.hasStatus) return [main];
    const status = {
      name: `${t.plural}/status`,
      singularName: "",
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: ["get", "patch", "update"],
    };
    return [main, status];
  });
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group === "" ? version : `${group}/${version}`,
    resources,
  };
}

function discoveryResource(t: ResourceType): Record<string, unknown> {
  const resource: Record<string, unknown> = {
    resource: t.plural,
    responseKind: { group: t.group, version: t.version, kind: t.kind },
    scope: t.namespaced ? "Namespaced" : "Cluster",
    singularResource: t.singular,
    verbs: RESOURCE_VERBS,
  };
  if (t.shortNames.length > 0) resource.shortNames = t.shortNames;
  if (t.categories.length > 0) resource.categories = t.categories;
  if (t.hasStatus) {
    resource.subresources = [{
      subresource: "status",
      responseKind: { group: t.group, version: t.version, kind: t.kind },
      verbs: ["get", "patch", "update"],
    }];
  }
  return resource;
}

/**
 * The aggregated discovery document (APIGroupDiscoveryList, apidiscovery.k8s.io/v2) for `/api`
 * (`core = true`) or `/apis`.
 *
 * @param core Whether to describe the core group (`/api`) or the named groups (`/apis`).
 * @returns APIGroupDiscoveryList.
 */
export function aggregatedDiscovery(core: boolean): Record<string, unknown> {
  const entries: [string, ResourceType[]][] = core
    ? [["", RESOURCE_TYPES.filter((t) => t.group === "")]]
    : [...groups()];
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items: entries.map(([name, types]) => ({
      metadata: { name, creationTimestamp: null },
      versions: [...new Set(types.map((t) => t.version))].map((version) => ({
        version,
        resources: types.filter((t) => t.version === version).map(discoveryResource),
        freshness: "Current",
      })),
    })),
  };
}
