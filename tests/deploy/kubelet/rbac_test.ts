/** RBAC decisions of the test cluster, as a real API server makes them. */

import assert from "node:assert/strict";
import type { Manifest } from "../chart.ts";
import { authorized, forbidden, requestAttributes } from "./rbac.ts";

const sa = { namespace: "wh", name: "client" };
const subjects = [{ kind: "ServiceAccount", name: "client", namespace: "wh" }];
const objects: Manifest[] = [
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "Role",
    metadata: { name: "read", namespace: "apps" },
    rules: [{ apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] }],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "read", namespace: "apps" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "read" },
    subjects,
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRole",
    metadata: { name: "state" },
    rules: [{
      apiGroups: [""],
      resources: ["secrets"],
      verbs: ["get", "watch", "list"],
      resourceNames: ["st"],
    }],
  },
  {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "RoleBinding",
    metadata: { name: "state", namespace: "wh" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "state" },
    subjects,
  },
];

const can = (method: string, path: string, query: Record<string, string> = {}) =>
  authorized(objects, sa, requestAttributes(method, path, query)!);

Deno.test("rbac: a Role grants its verbs in its namespace only", () => {
  assert.equal(can("GET", "/api/v1/namespaces/apps/services"), true);
  assert.equal(can("GET", "/api/v1/namespaces/apps/services", { watch: "true" }), true);
  assert.equal(can("GET", "/api/v1/namespaces/apps/services/web"), true);
  assert.equal(can("POST", "/api/v1/namespaces/apps/services"), false);
  assert.equal(can("GET", "/api/v1/namespaces/web/services"), false);
  assert.equal(can("GET", "/api/v1/services"), false, "a Role never grants cluster-wide lists");
});

Deno.test("rbac: resourceNames limit get, and list/watch through a metadata.name field selector", () => {
  assert.equal(can("GET", "/api/v1/namespaces/wh/secrets/st"), true);
  assert.equal(can("GET", "/api/v1/namespaces/wh/secrets/other"), false);
  assert.equal(
    can("GET", "/api/v1/namespaces/wh/secrets", { fieldSelector: "metadata.name=st", watch: "1" }),
    true,
  );
  assert.equal(can("GET", "/api/v1/namespaces/wh/secrets"), false, "a plain list names nothing");
  assert.equal(can("GET", "/api/v1/namespaces/apps/secrets/st"), false, "bound in wh only");
});

Deno.test("rbac: attributes and the 403 message of the API server", () => {
  assert.equal(requestAttributes("GET", "/apis", {}), undefined);
  assert.deepEqual(
    requestAttributes("PATCH", "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies/p", {}),
    {
      verb: "patch",
      group: "networking.k8s.io",
      resource: "networkpolicies",
      subresource: undefined,
      namespace: "a",
      name: "p",
    },
  );
  assert.equal(
    forbidden(sa, requestAttributes("GET", "/api/v1/services", {})!),
    'system:serviceaccount:wh:client cannot list resource "services" at the cluster scope',
  );
});
