/**
 * Kubernetes mode: a second server with `--kubernetes` against the fake API
 * server of tests/fake_kube. A client killed with SIGKILL loses its listeners
 * at once and its proxy Services after `--unexpose-grace`, not before (a
 * quick reconnect keeps them and their ClusterIPs).
 *
 * @module
 */

import { startFakeKube } from "../../../tests/fake_kube/mod.ts";
import { Rig } from "../rig.ts";
import { type Context, since, sleep } from "./context.ts";

const NAMESPACE = "wormhole";
const MANAGED = "app.kubernetes.io/managed-by=wormhole";

/** Kill -9 a client of a Kubernetes-mode server; time its listeners and its Service. */
export async function kubeClientKill(ctx: Context): Promise<void> {
  const { profile, checks } = ctx;
  const graceMs = profile.unexposeGraceSeconds * 1000;
  const scenario = `kubernetes: client kill -9 (grace ${profile.unexposeGraceSeconds} s)`;
  ctx.log(scenario);
  await using kube = await startFakeKube();
  const rig = new Rig(`${ctx.rig.dir}/kube`, ctx.rig.timing, {
    args: [
      "--kubernetes",
      "--kubernetes-namespace",
      NAMESPACE,
      "--kubernetes-labels",
      "app=wormhole-server",
      "--unexpose-grace",
      `${profile.unexposeGraceSeconds}s`,
      // Kubernetes mode binds all interfaces by default; the suite stays on loopback.
      "--listen-host",
      "127.0.0.1",
    ],
    env: { ...kube.env },
  });
  try {
    await rig.startServer();
    const client = rig.startClient("k");
    await rig.approve(client);
    // The client's two apps (echo, sink) get one proxy Service each.
    const owned = () =>
      kube.list("Service", { namespace: NAMESPACE, labelSelector: MANAGED }).map((s) =>
        s.metadata.name
      );
    await rig.waitFor("its two proxy Services", () => Promise.resolve(owned().length === 2));
    const start = performance.now();
    client.process.kill("SIGKILL");
    let listenersMs = NaN;
    let serviceMs = NaN;
    const deadline = graceMs + 10 * profile.keepaliveMs + 10_000;
    while (since(start) < deadline && (Number.isNaN(listenersMs) || Number.isNaN(serviceMs))) {
      if (Number.isNaN(listenersMs) && !(await rig.apps()).some((a) => a.peer === "k")) {
        listenersMs = since(start);
      }
      if (Number.isNaN(serviceMs) && owned().length === 0) serviceMs = since(start);
      await sleep(25);
    }
    checks.atMost(
      scenario,
      "its listeners gone (3 keepalive intervals)",
      listenersMs,
      3 * profile.keepaliveMs,
      "ms",
    );
    const limit = graceMs + 3 * profile.keepaliveMs;
    checks.add({
      scenario,
      name: "its Services kept for the grace, then gone",
      pass: serviceMs >= graceMs && serviceMs <= limit,
      measured: `${serviceMs} ms`,
      limit: `${graceMs}–${limit} ms`,
      figures: { serviceMs, graceMs, limit },
    });
  } catch (error) {
    checks.error(scenario, error);
  } finally {
    await rig.close();
  }
}
