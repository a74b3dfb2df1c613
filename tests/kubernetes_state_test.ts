/**
 * The Kubernetes state backend (one Secret) through kubernetes-fluent-client
 * against the fake API server, in process, with a real kubeconfig: created
 * when missing, 409 conflicts retried, outside edits (kubectl) followed by
 * the watch, unreadable data named by Secret and key.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type KubeApi, loadKubeApi, SecretStateBackend } from "../src/k8s/mod.ts";
import { APPROVALS_ENTRY, ApprovalStore } from "../src/server/mod.ts";
import { StateStore } from "../src/state/mod.ts";
import {
  type FakeKube,
  kubectl,
  kubectlMissing,
  startFakeKube,
  UNDICI_TIMER,
  usingKubeconfig,
} from "./fake_kube/mod.ts";

const api: KubeApi = await loadKubeApi();
const missingKubectl = await kubectlMissing();
const SECRET = "wormhole-server-state";

async function withKube(fn: (kube: FakeKube) => Promise<void>): Promise<void> {
  await using kube = await startFakeKube();
  using _config = usingKubeconfig(kube.kubeconfigPath);
  await fn(kube);
}

function open(): Promise<StateStore> {
  return StateStore.open(new SecretStateBackend(api, "wh", SECRET));
}

Deno.test(
  "kubernetes state: a missing Secret is created at the first change, Opaque, base64, labelled",
  UNDICI_TIMER,
  async () => {
    await withKube(async (kube) => {
      const store = await open();
      assert.equal(store.version, "");
      assert.equal(kube.get("Secret", "wh", SECRET), undefined, "reading creates nothing");
      await store.update(() => ({ "server-key.pem": "PEM TEXT", [APPROVALS_ENTRY]: "{}\n" }));
      const secret = kube.get("Secret", "wh", SECRET)!;
      assert.equal(secret.type, "Opaque");
      assert.deepEqual(secret.data, {
        "server-key.pem": btoa("PEM TEXT"),
        [APPROVALS_ENTRY]: btoa("{}\n"),
      });
      assert.equal(secret.metadata.labels?.["app.kubernetes.io/managed-by"], "wormhole");
      assert.equal(store.version, secret.metadata.resourceVersion);
      const reopened = await open();
      assert.equal(reopened.get("server-key.pem"), "PEM TEXT");
    });
  },
);

Deno.test(
  "kubernetes state: a stale write gets 409, re-reads and re-applies its change",
  UNDICI_TIMER,
  async () => {
    await withKube(async (kube) => {
      const first = ApprovalStore.open(await open());
      await first.approve("a".repeat(40), "edge");
      const second = ApprovalStore.open(await open());
      await second.approve("b".repeat(40), "core");
      const puts: string[] = [];
      kube.onRequest = (request) => {
        if (request.method !== "GET") puts.push(request.method);
      };
      // `first` read before `second` wrote: its PUT conflicts, it reads again and PUTs again.
      await first.approve("c".repeat(40), "far");
      kube.onRequest = undefined;
      assert.deepEqual(puts, ["PUT", "PUT"]);
      const stored = ApprovalStore.open(await open());
      assert.deepEqual(stored.list().map((p) => p.name), ["core", "edge", "far"]);
    });
  },
);

Deno.test({
  name:
    "kubernetes state: outside edits with kubectl patch and kubectl edit are seen through the watch",
  ignore: missingKubectl !== undefined,
  ...UNDICI_TIMER,
  async fn() {
    await withKube(async (kube) => {
      const store = await open();
      await store.update(() => ({ "ports.json": "1" }));
      store.follow();
      const changes: string[][] = [];
      store.onChange((keys) => changes.push(keys));
      await kube.waitFor(() => kube.openWatchCount === 1);
      await kubectl(
        kube.env,
        ...["patch", "secret", SECRET, "-n", "wh", "--type", "merge", "-p"],
        JSON.stringify({ stringData: { "denied.json": "edited" } }),
      );
      await kube.waitFor(() => store.get("denied.json") === "edited");
      assert.deepEqual(changes, [["denied.json"]]);
      // kubectl edit, with an "editor" that rewrites one value of the YAML it is handed.
      const editor = `${kube.tempDir}/editor.sh`;
      await Deno.writeTextFile(
        editor,
        `#!/bin/sh\nsed -i 's/ports.json: .*/ports.json: ${btoa("by hand")}/' "$1"\n`,
      );
      await Deno.chmod(editor, 0o755);
      await kubectl({ ...kube.env, KUBE_EDITOR: editor }, "edit", "secret", SECRET, "-n", "wh");
      await kube.waitFor(() => store.get("ports.json") === "by hand");
      assert.deepEqual(changes, [["denied.json"], ["ports.json"]]);
      // The next write starts from the edited Secret: nothing is lost.
      await store.update(() => ({ "ports.json": "2" }));
      const data = kube.get("Secret", "wh", SECRET)!.data as Record<string, string>;
      assert.deepEqual(Object.keys(data).sort(), ["denied.json", "ports.json"]);
      // Deleted: created again at the next change.
      await kubectl(kube.env, "delete", "secret", SECRET, "-n", "wh");
      await kube.waitFor(() => store.get("ports.json") === undefined);
      await store.update(() => ({ "ports.json": "3" }));
      assert.ok(kube.get("Secret", "wh", SECRET));
      await store.close();
    });
  },
});

Deno.test(
  "kubernetes state: data that cannot be read is an error naming the Secret and the key",
  UNDICI_TIMER,
  async () => {
    await withKube(async (kube) => {
      kube.put({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: SECRET, namespace: "wh" },
        data: { [APPROVALS_ENTRY]: btoa("{not json") },
      });
      const store = await open();
      assert.throws(
        () => ApprovalStore.open(store),
        /Cannot read key "approved-peers.json" of Secret wh\/wormhole-server-state: not JSON/,
      );
      kube.put({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: SECRET, namespace: "wh" },
        data: { "server-key.pem": new Uint8Array([0xff, 0xfe]).toBase64() },
      });
      await assert.rejects(
        open(),
        /Cannot read key "server-key.pem" of Secret wh\/wormhole-server-state: not UTF-8 text/,
      );
    });
  },
);
