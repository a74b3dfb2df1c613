/**
 * The HTTP side of the fake API server: routes requests to discovery, the registry and the
 * watch hub, parses query parameters and bodies, and turns failures into `Status` responses.
 *
 * @module
 */

import {
  AGGREGATED_DISCOVERY_TYPE,
  aggregatedDiscovery,
  apiGroup,
  coreVersions,
  groupList,
  resourceList,
  versionInfo,
  wantsAggregatedDiscovery,
} from "./discovery.ts";
import { isRecord, type KubeObject } from "./object.ts";
import { openApiDocument, openApiIndex } from "./openapi.ts";
import { jsonPatch, mergePatch, PATCH_TYPES, strategicMergePatch } from "./patch.ts";
import type { Registry } from "./registry.ts";
import { findResourceType, type ResourceType } from "./resources.ts";
import { parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import {
  badRequest,
  expired,
  failureStatus,
  KubeStatusError,
  pathNotFound,
  type Status,
} from "./status.ts";
import { toTable, wantsTable } from "./table.ts";
import type { WatchHub } from "./watch.ts";

/** One request as the fake server saw it. */
export interface RecordedRequest {
  /** HTTP method. */
  method: string;
  /** URL path. */
  path: string;
  /** Query parameters (last value wins). */
  query: Record<string, string>;
  /** `Accept` header. */
  accept: string | null;
  /** `Content-Type` header. */
  contentType: string | null;
  /** `User-Agent` header. */
  userAgent: string | null;
  /** `Authorization` header. */
  authorization: string | null;
}

/** What the handler works with. */
export interface HandlerContext {
  /** Object semantics. */
  registry: Registry;
  /** Watch streams. */
  watches: WatchHub;
  /** Whether to answer aggregated discovery requests with apidiscovery.k8s.io/v2. */
  aggregatedDiscovery: boolean;
  /** Receives every request before it is served. */
  record(request: RecordedRequest): void;
}

/** A resource path, parsed. */
interface ResourcePath {
  type: ResourceType;
  namespace?: string;
  name?: string;
  subresource?: string;
  watch: boolean;
}

function json(body: unknown, status = 200, contentType = "application/json"): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": contentType, "cache-control": "no-cache, private" },
  });
}

function statusResponse(status: Status): Response {
  return json(status, status.code);
}

function methodNotAllowed(method: string, path: string): KubeStatusError {
  return new KubeStatusError(
    failureStatus(
      405,
      "MethodNotAllowed",
      `the server does not allow this method on the requested resource (${method} ${path})`,
    ),
  );
}

function parseResourcePath(segments: string[]): ResourcePath | undefined {
  let group: string;
  let version: string;
  let rest: string[];
  if (segments[0] === "api" && segments.length >= 3) {
    [group, version, rest] = ["", segments[1], segments.slice(2)];
  } else if (segments[0] === "apis" && segments.length >= 4) {
    [group, version, rest] = [segments[1], segments[2], segments.slice(3)];
  } else {
    return undefined;
  }
  let watch = false;
  if (rest[0] === "watch") {
    watch = true;
    rest = rest.slice(1);
  }
  let namespace: string | undefined;
  if (
    rest[0] === "namespaces" && rest.length >= 3 && !(rest.length === 3 && rest[2] === "status")
  ) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  if (plural === undefined || extra.length > 0) return undefined;
  const type = findResourceType(group, version, plural);
  if (type === undefined) return undefined;
  if (namespace !== undefined && !type.namespaced) return undefined;
  if (subresource !== undefined && !(subresource === "status" && type.hasStatus)) return undefined;
  return { type, namespace, name, subresource, watch };
}

function queryFlag(query: URLSearchParams, name: string): boolean {
  const v = query.get(name);
  return v === "true" || v === "1";
}

function fieldManager(query: URLSearchParams, req: Request): string {
  return query.get("fieldManager") ??
    (req.headers.get("user-agent") ?? "unknown").split("/")[0];
}

function isDryRun(query: URLSearchParams): boolean {
  return query.getAll("dryRun").includes("All");
}

async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (text.trim() === "") throw badRequest("the request body is empty");
  try {
    return JSON.parse(text);
  } catch {
    const type = req.headers.get("content-type") ?? "";
    throw badRequest(
      type.startsWith(PATCH_TYPES.apply)
        ? "fake kube: only JSON-formatted apply bodies are supported (JSON is valid YAML)"
        : "the request body is not valid JSON",
    );
  }
}

function mediaType(req: Request): string {
  return (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
}

function requireJsonBody(req: Request): void {
  const type = mediaType(req);
  if (type !== "" && type !== "application/json" && type !== "application/yaml") {
    throw new KubeStatusError(
      failureStatus(
        415,
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - accepted media types include: application/json`,
      ),
    );
  }
}

interface Continue {
  rv: number;
  start: string;
}

function encodeContinue(c: Continue): string {
  return btoa(JSON.stringify(c));
}

function decodeContinue(token: string): Continue {
  try {
    const c = JSON.parse(atob(token));
    if (typeof c.rv === "number" && typeof c.start === "string") return c;
  } catch {
    // fall through
  }
  throw badRequest("continue key is not valid: malformed token");
}

function objectKey(o: KubeObject): string {
  return `${o.metadata.namespace ?? ""}/${o.metadata.name}`;
}

function stripKinds(items: KubeObject[]): KubeObject[] {
  return items.map((o) => {
    const copy = { ...o };
    delete copy.apiVersion;
    delete copy.kind;
    return copy;
  });
}

function listResponse(
  ctx: HandlerContext,
  req: Request,
  target: ResourcePath,
  query: URLSearchParams,
): Response {
  const { type, namespace } = target;
  const store = ctx.registry.store;
  const token = query.get("continue");
  const rvParam = query.get("resourceVersion");
  const rvMatch = query.get("resourceVersionMatch");
  let revision = store.revision;
  let start = "";
  if (token !== null && token !== "") {
    if (rvParam !== null && rvParam !== "" && rvParam !== "0") {
      throw badRequest("specifying resource version is not allowed when using continue");
    }
    const c = decodeContinue(token);
    if (c.rv < store.compactedRevision) {
      throw expired(
        "The provided continue parameter is too old to display a consistent list result. " +
          "You can start a new list without the continue parameter.",
      );
    }
    revision = c.rv;
    start = c.start;
  } else if (rvParam !== null && rvParam !== "" && rvParam !== "0") {
    const wanted = Number(rvParam);
    if (!Number.isSafeInteger(wanted) || wanted < 0) {
      throw badRequest(`invalid resource version: ${rvParam}`);
    }
    if (rvMatch === "Exact") {
      if (wanted > store.revision) throw tooLarge();
      revision = wanted;
    } else if (wanted > store.revision) {
      throw tooLarge();
    }
  }
  const filter = {
    namespace,
    labels: parseLabelSelector(query.get("labelSelector")),
    fields: parseFieldSelector(query.get("fieldSelector")),
    revision: revision === store.revision ? undefined : revision,
  };
  let items = ctx.registry.list(type, filter).filter((o) => objectKey(o) > start);
  const limit = Number(query.get("limit") ?? "0");
  const metadata: Record<string, unknown> = { resourceVersion: String(revision) };
  if (Number.isSafeInteger(limit) && limit > 0 && items.length > limit) {
    metadata.continue = encodeContinue({ rv: revision, start: objectKey(items[limit - 1]) });
    metadata.remainingItemCount = items.length - limit;
    items = items.slice(0, limit);
  }
  if (wantsTable(req.headers.get("accept"))) {
    return json(toTable(type, items, metadata, query.get("includeObject")));
  }
  return json({
    kind: type.listKind,
    apiVersion: type.apiVersion,
    metadata,
    items: stripKinds(items),
  });
}

function tooLarge(): KubeStatusError {
  return new KubeStatusError(
    failureStatus(504, "Timeout", "Too large resource version", {
      causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
    }),
  );
}

function watchResponse(
  ctx: HandlerContext,
  req: Request,
  target: ResourcePath,
  query: URLSearchParams,
): Response {
  let fields = query.get("fieldSelector");
  if (target.name !== undefined) {
    fields = [fields, `metadata.name=${target.name}`].filter((f) => f).join(",");
  }
  const timeout = query.get("timeoutSeconds");
  const rv = query.get("resourceVersion");
  const from = rv === null || rv === "" || rv === "0" ? undefined : Number(rv);
  if (from !== undefined && (!Number.isSafeInteger(from) || from < 0)) {
    throw badRequest(`invalid resource version: ${rv}`);
  }
  const table = wantsTable(req.headers.get("accept"));
  const includeObject = query.get("includeObject");
  let first = true;
  const body = ctx.watches.open({
    type: target.type,
    namespace: target.namespace,
    labels: parseLabelSelector(query.get("labelSelector")),
    fields: parseFieldSelector(fields),
    resourceVersion: from,
    allowBookmarks: queryFlag(query, "allowWatchBookmarks"),
    sendInitialEvents: queryFlag(query, "sendInitialEvents"),
    timeoutSeconds: timeout === null ? undefined : Math.max(0, Number(timeout)),
    transform: table
      ? (obj) => {
        const t = toTable(target.type, [obj], undefined, includeObject, first);
        first = false;
        return t;
      }
      : undefined,
  });
  return new Response(body, {
    status: 200,
    headers: { "content-type": "application/json", "cache-control": "no-cache, private" },
  });
}

async function statusWrite(
  ctx: HandlerContext,
  req: Request,
  target: ResourcePath & { name: string },
  query: URLSearchParams,
): Promise<Response> {
  const { type, namespace, name } = target;
  const existing = ctx.registry.get(type, namespace, name);
  const body = await readJson(req);
  let patched: unknown;
  if (req.method === "PUT") {
    requireJsonBody(req);
    patched = body;
  } else {
    const kind = mediaType(req);
    if (kind === PATCH_TYPES.merge) patched = mergePatch(existing, body);
    else if (kind === PATCH_TYPES.strategic) patched = strategicMergePatch(existing, body);
    else if (kind === PATCH_TYPES.json) patched = jsonPatch(existing, body);
    else if (kind === PATCH_TYPES.apply) patched = mergePatch(existing, body);
    else {throw new KubeStatusError(
        failureStatus(415, "UnsupportedMediaType", `unsupported patch type ${kind}`),
      );}
  }
  const status = isRecord(patched) ? patched.status : undefined;
  const result = ctx.registry.replace(type, namespace, name, { ...existing, status }, {
    fieldManager: fieldManager(query, req),
    dryRun: isDryRun(query),
    writeStatus: true,
  });
  return json(result.object);
}

async function resourceResponse(
  ctx: HandlerContext,
  req: Request,
  target: ResourcePath,
  query: URLSearchParams,
  path: string,
): Promise<Response> {
  const { type, namespace, name } = target;
  const registry = ctx.registry;
  const write = { fieldManager: fieldManager(query, req), dryRun: isDryRun(query) };
  if (target.watch || (name === undefined && req.method === "GET" && queryFlag(query, "watch"))) {
    if (req.method !== "GET") throw methodNotAllowed(req.method, path);
    return watchResponse(ctx, req, target, query);
  }
  if (type.namespaced && namespace === undefined && (name !== undefined || req.method !== "GET")) {
    throw pathNotFound();
  }
  if (name === undefined) {
    if (req.method === "GET") return listResponse(ctx, req, target, query);
    if (req.method === "POST") {
      requireJsonBody(req);
      const result = registry.create(type, namespace, await readJson(req), write);
      return json(result.object, 201);
    }
    throw methodNotAllowed(req.method, path);
  }
  if (target.subresource === "status" && req.method !== "GET") {
    if (req.method !== "PUT" && req.method !== "PATCH") throw methodNotAllowed(req.method, path);
    return statusWrite(ctx, req, { ...target, name }, query);
  }
  switch (req.method) {
    case "GET": {
      const obj = registry.get(type, namespace, name);
      if (wantsTable(req.headers.get("accept"))) {
        return json(toTable(type, [obj], {}, query.get("includeObject")));
      }
      return json(obj);
    }
    case "PUT": {
      requireJsonBody(req);
      const result = registry.replace(type, namespace, name, await readJson(req), write);
      return json(result.object);
    }
    case "PATCH": {
      const contentType = mediaType(req);
      if (contentType === PATCH_TYPES.apply && !query.get("fieldManager")) {
        throw badRequest("PATCH: fieldManager is required for apply requests");
      }
      const result = registry.patch(type, namespace, name, await readJson(req), {
        ...write,
        contentType,
        force: queryFlag(query, "force"),
      });
      return json(result.object, result.created ? 201 : 200);
    }
    case "DELETE": {
      const text = await req.text();
      const options = text.trim() === "" ? {} : JSON.parse(text);
      const pre = isRecord(options) && isRecord(options.preconditions) ? options.preconditions : {};
      const dryRun = isDryRun(query) ||
        (isRecord(options) && Array.isArray(options.dryRun) && options.dryRun.includes("All"));
      const deleted = registry.delete(type, namespace, name, {
        uid: typeof pre.uid === "string" ? pre.uid : undefined,
        resourceVersion: typeof pre.resourceVersion === "string" ? pre.resourceVersion : undefined,
      }, dryRun);
      return json(deleted);
    }
    default:
      throw methodNotAllowed(req.method, path);
  }
}

function discoveryResponse(
  ctx: HandlerContext,
  req: Request,
  segments: string[],
): Response | undefined {
  const accept = req.headers.get("accept");
  const aggregated = ctx.aggregatedDiscovery && wantsAggregatedDiscovery(accept);
  const host = new URL(req.url).host;
  const key = segments.join("/");
  if (key === "version") return json(versionInfo());
  if (key === "api") {
    return aggregated
      ? json(aggregatedDiscovery(true), 200, AGGREGATED_DISCOVERY_TYPE)
      : json(coreVersions(host));
  }
  if (key === "apis") {
    return aggregated
      ? json(aggregatedDiscovery(false), 200, AGGREGATED_DISCOVERY_TYPE)
      : json(groupList());
  }
  if (segments[0] === "api" && segments.length === 2) {
    const list = resourceList("", segments[1]);
    return list === undefined ? undefined : json(list);
  }
  if (segments[0] === "apis" && segments.length === 2) {
    const group = apiGroup(segments[1]);
    return group === undefined ? undefined : json(group);
  }
  if (segments[0] === "apis" && segments.length === 3) {
    const list = resourceList(segments[1], segments[2]);
    return list === undefined ? undefined : json(list);
  }
  if (key === "openapi/v3") return json(openApiIndex());
  if (segments[0] === "openapi" && segments[1] === "v3") {
    const doc = openApiDocument(segments.slice(2).join("/"));
    return doc === undefined ? undefined : json(doc);
  }
  if (key === "healthz" || key === "readyz" || key === "livez") {
    return new Response("ok", { headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  return undefined;
}

/**
 * Creates the request handler of the fake API server.
 *
 * @param ctx Registry, watch hub, options and request recorder.
 * @returns A handler for `Deno.serve`.
 */
export function createHandler(ctx: HandlerContext): (req: Request) => Promise<Response> {
  return async (req) => {
    const url = new URL(req.url);
    const query = url.searchParams;
    ctx.record({
      method: req.method,
      path: url.pathname,
      query: Object.fromEntries(query),
      accept: req.headers.get("accept"),
      contentType: req.headers.get("content-type"),
      userAgent: req.headers.get("user-agent"),
      authorization: req.headers.get("authorization"),
    });
    try {
      const segments = url.pathname.split("/").filter((s) => s !== "").map(decodeURIComponent);
      if (req.method === "GET") {
        const discovery = discoveryResponse(ctx, req, segments);
        if (discovery !== undefined) return discovery;
      }
      const target = parseResourcePath(segments);
      if (target === undefined) throw pathNotFound();
      return await resourceResponse(ctx, req, target, query, url.pathname);
    } catch (e) {
      if (e instanceof KubeStatusError) return statusResponse(e.status);
      if (e instanceof SyntaxError) return statusResponse(badRequest(e.message).status);
      return statusResponse(failureStatus(500, "InternalError", `fake kube: ${String(e)}`));
    }
  };
}
