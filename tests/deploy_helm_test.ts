/**
 * Static checks of the Helm chart in deploy/helm/wormhole (there is no helm
 * binary here): values, schema, template syntax, and regressions of the
 * original chart (swapped PVC templates; approvals kept outside the volume).
 */

import assert from "node:assert/strict";
import yaml from "js-yaml";
import { CLIENT_FLAGS, parseArgs, SERVER_FLAGS, STATE_DIR } from "./deploy/flags.ts";
import {
  argText,
  checkBlocks,
  defines,
  lookup,
  scanActions,
  type Skeleton,
  skeleton,
  tokenAction,
  toYamlRefs,
  valuesRefs,
} from "./deploy/helm.ts";
import { loadChart, type Manifest, renderChart, type RenderOptions } from "./deploy/chart.ts";
import { coverage, type Json, type Schema, validate } from "./deploy/schema.ts";

const CHART = new URL("../deploy/helm/wormhole/", import.meta.url);
const read = (path: string) => Deno.readTextFileSync(new URL(path, CHART));

type Obj = Record<string, unknown>;

const values = yaml.load(read("values.yaml")) as { [key: string]: Json };
const schema = JSON.parse(read("values.schema.json")) as Schema;
const helpersSource = read("templates/_helpers.tpl");
const helpers = defines(helpersSource);
const templates = new Map<string, string>(
  [...Deno.readDirSync(new URL("templates/", CHART))]
    .filter((entry) => entry.isFile)
    .map((entry) => entry.name)
    .sort()
    .map((name) => [name, read(`templates/${name}`)]),
);
/** Templates that render manifests (not helpers, not NOTES.txt). */
const manifests = [...templates.keys()].filter((name) => name.endsWith(".yaml"));

function parsed(name: string): Skeleton {
  const source = templates.get(name);
  assert.ok(source !== undefined, `missing template ${name}`);
  return skeleton(source, values, helpers, name);
}

function docOf(name: string, kind: string): Obj {
  const docs = parsed(name).docs.filter((doc) => doc.kind === kind);
  assert.equal(docs.length, 1, `${name}: expected one ${kind}`);
  return docs[0];
}

const get = (node: unknown, path: string): unknown => lookup(node, path).value;

/** Leaves of a YAML tree: scalars, arrays, null and empty objects, as dotted paths. */
function leaves(node: Json, prefix = ""): string[] {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return [prefix];
  const keys = Object.keys(node);
  if (keys.length === 0) return [prefix];
  return keys.flatMap((key) => leaves(node[key], prefix ? `${prefix}.${key}` : key));
}

const clone = <T>(value: T): T => structuredClone(value);

// ---------------------------------------------------------------------------
// Chart and values
// ---------------------------------------------------------------------------

Deno.test("helm: Chart.yaml is a v2 application chart whose appVersion is the program's version", () => {
  const chart = yaml.load(read("Chart.yaml")) as Obj;
  assert.equal(chart.apiVersion, "v2");
  assert.equal(chart.name, "wormhole");
  assert.equal(chart.type, "application");
  assert.match(String(chart.version), /^\d+\.\d+\.\d+$/);
  const deno = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));
  assert.equal(chart.appVersion, deno.version);
});

Deno.test("helm: values.yaml keeps every value of the original chart with its default", () => {
  const component = {
    priorityClassName: "",
    // Was Always, which looks for an image loaded into kind or k3d in a registry.
    pullPolicy: "IfNotPresent",
    resources: { requests: { cpu: 0, memory: "128Mi" }, limits: { cpu: 0, memory: "128Mi" } },
    affinity: null,
    nodeSelector: null,
    tolerations: null,
    pvc: { enabled: false, storage: "1Gi", storageClassName: "" },
  };
  const original: Record<string, Json> = {
    // Was ghcr.io/glothriel/wormhole:latest, the original project's image: now the image
    // deploy/docker builds, wormhole:<appVersion> (an empty version is the appVersion).
    "docker.registry": "",
    "docker.image": "wormhole",
    "docker.version": "",
    "client.enabled": false,
    "client.name": "",
    "server.enabled": false,
    "server.acceptor": "server",
    "server.path": "",
    "server.service.type": "ClusterIP",
  };
  for (const side of ["client", "server"]) {
    for (const [key, value] of Object.entries(component)) original[`${side}.${key}`] = value;
    original[`${side}.securityContext.runAsUser`] = 1337;
    original[`${side}.securityContext.runAsGroup`] = 1337;
    original[`${side}.securityContext.runAsNonRoot`] = true;
    original[`${side}.securityContext.fsGroup`] = 1337;
    original[`${side}.containerSecurityContext.readOnlyRootFilesystem`] = true;
    original[`${side}.containerSecurityContext.privileged`] = false;
    original[`${side}.containerSecurityContext.allowPrivilegeEscalation`] = false;
    original[`${side}.containerSecurityContext.capabilities.drop`] = ["ALL"];
  }
  for (const [path, expected] of Object.entries(original)) {
    const { found, value } = lookup(values, path);
    assert.ok(found, `values.yaml lost ${path}`);
    assert.deepEqual(value, expected, `default of ${path}`);
  }
  // The original default ws://wormhole-server:8080 named no Service of the chart and no tunnel
  // path; the key keeps its meaning (the server's tunnel URL) and is now required.
  assert.equal(typeof lookup(values, "client.serverDsn").value, "string");
});

Deno.test("helm: values.schema.json lists exactly the keys of values.yaml", () => {
  assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
  assert.deepEqual(coverage(schema, values), []);
});

Deno.test("helm: values.schema.json accepts the defaults", () => {
  assert.deepEqual(validate(schema, values), []);
});

Deno.test("helm: values.schema.json rejects wrong values", () => {
  const cases: [string, (v: Record<string, Json>) => void][] = [
    ["unknown top-level key", (v) => (v.serverr = {})],
    ["unknown nested key", (v) => ((v.server as Obj).pvcc = {})],
    ["acceptor outside the enum", (v) => ((v.server as Obj).acceptor = "everyone")],
    ["boolean as a string", (v) => (((v.client as Obj).pvc as Obj).enabled = "yes")],
    ["http:// tunnel URL", (v) => ((v.client as Obj).serverDsn = "http://example.com/wh/tunnel")],
    ["service type", (v) => (((v.server as Obj).service as Obj).type = "Ingress")],
    ["port range", (v) => ((v.server as Obj).portRange = "30000")],
    ["log format", (v) => ((v.log as Obj).format = "yaml")],
    ["label value type", (v) => (((v.server as Obj).kubernetes as Obj).labels = { a: 1 })],
  ];
  for (const [name, mutate] of cases) {
    const broken = clone(values);
    mutate(broken);
    assert.notDeepEqual(validate(schema, broken), [], `the schema accepts: ${name}`);
  }
  const good = clone(values);
  Object.assign(good.client as Obj, {
    enabled: true,
    name: "edge-1",
    serverDsn: "wss://wormhole.example.com/wh/tunnel",
    expose: ["web=nginx.default.svc:80"],
    affinity: { nodeAffinity: {} },
    tolerations: [{ key: "edge", operator: "Exists" }],
  });
  assert.deepEqual(validate(schema, good), []);
});

Deno.test("helm: the schema validator refuses keywords it does not implement", () => {
  assert.throws(() => validate({ type: "string", minLength: 1 } as Schema, "x"), /minLength/);
});

// ---------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------

Deno.test("helm: template actions and if/range/with/define … end blocks are balanced", () => {
  assert.ok(manifests.length >= 10, `templates: ${manifests}`);
  for (const [name, source] of templates) checkBlocks(scanActions(source, name), name);
  // The checker itself catches the mistakes it is for.
  assert.throws(() => checkBlocks(scanActions("{{- if .a }}x")), /never closed/);
  assert.throws(() => checkBlocks(scanActions("x{{- end }}")), /without a block/);
  assert.throws(() => checkBlocks(scanActions("{{ else }}")), /outside/);
  assert.throws(() => scanActions("a: {{ .b }"), /unbalanced/);
});

Deno.test("helm: every .Values reference in the templates exists in values.yaml", () => {
  for (const [name, source] of templates) {
    for (const path of valuesRefs(source)) {
      assert.ok(lookup(values, path).found, `${name} uses .Values.${path}, missing in values.yaml`);
    }
  }
});

Deno.test("helm: every value in values.yaml is used by a template", () => {
  const unused: Record<string, string> = {
    global: "reserved by Helm for values shared with parent charts",
  };
  const refs = new Set<string>();
  const whole = new Set<string>();
  for (const source of templates.values()) {
    valuesRefs(source).forEach((path) => refs.add(path));
    toYamlRefs(source).forEach((path) => whole.add(path));
  }
  for (const leaf of leaves(values)) {
    const used = refs.has(leaf) || [...whole].some((path) => leaf.startsWith(`${path}.`));
    if (leaf in unused) {
      assert.ok(!used, `${leaf} is used now: drop it from the allow-list`);
      continue;
    }
    assert.ok(used, `values.yaml: ${leaf} is used by no template`);
  }
});

Deno.test("helm: every manifest template parses as YAML with a kind, a name and a namespace", () => {
  const kinds: string[] = [];
  for (const name of manifests) {
    const { docs, tokens } = parsed(name);
    assert.ok(docs.length > 0, `${name} renders nothing`);
    for (const doc of docs) {
      kinds.push(String(doc.kind));
      assert.ok(doc.apiVersion && doc.kind, `${name}: apiVersion and kind`);
      assert.ok(get(doc, "metadata.name"), `${name}: metadata.name`);
      const namespaced = !["ClusterRole", "ClusterRoleBinding"].includes(String(doc.kind));
      const namespace = tokenAction(get(doc, "metadata.namespace"), tokens);
      if (namespaced) assert.ok(namespace, `${name}: ${doc.kind} needs metadata.namespace`);
      else assert.equal(namespace, undefined, `${name}: ${doc.kind} is cluster-scoped`);
    }
  }
  for (
    const kind of [
      "Deployment",
      "Service",
      "PersistentVolumeClaim",
      "ServiceAccount",
      "Role",
      "RoleBinding",
      "ClusterRole",
      "ClusterRoleBinding",
      "Secret",
      "ServiceMonitor",
    ]
  ) {
    assert.ok(kinds.includes(kind), `no template renders a ${kind}`);
  }
});

// ---------------------------------------------------------------------------
// Regressions of the original chart
// ---------------------------------------------------------------------------

for (const side of ["client", "server"] as const) {
  const other = side === "client" ? "server" : "client";

  Deno.test(`helm: the ${side} PVC template uses the ${side}'s values (regression: swapped PVCs)`, () => {
    const name = `${side}-pvc.yaml`;
    const source = templates.get(name)!;
    const refs = valuesRefs(source);
    assert.ok(
      refs.includes(`${side}.pvc.enabled`),
      `${name} must be guarded by ${side}.pvc.enabled`,
    );
    assert.ok(refs.includes(`${side}.pvc.storage`));
    assert.ok(refs.includes(`${side}.pvc.storageClassName`));
    assert.deepEqual(
      refs.filter((path) => !path.startsWith(`${side}.`)),
      [],
      `${name} reads other values`,
    );
    assert.ok(!source.includes(`wormhole.${other}.`), `${name} names the ${other}'s objects`);
    // No other template creates a PVC.
    for (const template of manifests) {
      if (template === name || template === `${other}-pvc.yaml`) continue;
      assert.ok(!/kind:\s*PersistentVolumeClaim/.test(templates.get(template)!), template);
    }
    const { tokens, docs } = parsed(name);
    assert.equal(docs.length, 1);
    assert.equal(
      tokenAction(get(docs[0], "metadata.name"), tokens),
      `include "wormhole.${side}.pvcName" .`,
    );
  });

  Deno.test(`helm: the ${side} keeps its state in the mounted state volume (regression: rejected clients)`, () => {
    const name = `${side}-deployment.yaml`;
    const { docs, tokens } = parsed(name);
    const deployment = docOf(name, "Deployment");
    assert.equal(docs.length, 1);
    const pod = get(deployment, "spec.template.spec") as Obj;
    const [container] = pod.containers as Obj[];
    const args = parseArgs((container.args as unknown[]).map((arg) => argText(arg, tokens)));
    assert.equal(args.command, side);
    const stateDir = args.flags.get("state-dir")?.[0];
    assert.equal(stateDir, STATE_DIR);
    const mounts = (container.volumeMounts as Obj[]).filter((mount) =>
      mount.mountPath === stateDir
    );
    assert.equal(mounts.length, 1, `nothing is mounted at --state-dir ${stateDir}`);
    const volume = (pod.volumes as Obj[]).find((v) => v.name === mounts[0].name);
    assert.ok(volume, `no volume ${mounts[0].name}`);
    // Both branches are in the skeleton: the component's PVC, else an emptyDir.
    assert.equal(
      tokenAction(get(volume, "persistentVolumeClaim.claimName"), tokens),
      `include "wormhole.${side}.pvcName" .`,
    );
    assert.deepEqual(volume.emptyDir, {});
    const source = templates.get(name)!;
    assert.match(
      source,
      new RegExp(`\\{\\{- if \\.Values\\.${side}\\.pvc\\.enabled \\}\\}\\s*persistentVolumeClaim:`),
    );
  });
}

// ---------------------------------------------------------------------------
// Pods
// ---------------------------------------------------------------------------

function container(side: "client" | "server"): { pod: Obj; container: Obj; tokens: string[] } {
  const name = `${side}-deployment.yaml`;
  const { tokens } = parsed(name);
  const pod = get(docOf(name, "Deployment"), "spec.template.spec") as Obj;
  return { pod, container: (pod.containers as Obj[])[0], tokens };
}

Deno.test("helm: the server runs with Kubernetes integration on all interfaces", () => {
  const { container: c, tokens } = container("server");
  const { flags } = parseArgs((c.args as unknown[]).map((arg) => argText(arg, tokens)));
  assert.deepEqual(flags.get("kubernetes"), [""]);
  assert.deepEqual(flags.get("listen-host"), ["0.0.0.0"]);
  assert.deepEqual(flags.get("admin-host"), ["0.0.0.0"]);
  assert.deepEqual(flags.get("admin-port"), ["8081"]);
  assert.deepEqual(flags.get("port"), ["8080"]);
  assert.deepEqual(flags.get("acceptor"), ["<.Values.server.acceptor>"]);
  assert.deepEqual(flags.get("kubernetes-namespace"), [
    '<(include "wormhole.server.kubernetesNamespace" .)>',
  ]);
  assert.deepEqual(flags.get("kubernetes-labels"), [
    '<(include "wormhole.server.kubernetesLabels" .)>',
  ]);
  assert.equal(
    helpers.get("wormhole.server.kubernetesNamespace"),
    "{{- default .Release.Namespace .Values.server.kubernetes.namespace -}}",
  );
  assert.deepEqual(flags.get("state-dir"), [STATE_DIR]);
  // Optional flags (the skeleton keeps every branch).
  assert.deepEqual(flags.get("network-policies"), [""]);
  assert.deepEqual(flags.get("path"), ["<.Values.server.path>"]);
  assert.deepEqual(flags.get("port-range"), ["<.Values.server.portRange>"]);
  assert.deepEqual(flags.get("tls-cert"), ["/etc/wormhole/tls/tls.crt"]);
});

for (const side of ["server", "client"] as const) {
  Deno.test(`helm: the ${side} gets its admin token from its Secret as WORMHOLE_ADMIN_TOKEN`, () => {
    const { container: c, tokens } = container(side);
    const token = (c.env as Obj[]).find((e) => e.name === "WORMHOLE_ADMIN_TOKEN");
    assert.equal(get(token, "valueFrom.secretKeyRef.key"), "admin-token");
    assert.equal(
      tokenAction(get(token, "valueFrom.secretKeyRef.name"), tokens),
      `include "wormhole.${side}.adminTokenSecret" .`,
    );
    const name = `${side}-admin-token-secret.yaml`;
    const secret = parsed(name);
    assert.equal(tokenAction(get(secret.docs[0], "metadata.name"), secret.tokens), "$name");
    assert.match(
      templates.get(name)!,
      new RegExp(`\\$name := include "wormhole\\.${side}\\.adminTokenSecret" \\.`),
    );
    assert.ok("admin-token" in (secret.docs[0].data as Obj));
  });
}

Deno.test("helm: --kubernetes-labels lists the labels of the server pod, which its Services select", () => {
  const pairs = (text: string, sep: string) =>
    text.split(sep === ":" ? "\n" : ",").map((line) => {
      const at = line.indexOf(sep);
      return `${line.slice(0, at).trim()}=${line.slice(at + 1).trim()}`;
    });
  const selector = pairs(helpers.get("wormhole.server.selectorLabels")!, ":");
  const listed = helpers.get("wormhole.server.kubernetesLabels")!;
  const [fixed, extra] = listed.split("\n{{- range");
  assert.deepEqual(pairs(fixed, "="), selector);
  assert.match(`{{- range${extra}`, /range \$key, \$value := \.Values\.server\.kubernetes\.labels/);
  // The extra labels are on the pod too.
  assert.ok(
    toYamlRefs(templates.get("server-deployment.yaml")!).includes("server.kubernetes.labels"),
  );
  // The pod carries the selector labels (compared by the action that renders each value).
  const { docs, tokens } = parsed("server-deployment.yaml");
  const resolve = (labels: unknown) =>
    Object.fromEntries(
      Object.entries(labels as Obj).map((
        [key, value],
      ) => [key, tokenAction(value, tokens) ?? value]),
    );
  const selectorLabels = resolve(get(docs[0], "spec.selector.matchLabels"));
  const podLabels = resolve(get(docs[0], "spec.template.metadata.labels"));
  assert.deepEqual(Object.keys(selectorLabels).sort(), [
    "app.kubernetes.io/component",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/name",
  ]);
  for (const [key, value] of Object.entries(selectorLabels)) {
    assert.equal(podLabels[key], value, `pod label ${key}`);
  }
  // The chart's own Services select the pod by the same labels.
  for (const name of ["server-service.yaml", "server-admin-service.yaml"]) {
    assert.match(
      templates.get(name)!,
      /selector:\n\s+\{\{- include "wormhole\.server\.selectorLabels" \. \| nindent 4 \}\}/,
    );
  }
  assert.match(
    templates.get("server-deployment.yaml")!,
    /matchLabels:\n\s+\{\{- include "wormhole\.server\.selectorLabels" \. \| nindent 6 \}\}/,
  );
});

Deno.test("helm: the client args are client flags, with --server and --name required", () => {
  const { container: c, tokens } = container("client");
  const { flags } = parseArgs((c.args as unknown[]).map((arg) => argText(arg, tokens)));
  assert.match(flags.get("server")![0], /required ".*" \.Values\.client\.serverDsn/);
  assert.match(flags.get("name")![0], /required ".*" \.Values\.client\.name/);
  assert.deepEqual(flags.get("kubernetes"), [""]);
  assert.deepEqual(flags.get("admin-port"), ["8081"]);
  for (const name of flags.keys()) assert.ok(name in CLIENT_FLAGS);
});

for (const side of ["client", "server"] as const) {
  Deno.test(`helm: the ${side} pod runs as uid 1337 with a read-only root and no capabilities`, () => {
    const { pod, container: c, tokens } = container(side);
    assert.deepEqual(pod.securityContext, {
      runAsUser: 1337,
      runAsGroup: 1337,
      runAsNonRoot: true,
      fsGroup: 1337,
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.deepEqual(c.securityContext, {
      readOnlyRootFilesystem: true,
      privileged: false,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
    });
    // WORMHOLE_<X>_PORT service-link variables would be read as flags.
    assert.equal(pod.enableServiceLinks, false);
    assert.equal(
      tokenAction(pod.serviceAccountName, tokens),
      `include "wormhole.${side}.fullname" .`,
    );
    assert.equal(get(c, "livenessProbe.httpGet.path"), "/healthz");
    assert.equal(get(c, "readinessProbe.httpGet.path"), "/readyz");
    assert.equal(get(c, "livenessProbe.httpGet.port"), "admin");
    const ports = (c.ports as Obj[]).map((port) => [port.name, port.containerPort]);
    assert.ok(ports.some(([name, port]) => name === "admin" && port === 8081));
    // Every writable path is a volume.
    const mounts = (c.volumeMounts as Obj[]).map((mount) => mount.mountPath).sort();
    assert.deepEqual(mounts.filter((path) => path !== "/etc/wormhole/tls"), ["/tmp", STATE_DIR]);
  });
}

Deno.test("helm: RBAC — the client reads Services cluster-wide, the server manages them in its namespace", () => {
  const clusterRole = docOf("client-rbac.yaml", "ClusterRole");
  assert.deepEqual(clusterRole.rules, [
    { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] },
  ]);
  const binding = docOf("client-rbac.yaml", "ClusterRoleBinding");
  assert.deepEqual(get(binding, "roleRef.kind"), "ClusterRole");
  assert.equal((binding.subjects as Obj[])[0].kind, "ServiceAccount");

  const { tokens } = parsed("server-rbac.yaml");
  const role = docOf("server-rbac.yaml", "Role");
  const write = ["get", "list", "watch", "create", "update", "patch", "delete"];
  // The skeleton keeps the networkPolicies and the replicas > 1 branches.
  assert.deepEqual(role.rules, [
    { apiGroups: [""], resources: ["services"], verbs: write },
    { apiGroups: ["networking.k8s.io"], resources: ["networkpolicies"], verbs: write },
    { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: write },
    { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: write },
  ]);
  assert.match(
    templates.get("server-rbac.yaml")!,
    /\{\{- if \.Values\.server\.networkPolicies \}\}\s*- apiGroups: \["networking\.k8s\.io"\]/,
  );
  assert.equal(
    tokenAction(get(role, "metadata.namespace"), tokens),
    'include "wormhole.server.kubernetesNamespace" .',
  );
  const roleBinding = docOf("server-rbac.yaml", "RoleBinding");
  assert.equal(get(roleBinding, "roleRef.kind"), "Role");
  assert.equal(
    tokenAction(get(roleBinding, "metadata.namespace"), tokens),
    'include "wormhole.server.kubernetesNamespace" .',
  );
  assert.match(
    templates.get("server-deployment.yaml")!,
    /\{\{- if \.Values\.server\.networkPolicies \}\}\s*- --network-policies/,
  );
});

Deno.test("helm: Services — tunnel on 8080 of server.service.type, admin on 8081", () => {
  const { tokens } = parsed("server-service.yaml");
  const tunnel = docOf("server-service.yaml", "Service");
  assert.equal(tokenAction(get(tunnel, "spec.type"), tokens), ".Values.server.service.type");
  assert.deepEqual(get(tunnel, "spec.ports"), [
    { name: "tunnel", port: 8080, targetPort: "tunnel", protocol: "TCP" },
  ]);
  const admin = docOf("server-admin-service.yaml", "Service");
  assert.equal(get(admin, "spec.type"), "ClusterIP");
  assert.deepEqual(get(admin, "spec.ports"), [
    { name: "admin", port: 8081, targetPort: "admin", protocol: "TCP" },
  ]);
});

Deno.test("helm: NOTES.txt explains how to approve a client", () => {
  const notes = templates.get("NOTES.txt")!;
  assert.match(
    notes,
    /exec deploy\/\{\{ include "wormhole\.server\.fullname" \. \}\} -- wormhole requests list/,
  );
  assert.match(notes, /-- wormhole requests accept <FINGERPRINT>/);
  assert.match(notes, /wormhole\.glothriel\.github\.com\/exposed=yes/);
  assert.match(notes, /in the Secret \{\{ include "wormhole\.client\.adminTokenSecret" \. \}\}/);
});

Deno.test("helm: the flags the chart uses are known to the program", () => {
  for (const [side, known] of [["client", CLIENT_FLAGS], ["server", SERVER_FLAGS]] as const) {
    const { container: c, tokens } = container(side);
    const { flags } = parseArgs((c.args as unknown[]).map((arg) => argText(arg, tokens)));
    for (const name of flags.keys()) assert.ok(name in known, `${side}: --${name}`);
  }
  assert.throws(() => parseArgs(["server", "--no-such-flag"]), /unknown flag/);
  assert.throws(() => parseArgs(["client", "--kubernetes=yes"]), /takes no value/);
});

Deno.test("helm: with networkPolicies the server's tunnel and admin ports stay reachable", () => {
  // The per-app policies the server creates select its pod, which denies all other ingress.
  const source = templates.get("server-networkpolicy.yaml")!;
  assert.match(source, /\.Values\.server\.networkPolicies/);
  const policy = docOf("server-networkpolicy.yaml", "NetworkPolicy");
  const [rule] = get(policy, "spec.ingress") as { ports: { port: number }[]; from?: unknown }[];
  assert.deepEqual(rule.ports.map((p) => p.port).sort(), [8080, 8081]);
  assert.equal(rule.from, undefined, "from anywhere");
});

// ---------------------------------------------------------------------------
// Rendered with the Go template engine (tests/deploy/chart.ts), as helm template renders
// ---------------------------------------------------------------------------

const chartOnDisk = loadChart(CHART);
const deno = JSON.parse(Deno.readTextFileSync(new URL("../deno.json", import.meta.url)));

function rendered(options: RenderOptions): Manifest[] {
  return renderChart(chartOnDisk, { namespace: "wormhole", ...options }).manifests;
}

function containerOf(manifests: Manifest[], name: string): Obj {
  const deployment = manifests.find((m) => m.kind === "Deployment" && m.metadata.name === name);
  assert.ok(deployment, `no Deployment ${name}`);
  return (get(deployment, "spec.template.spec.containers") as Obj[])[0];
}

const BOTH = [
  "server.enabled=true,client.enabled=true,client.name=edge-1",
  "client.serverDsn=ws://wormhole-server:8080/wh/tunnel",
];

Deno.test("helm: the image is what deploy/docker builds, wormhole:<appVersion>, pulled only if missing", () => {
  const manifests = rendered({ set: BOTH });
  for (const name of ["wormhole-server", "wormhole-client"]) {
    const container = containerOf(manifests, name);
    assert.equal(container.image, `wormhole:${deno.version}`);
    assert.equal(container.imagePullPolicy, "IfNotPresent");
  }
  const pushed = rendered({
    set: [...BOTH, "docker.registry=registry.example.com/team/,docker.version=dev"],
  });
  assert.equal(
    containerOf(pushed, "wormhole-server").image,
    "registry.example.com/team/wormhole:dev",
  );
  // The README builds and loads exactly that tag before installing the chart.
  const readme = Deno.readTextFileSync(new URL("../README.md", import.meta.url));
  const kubernetes = readme.slice(readme.indexOf("## Kubernetes"));
  assert.match(
    kubernetes,
    new RegExp(
      `docker build -f deploy/docker/Dockerfile -t wormhole:${
        deno.version.replaceAll(".", "\\.")
      } \\.`,
    ),
  );
  assert.match(kubernetes, /kind load docker-image wormhole:/);
  assert.match(kubernetes, /k3d image import wormhole:/);
  // Every tag the docs build or load is the program's version (a version bump updates them all).
  for (const path of ["../README.md", "../deploy/README.md", "../deploy/docker/Dockerfile"]) {
    const text = Deno.readTextFileSync(new URL(path, import.meta.url));
    const tags = [...text.matchAll(/\bwormhole:(\d[\w.-]*)/g)].map((match) => match[1]);
    assert.ok(tags.length > 0, `${path} names no wormhole:<version> image`);
    assert.deepEqual([...new Set(tags)], [deno.version], path);
  }
});

Deno.test("helm: the client reads Services through a Role per listed namespace, else a ClusterRole", () => {
  const clusterWide = rendered({ set: BOTH }).filter((m) =>
    m.metadata.name === "wormhole-wormhole-client"
  );
  assert.deepEqual(clusterWide.map((m) => m.kind), ["ClusterRole", "ClusterRoleBinding"]);

  const listed = rendered({ set: [...BOTH, "client.kubernetes.namespaces={apps,web}"] })
    .filter((m) => m.metadata.name === "wormhole-wormhole-client");
  assert.deepEqual(
    listed.map((m) => `${m.kind} ${m.metadata.namespace}`),
    ["Role apps", "RoleBinding apps", "Role web", "RoleBinding web"],
  );
  for (const object of listed) {
    if (object.kind === "Role") {
      assert.deepEqual(object.rules, [
        { apiGroups: [""], resources: ["services"], verbs: ["get", "list", "watch"] },
      ]);
    } else {
      assert.deepEqual(object.roleRef, {
        apiGroup: "rbac.authorization.k8s.io",
        kind: "Role",
        name: "wormhole-wormhole-client",
      });
      assert.deepEqual(object.subjects, [
        { kind: "ServiceAccount", name: "wormhole-client", namespace: "wormhole" },
      ]);
    }
  }
  const args = containerOf(
    rendered({ set: [...BOTH, "client.kubernetes.namespaces={apps,web}"] }),
    "wormhole-client",
  ).args as string[];
  assert.ok(args.includes("--kubernetes-namespaces=apps,web"));
});

for (const side of ["server", "client"] as const) {
  Deno.test(`helm: the ${side}'s admin token — existingSecret as is; a generated one is made once and kept`, () => {
    const name = `wormhole-${side}-admin-token`;
    const secretOf = (manifests: Manifest[]) =>
      manifests.find((m) => m.kind === "Secret" && m.metadata.name === name);
    const tokenRef = (manifests: Manifest[]) =>
      (containerOf(manifests, `wormhole-${side}`).env as Obj[])
        .find((e) => e.name === "WORMHOLE_ADMIN_TOKEN");
    // Both sides in one release: each has a Secret of its own.
    const render = (set: string[], cluster?: Manifest[]) =>
      rendered({ set: [...BOTH, ...set], cluster });

    const existing = render([`${side}.adminToken.existingSecret=ops`]);
    assert.equal(secretOf(existing), undefined, "no Secret of the chart's own");
    assert.deepEqual(tokenRef(existing), {
      name: "WORMHOLE_ADMIN_TOKEN",
      valueFrom: { secretKeyRef: { name: "ops", key: "admin-token" } },
    });

    // First install: generated; helm uninstall keeps it.
    const first = secretOf(render([]))!;
    const token = atob((first.data as Record<string, string>)["admin-token"]);
    assert.match(token, /^[A-Za-z0-9]{40}$/);
    assert.equal(
      (first.metadata.labels as Record<string, string>)["app.kubernetes.io/component"],
      side,
    );
    assert.equal(
      (first.metadata.annotations as Record<string, string>)["helm.sh/resource-policy"],
      "keep",
    );
    assert.deepEqual(tokenRef(render([])), {
      name: "WORMHOLE_ADMIN_TOKEN",
      valueFrom: { secretKeyRef: { name, key: "admin-token" } },
    });
    // An upgrade (or a reinstall after uninstall) finds it in the cluster and keeps it.
    const again = secretOf(render([], [first]))!;
    assert.equal(atob((again.data as Record<string, string>)["admin-token"]), token);
    // Without a cluster (helm template) every render generates a new one, as values.yaml says.
    const other = secretOf(render([]))!;
    assert.notEqual(atob((other.data as Record<string, string>)["admin-token"]), token);
    // An explicit value wins over both.
    const fixed = secretOf(render([`${side}.adminToken.value=chosen`], [first]))!;
    assert.equal(atob((fixed.data as Record<string, string>)["admin-token"]), "chosen");
  });
}

Deno.test("helm: both ServiceMonitors scrape /metrics with their side's admin token", () => {
  const manifests = rendered({ set: [...BOTH, "metrics.serviceMonitor.enabled=true"] });
  for (const side of ["server", "client"]) {
    const monitor = manifests.find((m) =>
      m.kind === "ServiceMonitor" && m.metadata.name === `wormhole-${side}`
    );
    assert.deepEqual(get(monitor, "spec.endpoints"), [{
      port: "admin",
      path: "/metrics",
      interval: "30s",
      bearerTokenSecret: { name: `wormhole-${side}-admin-token`, key: "admin-token" },
    }]);
  }
});

Deno.test("helm: state lives in a Secret by default (no PVC needed), RBAC limited to that Secret's name", () => {
  for (const side of ["server", "client"] as const) {
    assert.equal(get(values, `${side}.state.backend`), "kubernetes");
    const { container: c, tokens } = container(side);
    const env = new Map((c.env as Obj[]).map((e) => [e.name, tokenAction(e.value, tokens)]));
    assert.equal(env.get("WORMHOLE_STATE"), `.Values.${side}.state.backend | quote`);
    assert.equal(
      env.get("WORMHOLE_STATE_SECRET"),
      `include "wormhole.${side}.stateSecret" . | quote`,
    );
    const name = `${side}-state-rbac.yaml`;
    assert.match(
      templates.get(name)!,
      new RegExp(
        `\\{\\{- if and \\.Values\\.${side}\\.enabled \\(eq \\.Values\\.${side}\\.state\\.backend "kubernetes"\\) \\}\\}`,
      ),
    );
    const role = docOf(name, "Role");
    assert.deepEqual(
      (role.rules as Obj[]).map((rule) => [
        rule.resources,
        rule.verbs,
        (rule.resourceNames as unknown[] | undefined)?.length,
      ]),
      [[["secrets"], ["get", "list", "watch", "update"], 1], [["secrets"], ["create"], undefined]],
    );
    const binding = docOf(name, "RoleBinding");
    assert.equal(
      tokenAction((binding.subjects as Obj[])[0].name, parsed(name).tokens),
      `include "wormhole.${side}.fullname" .`,
    );
  }
  assert.equal(
    helpers.get("wormhole.server.stateSecret"),
    '{{- default (include "wormhole.server.pvcName" .) .Values.server.state.secretName -}}',
  );
});

Deno.test("helm: every branch of every template renders to valid objects with known flags", () => {
  // One render with every optional value set, one with the file state backend and PVCs, and the
  // name overrides: each template branch renders at least once.
  const everything: Record<string, unknown> = {
    nameOverride: "wh",
    docker: { registry: "registry.example.com", pullSecrets: [{ name: "regcred" }] },
    client: {
      enabled: true,
      name: "edge-1",
      serverDsn: "wss://wormhole.example.com/wh/tunnel",
      serverFingerprint: "a".repeat(40),
      expose: ["db=postgres.default:5432"],
      priorityClassName: "high",
      affinity: { nodeAffinity: {} },
      nodeSelector: { disk: "ssd" },
      tolerations: [{ key: "edge", operator: "Exists" }],
      kubernetes: { namespaces: ["apps"] },
    },
    server: {
      enabled: true,
      acceptor: "dummy",
      path: "/tunnel",
      portRange: "31000-31099",
      tls: { secretName: "wormhole-tls" },
      networkPolicies: true,
      service: { type: "LoadBalancer", annotations: { "example.com/lb": "internal" } },
      kubernetes: { namespace: "proxies", labels: { team: "net" } },
      priorityClassName: "high",
    },
    metrics: { serviceMonitor: { enabled: true, labels: { release: "prom" } } },
  };
  const renders = [
    renderChart(chartOnDisk, { release: "edge", namespace: "ns", valuesFiles: [everything] }),
    renderChart(chartOnDisk, {
      release: "central-wormhole",
      namespace: "ns",
      set: [
        ...BOTH,
        "fullnameOverride=tunnels",
        "server.state.backend=file,server.pvc.enabled=true",
        "client.state.backend=file,client.pvc.enabled=true",
      ],
    }),
  ];
  const seen = new Set<string>();
  for (const { manifests, notes } of renders) {
    assert.ok(notes && !notes.includes("<no value>"), "NOTES.txt renders");
    for (const object of manifests) {
      seen.add(object.kind);
      const where = `${object.kind} ${object.metadata.name}`;
      assert.match(object.metadata.name, /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, where);
      assert.ok(object.metadata.name.length <= 63, where);
      const clusterScoped = ["ClusterRole", "ClusterRoleBinding"].includes(object.kind);
      assert.equal(object.metadata.namespace === undefined, clusterScoped, where);
      if (object.kind !== "Deployment") continue;
      const container = (get(object, "spec.template.spec.containers") as Obj[])[0];
      const args = container.args as string[];
      const { command, flags } = parseArgs(args);
      assert.deepEqual(
        [...flags.keys()].filter((flag) =>
          !(command === "server" ? SERVER_FLAGS : CLIENT_FLAGS)[flag]
        ),
        [],
        where,
      );
    }
  }
  for (
    const kind of ["Deployment", "Service", "Secret", "NetworkPolicy", "ServiceMonitor", "Role"]
  ) {
    assert.ok(seen.has(kind), `no ${kind} rendered`);
  }
  const server = containerOf(renders[0].manifests, "edge-wh-server");
  assert.ok((server.args as string[]).includes("--tls-cert=/etc/wormhole/tls/tls.crt"));
  assert.equal(server.image, `registry.example.com/wormhole:${deno.version}`);
});

Deno.test("helm: server.replicas > 1 runs --ha with a PodDisruptionBudget, soft anti-affinity, the pod's name and IP, and RBAC for EndpointSlices and Leases", () => {
  const render = (set: string[]) =>
    renderChart(chartOnDisk, { release: "wormhole", namespace: "wh", set: [...BOTH, ...set] })
      .manifests;
  const rules = (manifests: Manifest[]) =>
    ((manifests.find((m) => m.kind === "Role" && m.metadata.name === "wormhole-server") as Obj)
      .rules as Obj[]).map((rule) => (rule.resources as string[])[0]);
  const one = render([]);
  const single = one.find((m) => m.kind === "Deployment" && m.metadata.name === "wormhole-server")!;
  assert.equal(get(single, "spec.replicas"), 1);
  assert.equal(get(single, "spec.strategy.type"), "Recreate");
  assert.equal(get(single, "spec.template.spec.affinity"), undefined);
  assert.ok(!(containerOf(one, "wormhole-server").args as string[]).includes("--ha"));
  assert.ok(!one.some((m) => m.kind === "PodDisruptionBudget"));
  assert.deepEqual(rules(one), ["services"]);

  const two = render(["server.replicas=2"]);
  const ha = two.find((m) => m.kind === "Deployment" && m.metadata.name === "wormhole-server")!;
  assert.equal(get(ha, "spec.replicas"), 2);
  assert.equal(get(ha, "spec.strategy.type"), "RollingUpdate");
  const selector = get(ha, "spec.selector.matchLabels");
  assert.deepEqual(get(ha, "spec.template.spec.affinity"), {
    podAntiAffinity: {
      preferredDuringSchedulingIgnoredDuringExecution: [{
        weight: 100,
        podAffinityTerm: {
          topologyKey: "kubernetes.io/hostname",
          labelSelector: { matchLabels: selector },
        },
      }],
    },
  });
  const server = containerOf(two, "wormhole-server");
  assert.ok((server.args as string[]).includes("--ha"));
  const env = new Map(
    (server.env as Obj[]).map((e) => [e.name, get(e, "valueFrom.fieldRef.fieldPath")]),
  );
  assert.equal(env.get("POD_NAME"), "metadata.name");
  assert.equal(env.get("POD_IP"), "status.podIP");
  const pdb = two.find((m) => m.kind === "PodDisruptionBudget")!;
  assert.equal(pdb.apiVersion, "policy/v1");
  assert.deepEqual(pdb.spec, { minAvailable: 1, selector: { matchLabels: selector } });
  assert.deepEqual(rules(two), ["services", "endpointslices", "leases"]);

  const own = render(["server.replicas=3", "server.affinity.nodeAffinity.x=y"]);
  assert.deepEqual(
    get(
      own.find((m) => m.kind === "Deployment" && m.metadata.name === "wormhole-server"),
      "spec.template.spec.affinity",
    ),
    { nodeAffinity: { x: "y" } },
  );
  assert.throws(
    () => render(["server.replicas=2", "server.state.backend=file"]),
    /server\.replicas > 1 needs server\.state\.backend=kubernetes/,
  );
  assert.throws(() => render(["server.replicas=0"]), /server\.replicas must be at least 1/);
});

Deno.test("helm: both directions — Services for the apps offered to the client, and the namespaces the server offers from", () => {
  const plain = rendered({ set: BOTH });
  const plainArgs = containerOf(plain, "wormhole-client").args as string[];
  assert.ok(plainArgs.includes("--server-name=central"));
  assert.ok(
    !plainArgs.some((arg) => arg.startsWith("--kubernetes-labels")),
    "no Services: no labels",
  );
  assert.ok(!plain.some((m) => m.metadata.name === "wormhole-client-offers"), "no Role by default");
  const serverArgs = containerOf(plain, "wormhole-server").args as string[];
  assert.ok(
    !serverArgs.some((arg) => arg.startsWith("--kubernetes-namespaces")),
    "its own by default",
  );

  const manifests = rendered({
    set: [
      ...BOTH,
      "client.offers.proxyServices.enabled=true,client.offers.proxyServices.labels.tier=edge",
      "client.offers.serverName=hq,server.offers.namespaces={db,cache}",
    ],
  });
  const args = containerOf(manifests, "wormhole-client").args as string[];
  for (
    const arg of [
      "--server-name=hq",
      "--kubernetes-namespace=wormhole",
      "--kubernetes-labels=app.kubernetes.io/name=wormhole,app.kubernetes.io/instance=wormhole," +
      "app.kubernetes.io/component=client,tier=edge",
    ]
  ) assert.ok(args.includes(arg), `${arg} in ${args}`);
  const pod = manifests.find((m) =>
    m.kind === "Deployment" && m.metadata.name === "wormhole-client"
  )!;
  assert.equal(get(pod, "spec.template.metadata.labels.tier"), "edge");
  const role = manifests.find((m) =>
    m.kind === "Role" && m.metadata.name === "wormhole-client-offers"
  )!;
  assert.equal(role.metadata.namespace, "wormhole");
  assert.deepEqual(role.rules, [{
    apiGroups: [""],
    resources: ["services"],
    verbs: ["get", "list", "watch", "create", "update", "patch", "delete"],
  }]);
  assert.ok((containerOf(manifests, "wormhole-server").args as string[]).includes(
    "--kubernetes-namespaces=db,cache",
  ));
  const watched = manifests.filter((m) => m.metadata.name === "wormhole-wormhole-server-offers");
  assert.deepEqual(
    watched.map((m) => `${m.kind} ${m.metadata.namespace}`),
    ["Role db", "RoleBinding db", "Role cache", "RoleBinding cache"],
  );
});
