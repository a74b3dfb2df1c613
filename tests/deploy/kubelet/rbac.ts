/**
 * Kubernetes RBAC over the rendered Roles, ClusterRoles and their bindings,
 * for requests the fake API server recorded: the fake lets everything
 * through, so the test cluster asks afterwards whether a real API server
 * would have answered 403.
 *
 * Request attributes follow the API server's: the verb from the method
 * (`get`/`list`/`watch`/`create`/`update`/`patch`/`delete`/
 * `deletecollection`), and a list or watch with a `metadata.name=` field
 * selector is checked against `resourceNames` like a get of that name.
 * Discovery (`/api`, `/apis`, `/version`, `/openapi`) is allowed to every
 * service account, as `system:discovery` is.
 *
 * @module
 */

import type { Manifest } from "../chart.ts";

/** What RBAC decides on. */
export interface RequestAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

/** A service account: RBAC's subject. */
export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** The request's attributes, or undefined for a non-resource (discovery) path. */
export function requestAttributes(
  method: string,
  path: string,
  query: Record<string, string>,
): RequestAttributes | undefined {
  const parts = path.split("/").filter(Boolean);
  let rest: string[];
  let group: string;
  if (parts[0] === "api" && parts.length >= 3) {
    group = "";
    rest = parts.slice(2);
  } else if (parts[0] === "apis" && parts.length >= 4) {
    group = parts[1];
    rest = parts.slice(3);
  } else {
    return undefined;
  }
  let namespace: string | undefined;
  if (rest[0] === "namespaces" && rest.length >= 3) {
    namespace = rest[1];
    rest = rest.slice(2);
  }
  const [resource, name, subresource] = rest;
  const watch = query.watch === "true" || query.watch === "1";
  const byField = /(?:^|,)metadata\.name=([^,]+)/.exec(query.fieldSelector ?? "")?.[1];
  let verb: string;
  switch (method) {
    case "GET":
      verb = name ? "get" : watch ? "watch" : "list";
      break;
    case "POST":
      verb = "create";
      break;
    case "PUT":
      verb = "update";
      break;
    case "PATCH":
      verb = "patch";
      break;
    case "DELETE":
      verb = name ? "delete" : "deletecollection";
      break;
    default:
      verb = method.toLowerCase();
  }
  return { verb, group, resource, subresource, namespace, name: name ?? byField };
}

type Rule = {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
};

function allows(rule: Rule, attrs: RequestAttributes): boolean {
  const resource = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const has = (list: string[] | undefined, value: string) =>
    (list ?? []).includes("*") || (list ?? []).includes(value);
  if (!has(rule.apiGroups, attrs.group) || !has(rule.resources, resource)) return false;
  if (!has(rule.verbs, attrs.verb)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name));
}

function boundTo(binding: Manifest, account: ServiceAccountRef): boolean {
  const subjects = (binding.subjects ?? []) as { kind: string; name: string; namespace?: string }[];
  return subjects.some((subject) =>
    subject.kind === "ServiceAccount" && subject.name === account.name &&
    (subject.namespace ?? binding.metadata.namespace) === account.namespace
  );
}

/** Whether `objects` (Roles, ClusterRoles, bindings) let `account` make the request. */
export function authorized(
  objects: readonly Manifest[],
  account: ServiceAccountRef,
  attrs: RequestAttributes,
): boolean {
  const rulesOf = (kind: string, name: string, namespace?: string) =>
    objects.filter((o) =>
      o.kind === kind && o.metadata.name === name &&
      (kind === "ClusterRole" || o.metadata.namespace === namespace)
    ).flatMap((o) => (o.rules ?? []) as Rule[]);
  for (const binding of objects) {
    if (!boundTo(binding, account)) continue;
    const ref = binding.roleRef as { kind: string; name: string };
    let rules: Rule[];
    if (binding.kind === "ClusterRoleBinding") {
      rules = rulesOf("ClusterRole", ref.name);
    } else if (binding.kind === "RoleBinding") {
      // A RoleBinding grants in its own namespace only, whatever role it names.
      if (attrs.namespace !== binding.metadata.namespace) continue;
      rules = rulesOf(ref.kind, ref.name, binding.metadata.namespace);
    } else {
      continue;
    }
    if (rules.some((rule) => allows(rule, attrs))) return true;
  }
  return false;
}

/** The API server's 403 message for a denied request. */
export function forbidden(account: ServiceAccountRef, attrs: RequestAttributes): string {
  const resource = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
  const named = attrs.name ? ` "${attrs.name}"` : "";
  const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : "at the cluster scope";
  return `system:serviceaccount:${account.namespace}:${account.name} cannot ${attrs.verb} ` +
    `resource "${resource}"${named} ${scope}`;
}
