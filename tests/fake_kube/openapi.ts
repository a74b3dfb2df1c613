/**
 * A minimal OpenAPI v3 discovery (`/openapi/v3` and `/openapi/v3/{api|apis/group}/{version}`).
 *
 * kubectl (`apply`, `create`, `replace` with the default `--validate=strict`) reads it only to
 * learn whether the PATCH operation of a kind takes the `fieldValidation` query parameter; if
 * it does, kubectl leaves validation to the server instead of downloading `/openapi/v2` to
 * validate on the client. So each document holds just the PATCH operations of the served
 * kinds with their query parameters, and no schemas.
 *
 * @module
 */

import { FAKE_VERSION } from "./discovery.ts";
import { RESOURCE_TYPES, type ResourceType } from "./resources.ts";

function gvPath(t: ResourceType): string {
  return t.group === "" ? `api/${t.version}` : `apis/${t.group}/${t.version}`;
}

const HASH = "fake0000000000000000000000000000";

/**
 * The `/openapi/v3` index: one entry per served group/version.
 *
 * @returns The index document.
 */
export function openApiIndex(): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of RESOURCE_TYPES) {
    const p = gvPath(t);
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${HASH}` };
  }
  return { paths };
}

const QUERY_PARAMETERS = ["dryRun", "fieldManager", "fieldValidation", "force", "pretty"];

/**
 * The OpenAPI v3 document of one group/version, e.g. `api/v1`.
 *
 * @param path The group/version path after `/openapi/v3/`.
 * @returns The document, or `undefined` when not served.
 */
export function openApiDocument(path: string): Record<string, unknown> | undefined {
  const types = RESOURCE_TYPES.filter((t) => gvPath(t) === path);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const t of types) {
    const ns = t.namespaced ? "namespaces/{namespace}/" : "";
    const parameters = [
      { name: "name", in: "path", required: true, schema: { type: "string" } },
      ...(t.namespaced
        ? [{ name: "namespace", in: "path", required: true, schema: { type: "string" } }]
        : []),
      ...QUERY_PARAMETERS.map((name) => ({ name, in: "query", schema: { type: "string" } })),
    ];
    paths[`/${gvPath(t)}/${ns}${t.plural}/{name}`] = {
      patch: {
        operationId: `patch${t.kind}`,
        parameters,
        responses: { "200": { description: "OK" } },
        "x-kubernetes-action": "patch",
        "x-kubernetes-group-version-kind": { group: t.group, version: t.version, kind: t.kind },
      },
    };
  }
  return {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: FAKE_VERSION.gitVersion },
    paths,
  };
}
