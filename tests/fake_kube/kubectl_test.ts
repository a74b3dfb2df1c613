/**
 * The real kubectl against the fake API server, through the generated kubeconfig. Skipped,
 * with a message, when kubectl is not installed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { kubectl, kubectlMissing, type KubeObject, startFakeKube } from "./mod.ts";

const missing = await kubectlMissing();
if (missing !== undefined) console.log(`kubectl tests skipped: ${missing}`);

Deno.test({
  name: "kubectl: apply --server-side, get, annotate, label, delete",
  ignore: missing !== undefined,
  async fn() {
    await using kube = await startFakeKube();
    kube.put({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "existing", namespace: "default" },
      spec: { ports: [{ port: 80 }] },
    });
    const manifest = `${kube.tempDir}/manifest.yaml`;
    await Deno.writeTextFile(
      manifest,
      [
        "apiVersion: v1",
        "kind: Service",
        "metadata:",
        "  name: api",
        "  namespace: team-a",
        "  labels: {app: api}",
        "spec:",
        "  selector: {app: api}",
        "  ports:",
        "  - {name: http, port: 8080, targetPort: 8080}",
        "---",
        "apiVersion: networking.k8s.io/v1",
        "kind: NetworkPolicy",
        "metadata: {name: deny, namespace: team-a}",
        "spec: {podSelector: {}}",
        "",
      ].join("\n"),
    );

    const applied = await kubectl(kube.env, "apply", "--server-side", "-f", manifest);
    assert.match(applied, /service\/api serverside-applied/);
    assert.match(applied, /networkpolicy.networking.k8s.io\/deny serverside-applied/);
    const stored = kube.get("Service", "team-a", "api")!;
    assert.deepEqual(stored.metadata.managedFields?.map((m) => m.manager), ["kubectl"]);

    const list = JSON.parse(await kubectl(kube.env, "get", "svc", "-A", "-o", "json"));
    assert.deepEqual(
      list.items.map((o: KubeObject) => `${o.metadata.namespace}/${o.metadata.name}`),
      ["default/existing", "team-a/api"],
    );

    assert.match(
      await kubectl(kube.env, "get", "svc", "-n", "team-a"),
      /api\s+ClusterIP\s+10\.96\./,
    );

    await kubectl(kube.env, "annotate", "svc", "-n", "team-a", "api", "wormhole/expose=true");
    await kubectl(kube.env, "label", "svc", "-n", "team-a", "api", "tier=backend");
    const annotated = kube.get("Service", "team-a", "api")!;
    assert.equal(annotated.metadata.annotations?.["wormhole/expose"], "true");
    assert.deepEqual(annotated.metadata.labels, { app: "api", tier: "backend" });

    const reapplied = await kubectl(kube.env, "apply", "--server-side", "-f", manifest);
    assert.match(reapplied, /serverside-applied/);
    const after = kube.get("Service", "team-a", "api")!;
    assert.equal(after.metadata.resourceVersion, annotated.metadata.resourceVersion, "no-op");

    assert.match(await kubectl(kube.env, "delete", "svc", "-n", "team-a", "api"), /deleted/);
    assert.equal(kube.get("Service", "team-a", "api"), undefined);
  },
});

Deno.test({
  name: "kubectl: get svc -w sees a change",
  ignore: missing !== undefined,
  async fn() {
    await using kube = await startFakeKube();
    const child = new Deno.Command("kubectl", {
      args: ["get", "svc", "-A", "-w", "-o", "name"],
      env: kube.env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let output = "";
    try {
      await kube.waitFor(() => kube.openWatchCount === 1);
      kube.put({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "watched", namespace: "default" },
        spec: { ports: [{ port: 80 }] },
      });
      while (!output.includes("service/watched")) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`kubectl get -w ended early: ${output} ${await stderr}`);
        output += value;
      }
    } finally {
      child.kill("SIGTERM");
      for (;;) {
        const { done } = await lines.read();
        if (done) break;
      }
      await child.status;
      await stderr;
    }
    assert.match(output, /service\/watched/);
    const watch = kube.requests.find((r) => r.query.watch === "true");
    assert.ok(watch?.query.resourceVersion, "kubectl watches from the list's resourceVersion");
  },
});

Deno.test({
  name: "kubectl: works with legacy discovery too",
  ignore: missing !== undefined,
  async fn() {
    await using kube = await startFakeKube({ aggregatedDiscovery: false });
    kube.put({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "deny", namespace: "ns1" },
      spec: { podSelector: {} },
    });
    const out = await kubectl(kube.env, "get", "netpol", "-A", "-o", "name");
    assert.equal(out.trim(), "networkpolicy.networking.k8s.io/deny");
    assert.ok(kube.requests.some((r) => r.path === "/apis/networking.k8s.io/v1"));
  },
});

Deno.test({
  name: "kubectl: apply a Secret with stringData, get secret, patch stringData, edit",
  ignore: missing !== undefined,
  async fn() {
    await using kube = await startFakeKube();
    // (`kubectl create secret generic` sends protobuf, which the fake does not speak.)
    const manifest = `${kube.tempDir}/secret.yaml`;
    await Deno.writeTextFile(
      manifest,
      "apiVersion: v1\nkind: Secret\nmetadata: {name: state, namespace: wh}\n" +
        "stringData: {a.json: '{}'}\n",
    );
    const created = await kubectl(kube.env, "apply", "-f", manifest);
    assert.match(created, /secret\/state created/);
    const table = await kubectl(kube.env, "get", "secret", "-n", "wh");
    assert.match(table, /^NAME\s+TYPE\s+DATA\s+AGE\n/);
    assert.match(table, /\nstate\s+Opaque\s+1\s+\d+s\n/);
    await kubectl(
      kube.env,
      ...["patch", "secret", "state", "-n", "wh", "--type", "merge", "-p"],
      JSON.stringify({ stringData: { "b.txt": "from a patch" } }),
    );
    const value = await kubectl(
      kube.env,
      ...["get", "secret", "state", "-n", "wh", "-o", "jsonpath={.data.b\\.txt}"],
    );
    assert.equal(atob(value.trim()), "from a patch");
    // kubectl edit, with an "editor" that replaces one value in the YAML it is given.
    const editor = `${kube.tempDir}/editor.sh`;
    await Deno.writeTextFile(
      editor,
      `#!/bin/sh\nsed -i 's/a.json: .*/a.json: ${btoa("[1]")}/' "$1"\n`,
    );
    await Deno.chmod(editor, 0o755);
    const edited = await kubectl(
      { ...kube.env, KUBE_EDITOR: editor },
      ...["edit", "secret", "state", "-n", "wh"],
    );
    assert.match(edited, /secret\/state edited/);
    const stored = kube.get("Secret", "wh", "state")!;
    assert.deepEqual(stored.data, { "a.json": btoa("[1]"), "b.txt": btoa("from a patch") });
    assert.equal(stored.type, "Opaque");
  },
});

Deno.test({
  name: "kubectl: get endpointslices and leases print the real columns",
  ignore: missing !== undefined,
  async fn() {
    await using kube = await startFakeKube();
    kube.put({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "peer-web",
        namespace: "wh",
        labels: { "kubernetes.io/service-name": "peer-web" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.0.0.7"] }],
      ports: [{ port: 30001, protocol: "TCP" }],
    });
    kube.put({
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "wormhole-leader", namespace: "wh" },
      spec: { holderIdentity: "wormhole-0", leaseDurationSeconds: 15 },
    });
    const slices = await kubectl(kube.env, "get", "endpointslices", "-n", "wh");
    assert.match(slices, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE\n/);
    assert.match(slices, /\npeer-web\s+IPv4\s+30001\s+10\.0\.0\.7\s+\d+s\n/);
    const byService = await kubectl(
      kube.env,
      ...["get", "endpointslices.discovery.k8s.io", "-A", "-o", "name"],
      "-l",
      "kubernetes.io/service-name=peer-web",
    );
    assert.equal(byService.trim(), "endpointslice.discovery.k8s.io/peer-web");
    const leases = await kubectl(kube.env, "get", "leases", "-n", "wh");
    assert.match(leases, /^NAME\s+HOLDER\s+AGE\n/);
    assert.match(leases, /\nwormhole-leader\s+wormhole-0\s+\d+s\n/);
    const holder = await kubectl(
      kube.env,
      ...["get", "lease", "wormhole-leader", "-n", "wh", "-o", "jsonpath={.spec.holderIdentity}"],
    );
    assert.equal(holder, "wormhole-0");
  },
});
