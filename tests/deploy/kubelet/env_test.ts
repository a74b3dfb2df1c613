/** The kubelet's environment rules, and the image read from the Dockerfile. */

import assert from "node:assert/strict";
import type { Manifest } from "../chart.ts";
import {
  ContainerConfigError,
  containerEnv,
  expand,
  type PodFacts,
  serviceLinkVars,
} from "./env.ts";
import { readImage } from "./image.ts";

const pod: PodFacts = {
  name: "web-abc",
  namespace: "ns",
  uid: "u-1",
  podIP: "127.0.0.9",
  nodeName: "node",
  serviceAccountName: "sa",
  labels: { app: "web" },
  annotations: {},
};

const objects: Manifest[] = [
  {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s", namespace: "ns" },
    data: { token: btoa("t0k") },
  },
  {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "c", namespace: "ns" },
    data: { A: "1", B: "2" },
  },
];

const services = [
  {
    name: "kubernetes",
    namespace: "default",
    clusterIP: "127.0.1.1",
    ports: [{ name: "https", port: 443 }],
  },
  {
    name: "wormhole-server",
    namespace: "ns",
    clusterIP: "127.0.1.2",
    ports: [{ name: "tunnel", port: 8080 }],
  },
];

function env(container: Record<string, unknown>, podSpec: Record<string, unknown> = {}) {
  return containerEnv({
    container,
    podSpec,
    pod,
    objects,
    services,
    imageEnv: { PATH: "/bin", X: "image" },
  });
}

Deno.test("kubelet env: $(VAR) expands known variables, $$ escapes, unknown ones stay", () => {
  assert.equal(expand("--ns=$(NS) $(NOPE) $$(NS) $$", { NS: "a" }), "--ns=a $(NOPE) $(NS) $");
});

Deno.test("kubelet env: envFrom first, env after (later wins), valueFrom from Secrets, ConfigMaps and the pod", () => {
  const vars = env({
    envFrom: [{ configMapRef: { name: "c" } }, { prefix: "P_", secretRef: { name: "s" } }],
    env: [
      { name: "A", value: "override" },
      { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
      { name: "TOKEN", valueFrom: { secretKeyRef: { name: "s", key: "token" } } },
      { name: "REF", value: "$(NS)/$(TOKEN)" },
      { name: "X", value: "pod" },
    ],
  }, { enableServiceLinks: false });
  assert.equal(vars.A, "override");
  assert.equal(vars.B, "2");
  assert.equal(vars.P_token, "t0k");
  assert.equal(vars.NS, "ns");
  assert.equal(vars.IP, "127.0.0.9");
  assert.equal(vars.APP, "web");
  assert.equal(vars.REF, "ns/t0k");
  assert.equal(vars.X, "pod", "the pod's env wins over the image's");
  assert.equal(vars.HOSTNAME, "web-abc");
  assert.equal(vars.KUBERNETES_SERVICE_HOST, "127.0.1.1");
  assert.equal(vars.KUBERNETES_SERVICE_PORT, "443");
  assert.equal(vars.WORMHOLE_SERVER_SERVICE_HOST, undefined, "enableServiceLinks: false");
});

Deno.test("kubelet env: Service links name every port of the pod's namespace unless disabled", () => {
  const vars = env({});
  assert.equal(vars.WORMHOLE_SERVER_PORT, "tcp://127.0.1.2:8080");
  assert.equal(vars.WORMHOLE_SERVER_SERVICE_PORT_TUNNEL, "8080");
  assert.deepEqual(Object.keys(serviceLinkVars(services[1])).sort(), [
    "WORMHOLE_SERVER_PORT",
    "WORMHOLE_SERVER_PORT_8080_TCP",
    "WORMHOLE_SERVER_PORT_8080_TCP_ADDR",
    "WORMHOLE_SERVER_PORT_8080_TCP_PORT",
    "WORMHOLE_SERVER_PORT_8080_TCP_PROTO",
    "WORMHOLE_SERVER_SERVICE_HOST",
    "WORMHOLE_SERVER_SERVICE_PORT",
    "WORMHOLE_SERVER_SERVICE_PORT_TUNNEL",
  ]);
});

Deno.test("kubelet env: a missing Secret or key fails the container unless optional", () => {
  const ref = (name: string, key: string, optional?: boolean) => ({
    env: [{ name: "V", valueFrom: { secretKeyRef: { name, key, optional } } }],
  });
  assert.throws(() => env(ref("nope", "token")), ContainerConfigError);
  assert.throws(() => env(ref("s", "nope")), /couldn't find key nope in Secret ns\/s/);
  assert.equal(env(ref("nope", "token", true)).V, undefined);
});

Deno.test("image: the Dockerfile's final stage — entrypoint, user, workdir, env, state dir", () => {
  const image = readImage();
  assert.deepEqual(image.entrypoint, ["wormhole"]);
  assert.deepEqual([image.uid, image.gid], [1337, 1337]);
  assert.equal(image.workdir, "/var/lib/wormhole");
  assert.equal(image.env.WORMHOLE_STATE_DIR, "/var/lib/wormhole");
  assert.deepEqual(image.ownedDirs, ["/var/lib/wormhole"]);
  assert.equal(image.binary, "/usr/local/bin/wormhole");
});
