/**
 * Kubernetes mode's command line: the defaults it applies, its flag errors,
 * and that local mode never loads kubernetes-fluent-client.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Command } from "commander";
import { serverCommand } from "../src/cli/server_command.ts";
import { runWormhole, tempDir } from "./harness/process.ts";

const ROOT = new URL("../", import.meta.url);

interface GraphModule {
  specifier: string;
  dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
}

/** Specifiers reachable from `root`: statically only, or also through dynamic imports. */
async function reachable(root: string, followDynamic: boolean): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", root],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "deno info failed");
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    roots: string[];
    modules: GraphModule[];
  };
  const modules = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const stack = [...graph.roots];
  while (stack.length > 0) {
    const specifier = stack.pop()!;
    if (seen.has(specifier)) continue;
    seen.add(specifier);
    for (const dep of modules.get(specifier)?.dependencies ?? []) {
      if (dep.code && (followDynamic || !dep.isDynamic)) stack.push(dep.code.specifier);
    }
  }
  return seen;
}

Deno.test("kubernetes: the CLI loads kubernetes-fluent-client only through the dynamic import", async () => {
  const isFluent = (s: string) =>
    s.includes("kubernetes-fluent-client") || s.endsWith("/src/k8s/fluent.ts");
  const statically = await reachable("src/cli/main.ts", false);
  assert.ok(statically.has(new URL("src/k8s/mod.ts", ROOT).href), "sanity: k8s/mod.ts is loaded");
  assert.deepEqual([...statically].filter(isFluent), []);
  // Not vacuous: the client is there, behind `loadKubeApi()`'s import().
  const all = await reachable("src/cli/main.ts", true);
  assert.ok([...all].some(isFluent), "the fluent client is reachable dynamically");
});

/** Parses server args without running the server; returns the options the action would get. */
async function serverOptions(args: string[]): Promise<Record<string, unknown>> {
  const command: Command = serverCommand().exitOverride();
  let options: Record<string, unknown> = {};
  command.action((opts: Record<string, unknown>) => {
    options = opts;
  });
  await command.parseAsync(args, { from: "user" });
  return options;
}

Deno.test("kubernetes: --kubernetes binds all interfaces and uses ports 30000-30499 unless told", async () => {
  const local = await serverOptions([]);
  assert.equal(local.listenHost, "127.0.0.1");
  assert.equal(local.portRange, undefined);

  const labels = ["--kubernetes-labels", "app=wormhole, tier=edge"];
  const kube = await serverOptions(["--kubernetes", ...labels]);
  assert.equal(kube.listenHost, "0.0.0.0");
  assert.deepEqual(kube.portRange, { from: 30000, to: 30499 });
  assert.equal(kube.unexposeGrace, 10_000);

  const explicit = await serverOptions([
    "--kubernetes",
    ...labels,
    "--listen-host",
    "127.0.0.1",
    "--port-range",
    "31000-31009",
  ]);
  assert.equal(explicit.listenHost, "127.0.0.1");
  assert.deepEqual(explicit.portRange, { from: 31000, to: 31009 });

  Deno.env.set("WORMHOLE_LISTEN_HOST", "127.0.0.2");
  try {
    assert.equal((await serverOptions(["--kubernetes", ...labels])).listenHost, "127.0.0.2");
  } finally {
    Deno.env.delete("WORMHOLE_LISTEN_HOST");
  }

  assert.deepEqual(kube.kubernetesLabels, { app: "wormhole", tier: "edge" });
  await assert.rejects(serverOptions(["--kubernetes"]), /--kubernetes needs --kubernetes-labels/);
});

Deno.test("kubernetes: bad or missing flags exit 2 with a message naming them", async () => {
  await using state = await tempDir();
  const base = [
    "--port",
    "0",
    "--admin-port",
    "0",
    "--acceptor",
    "dummy",
    "--state-dir",
    state.path,
  ];
  const cases: [string[], RegExp][] = [
    [["server", "--kubernetes-labels", "app"], /--kubernetes-labels.*"app" is not key=value/],
    [["server", "--kubernetes-namespace", "Not_A_Namespace"], /--kubernetes-namespace/],
    [["server", "--unexpose-grace", "soon"], /--unexpose-grace/],
    [
      ["server", "--kubernetes", "--kubernetes-namespace", "wormhole", ...base],
      /--kubernetes needs --kubernetes-labels/,
    ],
    [["client", "--kubernetes-upstream", "pod-ip"], /--kubernetes-upstream.*dns, cluster-ip/],
    [["client", "--kubernetes-namespaces", ","], /--kubernetes-namespaces/],
    [["client", "--kubernetes-failure-limit", "0"], /--kubernetes-failure-limit/],
  ];
  for (const [args, message] of cases) {
    const result = await runWormhole(args, { KUBECONFIG: "/nonexistent" });
    assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, message, args.join(" "));
  }
});

Deno.test("kubernetes: --help lists the Kubernetes flags", async () => {
  const server = await runWormhole(["server", "--help"]);
  for (
    const flag of [
      "--kubernetes",
      "--kubernetes-namespace",
      "--kubernetes-labels",
      "--network-policies",
      "--unexpose-grace",
    ]
  ) {
    assert.ok(server.stdout.includes(flag), flag);
  }
  const client = await runWormhole(["client", "--help"]);
  for (
    const flag of [
      "--kubernetes",
      "--kubernetes-namespaces",
      "--kubernetes-upstream",
      "--cluster-domain",
      "--kubernetes-failure-limit",
      "--kubernetes-failure-window",
    ]
  ) {
    assert.ok(client.stdout.includes(flag), flag);
  }
});

Deno.test("kubernetes: --ha takes its identity from POD_NAME/POD_IP and refuses what cannot work", async () => {
  const ha = [
    "--kubernetes",
    "--kubernetes-labels",
    "app=wormhole",
    "--state",
    "kubernetes",
    "--ha",
  ];
  const saved = { name: Deno.env.get("POD_NAME"), ip: Deno.env.get("POD_IP") };
  Deno.env.set("POD_NAME", "wormhole-server-7d9f-abcde");
  Deno.env.set("POD_IP", "10.1.2.3");
  try {
    const options = await serverOptions(ha);
    assert.equal(options.replicaName, "wormhole-server-7d9f-abcde");
    assert.equal(options.advertiseAddress, "10.1.2.3");
    assert.deepEqual(
      [options.leaseDuration, options.leaseRenewDeadline, options.leaseRetryPeriod],
      [15_000, 10_000, 2_000],
    );
    const explicit = await serverOptions([
      ...ha,
      "--replica-name",
      "a",
      "--advertise-address",
      "fd00::2",
    ]);
    assert.equal(explicit.replicaName, "a");
    assert.equal(explicit.advertiseAddress, "fd00::2");
    Deno.env.set("POD_IP", "not-an-ip");
    await assert.rejects(serverOptions(ha), /POD_IP: "not-an-ip" is not an IPv4 or IPv6 address/);
    Deno.env.delete("POD_IP");
    await assert.rejects(
      serverOptions(ha),
      /--ha needs --advertise-address \(or the POD_IP variable/,
    );
  } finally {
    for (const [key, value] of [["POD_NAME", saved.name], ["POD_IP", saved.ip]] as const) {
      if (value === undefined) Deno.env.delete(key);
      else Deno.env.set(key, value);
    }
  }
  assert.equal((await serverOptions(["--ha"])).replicaName, undefined, "no --kubernetes: no --ha");
  await assert.rejects(
    serverOptions(["--kubernetes", "--kubernetes-labels", "a=b", "--ha"]),
    /--ha needs --state kubernetes/,
  );
  await assert.rejects(
    serverOptions([...ha, "--advertise-address", "1.2.3.4", "--lease-renew-deadline", "20s"]),
    /--lease-renew-deadline must be shorter than --lease-duration/,
  );
  await assert.rejects(
    serverOptions([...ha, "--advertise-address", "1.2.3.4", "--lease-retry-period", "10s"]),
    /--lease-retry-period must be shorter than --lease-renew-deadline/,
  );
  const bad = await runWormhole(["server", "--advertise-address", "example.com"]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--advertise-address.*"example.com" is not an IPv4 or IPv6 address/);
});
