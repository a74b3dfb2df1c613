/**
 * Renders the kustomize overlays in deploy/kubernetes with `kubectl kustomize`
 * (offline) and checks the manifests. Skipped when kubectl is not installed.
 */

import assert from "node:assert/strict";
import yaml from "js-yaml";
import {
  CLIENT_FLAGS,
  type FlagKind,
  flagOfEnv,
  parseArgs,
  type ParsedArgs,
  parseLabelList,
  SERVER_FLAGS,
  STATE_DIR,
} from "./deploy/flags.ts";
import { kustomize } from "./deploy/kustomize.ts";

const ROOT = new URL("../", import.meta.url);
const VERSION = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT))).version as string;
/** The image deploy/docker/Dockerfile builds, tagged with the program's version. */
const IMAGE = `wormhole:${VERSION}`;

type Obj = Record<string, unknown>;
type Side = "server" | "client";

function kubectlVersion(): string | null {
  try {
    const out = new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "piped",
      stderr: "null",
    })
      .outputSync();
    return out.success ? new TextDecoder().decode(out.stdout).split("\n")[0] : null;
  } catch {
    return null;
  }
}

const kubectl = kubectlVersion();
const ignore = kubectl === null;
if (ignore) {
  console.log(
    "deploy_kustomize_test: SKIPPED, kubectl is not installed (kubectl kustomize renders the overlays)",
  );
}

const rendered = new Map<Side, Obj[]>();

/** The documents `kubectl kustomize deploy/kubernetes/<side>` prints. */
async function render(side: Side): Promise<Obj[]> {
  const cached = rendered.get(side);
  if (cached) return cached;
  const docs = await kustomize(new URL(`deploy/kubernetes/${side}`, ROOT));
  rendered.set(side, docs);
  return docs;
}

const get = (node: unknown, path: string): unknown =>
  path.split(".").reduce<unknown>(
    (at, key) => (at && typeof at === "object" ? (at as Obj)[key] : undefined),
    node,
  );

function only(docs: Obj[], kind: string, name?: string): Obj {
  const found = docs.filter((doc) =>
    doc.kind === kind && (name === undefined || get(doc, "metadata.name") === name)
  );
  assert.equal(
    found.length,
    1,
    `expected one ${kind}${name ? ` ${name}` : ""}, found ${found.length}`,
  );
  return found[0];
}

function deployment(docs: Obj[]): { pod: Obj; container: Obj } {
  const pod = get(only(docs, "Deployment"), "spec.template.spec") as Obj;
  const containers = pod.containers as Obj[];
  assert.equal(containers.length, 1);
  return { pod, container: containers[0] };
}

/** The args, plus flags set from ConfigMaps through envFrom, checked against the program's flags. */
function commandLine(docs: Obj[], side: Side): ParsedArgs & { fromEnv: Map<string, string> } {
  const { container } = deployment(docs);
  const parsed = parseArgs(container.args as string[]);
  assert.equal(parsed.command, side);
  const known: Readonly<Record<string, FlagKind>> = side === "server" ? SERVER_FLAGS : CLIENT_FLAGS;
  const fromEnv = new Map<string, string>();
  for (const source of (container.envFrom as Obj[] | undefined) ?? []) {
    const name = get(source, "configMapRef.name");
    const map = only(docs, "ConfigMap", String(name));
    for (const [key, value] of Object.entries(map.data as Record<string, string>)) {
      const flag = flagOfEnv(key, known);
      assert.ok(flag, `ConfigMap ${name}: ${key} is not WORMHOLE_<a ${side} flag>`);
      assert.ok(!parsed.flags.has(flag), `--${flag} is set twice`);
      fromEnv.set(flag, value);
    }
  }
  return { ...parsed, fromEnv };
}

const kinds = (docs: Obj[]) => docs.map((doc) => `${doc.kind}/${get(doc, "metadata.name")}`).sort();

Deno.test({
  name: "kustomize: the server overlay renders its objects in one namespace",
  ignore,
  async fn() {
    const docs = await render("server");
    assert.deepEqual(kinds(docs), [
      "Deployment/wormhole-server",
      "Role/wormhole-server",
      "Role/wormhole-server-state",
      "RoleBinding/wormhole-server",
      "RoleBinding/wormhole-server-state",
      "Service/wormhole-server",
      "Service/wormhole-server-admin",
      "ServiceAccount/wormhole-server",
    ]);
    const namespaces = new Set(docs.map((doc) => get(doc, "metadata.namespace")));
    assert.deepEqual([...namespaces], ["wormhole"]);
  },
});

Deno.test({
  name: "kustomize: the client overlay renders its objects, RBAC cluster-wide",
  ignore,
  async fn() {
    const docs = await render("client");
    assert.deepEqual(
      kinds(docs).map((kind) =>
        kind.replace(/^(ConfigMap\/wormhole-client)-[a-z0-9]+$/, "$1-<hash>")
      ),
      [
        "ClusterRole/wormhole-client",
        "ClusterRoleBinding/wormhole-client",
        "ConfigMap/wormhole-client-<hash>",
        "Deployment/wormhole-client",
        "Role/wormhole-client-state",
        "RoleBinding/wormhole-client-state",
        "ServiceAccount/wormhole-client",
      ],
    );
    for (const doc of docs) {
      const clusterScoped = String(doc.kind).startsWith("Cluster");
      assert.equal(get(doc, "metadata.namespace"), clusterScoped ? undefined : "wormhole");
    }
  },
});

for (const side of ["server", "client"] as const) {
  Deno.test({
    name: `kustomize: ${side} uses the image and labels of the base`,
    ignore,
    async fn() {
      const docs = await render(side);
      assert.equal(deployment(docs).container.image, IMAGE);
      for (const doc of docs) {
        const labels = get(doc, "metadata.labels") as Record<string, string>;
        assert.equal(labels["app.kubernetes.io/name"], "wormhole", `${doc.kind} labels`);
        assert.equal(labels["app.kubernetes.io/component"], side, `${doc.kind} labels`);
      }
      const selector = get(only(docs, "Deployment"), "spec.selector.matchLabels");
      assert.deepEqual(selector, {
        "app.kubernetes.io/component": side,
        "app.kubernetes.io/name": "wormhole",
      });
      assert.deepEqual(get(only(docs, "Deployment"), "spec.template.metadata.labels"), selector);
      assert.equal(get(only(docs, "Deployment"), "spec.replicas"), 1);
      assert.equal(get(only(docs, "Deployment"), "spec.strategy.type"), "Recreate");
    },
  });

  Deno.test({
    name: `kustomize: ${side} runs as uid 1337, non-root, read-only root, no capabilities`,
    ignore,
    async fn() {
      const { pod, container } = deployment(await render(side));
      const podSecurity = pod.securityContext as Obj;
      assert.equal(podSecurity.runAsNonRoot, true);
      assert.equal(podSecurity.runAsUser, 1337);
      assert.equal(podSecurity.runAsGroup, 1337);
      assert.equal(podSecurity.fsGroup, 1337);
      assert.deepEqual(podSecurity.seccompProfile, { type: "RuntimeDefault" });
      const security = container.securityContext as Obj;
      assert.equal(security.readOnlyRootFilesystem, true);
      assert.equal(security.allowPrivilegeEscalation, false);
      assert.equal(security.privileged, false);
      assert.deepEqual(security.capabilities, { drop: ["ALL"] });
      // WORMHOLE_<X>_PORT service-link variables would be read as flags.
      assert.equal(pod.enableServiceLinks, false);
      assert.equal(pod.serviceAccountName, `wormhole-${side}`);
    },
  });

  Deno.test({
    name: `kustomize: ${side} keeps its state in its Secret, RBAC limited to that name`,
    ignore,
    async fn() {
      const docs = await render(side);
      const { pod, container } = deployment(docs);
      const { flags } = commandLine(docs, side);
      const env = container.env as Obj[];
      assert.equal(env.find((e) => e.name === "WORMHOLE_STATE")?.value, "kubernetes");
      const role = only(docs, "Role", `wormhole-${side}-state`);
      assert.deepEqual(role.rules, [
        {
          apiGroups: [""],
          resources: ["secrets"],
          resourceNames: [`wormhole-${side}-state`],
          verbs: ["get", "list", "watch", "update"],
        },
        { apiGroups: [""], resources: ["secrets"], verbs: ["create"] },
      ]);
      const binding = only(docs, "RoleBinding", `wormhole-${side}-state`);
      assert.deepEqual(binding.subjects, [{
        kind: "ServiceAccount",
        name: `wormhole-${side}`,
        namespace: "wormhole",
      }]);
      // --state-dir (for WORMHOLE_STATE=file) stays a writable volume.
      assert.deepEqual(flags.get("state-dir"), [STATE_DIR]);
      const mounts = (container.volumeMounts as Obj[]).filter((mount) =>
        mount.mountPath === STATE_DIR
      );
      assert.equal(mounts.length, 1, `nothing is mounted at ${STATE_DIR}`);
      // Nothing else is writable but an emptyDir for /tmp.
      const others = (container.volumeMounts as Obj[]).filter((mount) => mount !== mounts[0]);
      for (const mount of others) {
        const other = (pod.volumes as Obj[]).find((v) => v.name === mount.name);
        assert.ok(other && "emptyDir" in other, `${mount.mountPath} is not an emptyDir`);
      }
    },
  });

  Deno.test({
    name: `kustomize: ${side} probes /healthz and /readyz on the admin port`,
    ignore,
    async fn() {
      const { container } = deployment(await render(side));
      const ports = container.ports as Obj[];
      assert.ok(ports.some((port) => port.name === "admin" && port.containerPort === 8081));
      assert.equal(get(container, "livenessProbe.httpGet.path"), "/healthz");
      assert.equal(get(container, "livenessProbe.httpGet.port"), "admin");
      assert.equal(get(container, "readinessProbe.httpGet.path"), "/readyz");
      assert.equal(get(container, "readinessProbe.httpGet.port"), "admin");
    },
  });
}

Deno.test({
  name: "kustomize: server args — Kubernetes mode in its own namespace, reachable listeners",
  ignore,
  async fn() {
    const docs = await render("server");
    const { flags } = commandLine(docs, "server");
    assert.deepEqual(flags.get("kubernetes"), [""]);
    assert.deepEqual(flags.get("listen-host"), ["0.0.0.0"]);
    assert.deepEqual(flags.get("admin-host"), ["0.0.0.0"]);
    assert.deepEqual(flags.get("admin-port"), ["8081"]);
    assert.deepEqual(flags.get("port"), ["8080"]);
    assert.deepEqual(flags.get("acceptor"), ["server"]);
    // The namespace comes from the downward API, so the manifests stay namespace-agnostic.
    assert.deepEqual(flags.get("kubernetes-namespace"), ["$(POD_NAMESPACE)"]);
    const { container } = deployment(docs);
    const env = container.env as Obj[];
    const podNamespace = env.find((e) => e.name === "POD_NAMESPACE");
    assert.equal(get(podNamespace, "valueFrom.fieldRef.fieldPath"), "metadata.namespace");
    const token = env.find((e) => e.name === "WORMHOLE_ADMIN_TOKEN");
    assert.deepEqual(get(token, "valueFrom.secretKeyRef"), {
      name: "wormhole-server-admin-token",
      key: "admin-token",
    });
  },
});

Deno.test({
  name: "kustomize: server --kubernetes-labels select the server pod, like its own Services",
  ignore,
  async fn() {
    const docs = await render("server");
    const { flags } = commandLine(docs, "server");
    const labels = parseLabelList(flags.get("kubernetes-labels")![0]);
    const podLabels = get(only(docs, "Deployment"), "spec.template.metadata.labels") as Record<
      string,
      string
    >;
    for (const [key, value] of Object.entries(labels)) assert.equal(podLabels[key], value, key);
    for (const service of docs.filter((doc) => doc.kind === "Service")) {
      assert.deepEqual(get(service, "spec.selector"), labels);
    }
    const ports = (name: string) => get(only(docs, "Service", name), "spec.ports");
    assert.deepEqual(ports("wormhole-server"), [{
      name: "tunnel",
      port: 8080,
      protocol: "TCP",
      targetPort: "tunnel",
    }]);
    assert.deepEqual(ports("wormhole-server-admin"), [{
      name: "admin",
      port: 8081,
      protocol: "TCP",
      targetPort: "admin",
    }]);
  },
});

Deno.test({
  name:
    "kustomize: server RBAC manages Services (and, for --ha, EndpointSlices and Leases) in its namespace only",
  ignore,
  async fn() {
    const docs = await render("server");
    const role = only(docs, "Role", "wormhole-server");
    const verbs = ["get", "list", "watch", "create", "update", "patch", "delete"];
    assert.deepEqual(role.rules, [
      { apiGroups: [""], resources: ["services"], verbs },
      { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs },
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs },
    ]);
    const binding = only(docs, "RoleBinding", "wormhole-server");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "wormhole-server",
    });
    assert.deepEqual(binding.subjects, [{
      kind: "ServiceAccount",
      name: "wormhole-server",
      namespace: "wormhole",
    }]);
  },
});

Deno.test({
  name: "kustomize: client RBAC only reads Services, cluster-wide",
  ignore,
  async fn() {
    const docs = await render("client");
    const role = only(docs, "ClusterRole", "wormhole-client");
    assert.deepEqual(role.rules, [{
      apiGroups: [""],
      resources: ["services"],
      verbs: ["get", "list", "watch"],
    }]);
    const binding = only(docs, "ClusterRoleBinding", "wormhole-client");
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "wormhole-client",
    });
    assert.deepEqual(binding.subjects, [{
      kind: "ServiceAccount",
      name: "wormhole-client",
      namespace: "wormhole",
    }]);
  },
});

Deno.test({
  name: "kustomize: client args and its --server/--name placeholders are client flags",
  ignore,
  async fn() {
    const docs = await render("client");
    const { flags, fromEnv } = commandLine(docs, "client");
    assert.deepEqual(flags.get("kubernetes"), [""]);
    assert.deepEqual(flags.get("admin-port"), ["8081"]);
    assert.deepEqual(flags.get("kubernetes-upstream"), ["dns"]);
    const server = new URL(fromEnv.get("server")!);
    assert.match(server.protocol, /^wss?:$/);
    assert.equal(server.pathname, "/wh/tunnel");
    assert.match(fromEnv.get("name")!, /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    const source = Deno.readTextFileSync(
      new URL("deploy/kubernetes/client/kustomization.yaml", ROOT),
    );
    assert.match(source, /# PLACEHOLDER[^\n]*\(--server\)[^-]*- WORMHOLE_SERVER=/);
    assert.match(source, /# PLACEHOLDER[^\n]*\(--name\)[^-]*- WORMHOLE_NAME=/);
    // Its admin API listens on 0.0.0.0: the token comes from the Secret the comment creates.
    const env = deployment(docs).container.env as Obj[];
    assert.equal(env.find((e) => e.name === "WORMHOLE_ADMIN_HOST")?.value, "0.0.0.0");
    assert.deepEqual(get(env.find((e) => e.name === "WORMHOLE_ADMIN_TOKEN"), "valueFrom"), {
      secretKeyRef: { name: "wormhole-client-admin-token", key: "admin-token" },
    });
    assert.match(
      source,
      /create secret generic wormhole-client-admin-token \\\n#\s+--from-literal=admin-token=/,
    );
  },
});

Deno.test({
  name: "kustomize: the base is namespace-agnostic",
  fn() {
    const base = yaml.load(
      Deno.readTextFileSync(new URL("deploy/kubernetes/base/kustomization.yaml", ROOT)),
    ) as Obj;
    assert.equal(base.namespace, undefined);
    assert.deepEqual(base.images, [{ name: "wormhole", newName: "wormhole", newTag: VERSION }]);
  },
});

Deno.test({
  name:
    "kustomize: the server-ha overlay runs two --ha replicas with a PodDisruptionBudget and a soft anti-affinity",
  ignore,
  async fn() {
    const docs = await kustomize(new URL("deploy/kubernetes/server-ha", ROOT));
    const single = await render("server");
    assert.deepEqual(kinds(docs), [...kinds(single), "PodDisruptionBudget/wormhole-server"].sort());
    const ha = only(docs, "Deployment");
    assert.equal(get(ha, "spec.replicas"), 2);
    assert.deepEqual(get(ha, "spec.strategy"), { type: "RollingUpdate" });
    const { container } = deployment(docs);
    const args = container.args as string[];
    assert.deepEqual(args, [...(deployment(single).container.args as string[]), "--ha"]);
    assert.deepEqual(
      [...parseArgs(args).flags.keys()].filter((flag) => !SERVER_FLAGS[flag]),
      [],
    );
    const env = new Map(
      (container.env as Obj[]).map((e) => [e.name, get(e, "valueFrom.fieldRef.fieldPath")]),
    );
    assert.equal(env.get("POD_NAME"), "metadata.name");
    assert.equal(env.get("POD_IP"), "status.podIP");
    const podLabels = get(ha, "spec.template.metadata.labels") as Record<string, string>;
    const matches = (selector: unknown) =>
      Object.entries(selector as Record<string, string>).every(([k, v]) => podLabels[k] === v);
    const pdb = only(docs, "PodDisruptionBudget");
    assert.equal(get(pdb, "metadata.namespace"), "wormhole");
    assert.equal(get(pdb, "spec.minAvailable"), 1);
    assert.ok(matches(get(pdb, "spec.selector.matchLabels")), "the PDB selects the server pods");
    const [term] = get(
      ha,
      "spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution",
    ) as Obj[];
    assert.equal(get(term, "podAffinityTerm.topologyKey"), "kubernetes.io/hostname");
    assert.ok(matches(get(term, "podAffinityTerm.labelSelector.matchLabels")));
    const state = only(single, "Deployment");
    assert.ok(
      ((get(state, "spec.template.spec.containers") as Obj[])[0].env as Obj[]).some((e) =>
        e.name === "WORMHOLE_STATE" && e.value === "kubernetes"
      ),
      "--ha needs the state in the Secret",
    );
  },
});
