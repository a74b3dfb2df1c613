/**
 * `--ha` end to end: two real `wormhole server --ha` processes sharing the
 * fake API server (state Secret, Leases, EndpointSlices), advertising
 * 127.0.0.2 and 127.0.0.3 and binding their app listeners there. In front of
 * them a small TCP balancer stands in for the tunnel Service, and a
 * test-side "kube-proxy" routes each connection to the address and port of
 * the proxy Service's EndpointSlice, as kube-proxy does for a selector-less
 * Service. A real client exposes an echo upstream.
 *
 * The failover times printed are measurements for docs/kubernetes.md, not
 * assertions.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type FakeKube, type KubeObject, startFakeKube } from "./fake_kube/mod.ts";
import {
  echoUpstream,
  eventually,
  exchangeText,
  quietPorts,
  TcpUpstream,
  writeAll,
} from "./harness/net.ts";
import {
  runWormhole,
  type ServerProcess,
  startClient,
  startServer,
  tempDir,
} from "./harness/process.ts";

const NS = "wormhole";
const SERVICE = "edge-web";
const REPLICA = "wormhole.glothriel.github.com/replica";

/** Copies `from` to `to` until EOF, then half-closes `to`; any error closes both. */
async function pump(from: Deno.TcpConn, to: Deno.TcpConn): Promise<void> {
  const buffer = new Uint8Array(65536);
  for (;;) {
    const n = await from.read(buffer);
    if (n === null) break;
    await writeAll(to, buffer.subarray(0, n));
  }
  await to.closeWrite();
}

/** Joins two connections both ways; returns once both directions ended. */
async function splice(a: Deno.TcpConn, b: Deno.TcpConn): Promise<void> {
  try {
    await Promise.all([pump(a, b), pump(b, a)]);
  } catch {
    // A side died (a killed replica): the other side sees its connection close.
  } finally {
    try {
      b.close();
    } catch {
      // Already closed.
    }
  }
}

/** Forwards each connection to the first backend that accepts it: the tunnel Service. */
function balancer(backends: () => number[]): TcpUpstream {
  return new TcpUpstream(async (conn) => {
    for (const port of backends()) {
      let upstream: Deno.TcpConn;
      try {
        upstream = await Deno.connect({ hostname: "127.0.0.1", port });
      } catch {
        continue;
      }
      return await splice(conn, upstream);
    }
  });
}

/** kube-proxy for one selector-less Service: each connection goes to its slice's endpoint. */
function kubeProxy(kube: FakeKube, service = SERVICE): TcpUpstream {
  return new TcpUpstream(async (conn) => {
    const slice = kube.get("EndpointSlice", NS, service);
    const address = (slice?.endpoints as { addresses: string[] }[] | undefined)?.[0]?.addresses[0];
    const port = (slice?.ports as { port: number }[] | undefined)?.[0]?.port;
    if (address === undefined || port === undefined) return;
    const upstream = await Deno.connect({ hostname: address, port });
    await splice(conn, upstream);
  });
}

function holder(kube: FakeKube, service = SERVICE): string | undefined {
  return kube.get("EndpointSlice", NS, service)?.metadata.annotations?.[REPLICA];
}

function leaseHolder(kube: FakeKube): string | undefined {
  const lease = kube.get("Lease", NS, "wormhole-leader") as
    | (KubeObject & { spec?: { holderIdentity?: string } })
    | undefined;
  return lease?.spec?.holderIdentity;
}

/** A `--ha` replica on `address` with short lease timings (3 s / 2 s / 500 ms) and a 1 s grace. */
function replicaArgs(name: string, address: string, range: number): string[] {
  return [
    "--kubernetes",
    "--kubernetes-namespace",
    NS,
    "--kubernetes-labels",
    "app=wormhole-server",
    "--state",
    "kubernetes",
    "--ha",
    "--replica-name",
    name,
    "--advertise-address",
    address,
    "--listen-host",
    address,
    "--port-range",
    `${range}-${range + 3}`,
    "--unexpose-grace",
    "1s",
    "--lease-duration",
    "3s",
    "--lease-renew-deadline",
    "2s",
    "--lease-retry-period",
    "500ms",
  ];
}

/**
 * `--ha` replicas started on demand (each on its own address, sharing one
 * port range) and a balancer over the running ones that have not vanished:
 * the tunnel Service. Disposing stops them all (vanished ones with SIGKILL:
 * a SIGSTOP'd process would not hear a SIGTERM).
 */
function replicaFleet(kube: FakeKube, dir: string, names: string[]) {
  const range = quietPorts(4);
  const servers = new Map<string, ServerProcess>();
  const vanished = new Set<string>();
  const lb = balancer(() =>
    names.flatMap((n) => {
      const server = servers.get(n);
      // A vanished node refuses nothing: it just stops answering, so the balancer skips it.
      return server && !vanished.has(n) ? [Number(new URL(server.url).port)] : [];
    })
  );
  return {
    servers,
    vanished,
    /** Starts replica `name` on `address`, with `extra` arguments first. */
    async start(name: string, address: string, extra: string[] = []): Promise<ServerProcess> {
      const server = await startServer(
        `${dir}/${name}`,
        [...extra, ...replicaArgs(name, address, range)],
        kube.env,
      );
      servers.set(name, server);
      return server;
    },
    /** `server`'s tunnel URL with the balancer's port. */
    throughBalancer(server: ServerProcess): string {
      const url = new URL(server.url);
      url.port = String(lb.port);
      return url.href;
    },
    async [Symbol.asyncDispose]() {
      for (const name of vanished) servers.get(name)?.proc.kill("SIGKILL");
      for (const server of servers.values()) await server.proc.stop();
      await lb[Symbol.asyncDispose]();
    },
  };
}

/** Sends `text` on an open connection through an echo upstream and reads it back. */
async function echoOn(conn: Deno.TcpConn, text: string): Promise<string> {
  await writeAll(conn, new TextEncoder().encode(text));
  const buffer = new Uint8Array(text.length);
  let read = 0;
  while (read < text.length) {
    const n = await conn.read(buffer.subarray(read));
    if (n === null) throw new Error(`connection ended after ${read} of ${text.length} bytes`);
    read += n;
  }
  return new TextDecoder().decode(buffer);
}

Deno.test("ha failover, 3 replicas: kill -9 the holder → new connections go through another replica, connections through the others are untouched; the new leader cleans up; SIGTERM moves the client at once", async () => {
  await using kube = await startFakeKube({ namespaces: ["default", "kube-system", NS] });
  await using dir = await tempDir();
  await using echo = echoUpstream();
  await using fleet = replicaFleet(kube, dir.path, ["a", "b", "c"]);
  const { servers, start } = fleet;
  await using proxy = kubeProxy(kube);
  await using otherProxy = kubeProxy(kube, "other-web");
  // a first: it creates the shared key; the others then read it from the Secret.
  const a = await start("a", "127.0.0.2");
  await eventually(() => leaseHolder(kube) === "a", "a leads");
  const b = await start("b", "127.0.0.3");
  const c = await start("c", "127.0.0.4");
  await using client = startClient(fleet.throughBalancer(a), `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `web=${echo.address}`,
    "--keepalive",
    "1s",
  ]);
  // Another peer, on c (dialled directly): its traffic must not notice a's death.
  await using other = startClient(c.url, `${dir.path}/other`, [
    "--name",
    "other",
    "--expose",
    `web=${echo.address}`,
  ]);

  await eventually(() => holder(kube) === "a", "a holds edge's slice");
  await eventually(() => holder(kube, "other-web") === "c", "c holds other's slice");
  const service = kube.get("Service", NS, SERVICE)!;
  assert.equal((service.spec as { selector?: unknown }).selector, undefined);
  assert.equal(await exchangeText(proxy.port, "through a"), "through a");
  const onC = await Deno.connect({ hostname: "127.0.0.1", port: otherProxy.port });
  assert.equal(await echoOn(onC, "through c"), "through c");

  // Mid-traffic: a connection through a is open when a dies.
  const open = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  await writeAll(open, new TextEncoder().encode("x"));
  const killedAt = performance.now();
  a.proc.kill("SIGKILL");
  await a.proc.exited();
  servers.delete("a");
  const buffer = new Uint8Array(16);
  while ((await open.read(buffer).catch(() => null)) !== null) {
    // Drains the echo of "x"; the connection then ends with its replica.
  }
  open.close();

  await eventually(async () => {
    if (holder(kube) !== "b") return false;
    return await exchangeText(proxy.port, "through b").catch(() => "") === "through b";
  }, "new connections through b");
  const failoverMs = Math.round(performance.now() - killedAt);
  assert.equal(kube.get("Service", NS, SERVICE)?.metadata.uid, service.metadata.uid);
  assert.equal(await echoOn(onC, "still through c"), "still through c", "untouched");
  onC.close();
  assert.equal(other.logs.filter((l) => l.msg === "accepted by server").length, 1);

  await eventually(() => ["b", "c"].includes(leaseHolder(kube) ?? ""), "b or c leads");
  const tookOverMs = Math.round(performance.now() - killedAt);
  const leader = servers.get(leaseHolder(kube)!)!;
  await leader.proc.waitForLog("became the leader");
  const metrics = async (server: ServerProcess) => {
    const text = await (await fetch(`${server.admin}/metrics`)).text();
    return text.split("\n").filter((line) => line.startsWith("wormhole_lead")).sort();
  };
  assert.deepEqual(await metrics(leader), [
    "wormhole_leader 1",
    "wormhole_leadership_changes_total 1",
  ]);
  const follower = [...servers.values()].find((server) => server !== leader)!;
  assert.deepEqual(await metrics(follower), [
    "wormhole_leader 0",
    "wormhole_leadership_changes_total 0",
  ]);
  await eventually(
    () => kube.get("Lease", NS, "wormhole-replica-a") === undefined,
    "the leader forgets the dead replica",
  );

  // Graceful: a comes back; SIGTERM on b sends go-away, the client moves to a at once.
  await start("a", "127.0.0.2");
  const terminatedAt = performance.now();
  b.proc.kill("SIGTERM");
  await b.proc.exited();
  servers.delete("b");
  await eventually(async () => {
    if (holder(kube) !== "a") return false;
    return await exchangeText(proxy.port, "back on a").catch(() => "") === "back on a";
  }, "new connections through a again");
  const gracefulMs = Math.round(performance.now() - terminatedAt);
  await eventually(() => ["a", "c"].includes(leaseHolder(kube) ?? ""), "a live replica leads");
  assert.equal(kube.get("Lease", NS, "wormhole-replica-b"), undefined, "b deleted its Lease");

  // The peer leaves for good: a releases the slice, the leader deletes the Service after the grace.
  await client.stop();
  await eventually(() => kube.get("Service", NS, SERVICE) === undefined, "Service collected");
  assert.equal(kube.get("EndpointSlice", NS, SERVICE), undefined);
  assert.equal(holder(kube, "other-web"), "c", "other's Service and slice stay");
  console.log(
    `ha failover: kill -9 of the holder → new connections through another replica in ${failoverMs} ms; ` +
      `leader Lease taken over in ${tookOverMs} ms; SIGTERM → moved in ${gracefulMs} ms`,
  );
});

Deno.test("ha one operator view: a request waiting on replica a is listed by b, and accepting it on b completes a's handshake", async () => {
  await using kube = await startFakeKube({ namespaces: ["default", "kube-system", NS] });
  await using dir = await tempDir();
  await using echo = echoUpstream();
  await using fleet = replicaFleet(kube, dir.path, ["a", "b"]);
  const start = (name: string, address: string) =>
    fleet.start(name, address, ["--acceptor", "server"]);
  const a = await start("a", "127.0.0.2");
  const b = await start("b", "127.0.0.3");
  await using client = startClient(a.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `web=${echo.address}`,
  ]);
  const waiting = await client.waitForLog("waiting for the operator to approve this key");
  const fingerprint = String(waiting.fingerprint);

  const listed = await eventually(async () => {
    const out = await runWormhole(["requests", "list", "--admin", b.admin, "-o", "wide"]);
    assert.equal(out.code, 0, out.stderr);
    return out.stdout.includes(fingerprint) ? out.stdout : undefined;
  }, "b lists the request waiting on a");
  const [head, row] = listed.trim().split("\n");
  assert.match(head, /\bREPLICA$/);
  assert.match(row, new RegExp(`^edge\\s+127\\.0\\.0\\.1:\\d+\\s+.*${fingerprint}.*\\sa$`));

  const accepted = await runWormhole(["requests", "accept", fingerprint, "--admin", b.admin]);
  assert.equal(accepted.code, 0, accepted.stderr);
  await a.proc.waitForLog("peer approved on another replica");
  await eventually(() => holder(kube) === "a", "a holds the accepted peer's slice");
  await client.waitForLog("accepted by server");
  const none = await runWormhole(["requests", "list", "--admin", a.admin, "-o", "json"]);
  assert.deepEqual(JSON.parse(none.stdout), []);

  // b's /v1/peers and /v1/apps show the peer a holds, and its app.
  const apps = await eventually(async () => {
    const out = await runWormhole(["apps", "list", "--admin", b.admin, "-o", "json"]);
    const list = JSON.parse(out.stdout) as { peer: string; app: string; replica?: string }[];
    return list.length > 0 ? list : undefined;
  }, "b lists the app of the peer a holds");
  assert.deepEqual(apps.map(({ peer, app, replica }) => ({ peer, app, replica })), [
    { peer: "edge", app: "web", replica: "a" },
  ]);
  const peers = await runWormhole(["peers", "list", "--admin", b.admin, "-o", "json"]);
  const [edge] = JSON.parse(peers.stdout);
  assert.equal(edge.name, "edge");
  assert.equal(edge.status, "connected");
  assert.equal(edge.replica, "a");
  assert.equal(edge.fingerprint, fingerprint);
});

Deno.test("ha failover when the holder's node vanishes (SIGSTOP: nothing closes its sockets): the client's keepalive notices, new connections go through the other replica", async () => {
  await using kube = await startFakeKube({ namespaces: ["default", "kube-system", NS] });
  await using dir = await tempDir();
  await using echo = echoUpstream();
  await using fleet = replicaFleet(kube, dir.path, ["a", "b"]);
  const { start } = fleet;
  await using proxy = kubeProxy(kube);
  const a = await start("a", "127.0.0.2");
  await eventually(() => leaseHolder(kube) === "a", "a leads");
  await start("b", "127.0.0.3");
  await using client = startClient(fleet.throughBalancer(a), `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `web=${echo.address}`,
    "--keepalive",
    "1s",
  ]);
  await eventually(() => holder(kube) === "a", "a holds the peer's slice");
  assert.equal(await exchangeText(proxy.port, "through a"), "through a");

  const vanishedAt = performance.now();
  Deno.kill(a.proc.pid, "SIGSTOP");
  fleet.vanished.add("a");
  await eventually(async () => {
    if (holder(kube) !== "b") return false;
    return await exchangeText(proxy.port, "through b").catch(() => "") === "through b";
  }, "new connections through b");
  const failoverMs = Math.round(performance.now() - vanishedAt);
  await client.waitForLog((l) => l.msg === "reconnecting");
  await eventually(() => leaseHolder(kube) === "b", "b takes the leader Lease");
  console.log(
    `ha failover, vanished node (client --keepalive 1s): new connections through the other replica in ${failoverMs} ms`,
  );
});

/** A TCP path to the fake API server that can be cut (every connection closed, new ones refused) and restored. */
function cuttable(kube: FakeKube) {
  const target = Number(new URL(kube.url).port);
  const open = new Set<Deno.TcpConn>();
  let cut = false;
  const path = new TcpUpstream(async (conn) => {
    if (cut) return;
    const upstream = await Deno.connect({ hostname: "127.0.0.1", port: target });
    open.add(conn).add(upstream);
    try {
      await splice(conn, upstream);
    } finally {
      open.delete(conn);
      open.delete(upstream);
    }
  });
  return {
    path,
    cut() {
      cut = true;
      for (const conn of open) {
        try {
          conn.close();
        } catch {
          // Closed by its splice already.
        }
      }
      open.clear();
    },
    restore() {
      cut = false;
    },
  };
}

Deno.test("ha: a replica cut off from the API server longer than a lease duration keeps running and its tunnel; the leader takes its slice; once back it writes the slice again", async () => {
  await using kube = await startFakeKube({ namespaces: ["default", "kube-system", NS] });
  await using dir = await tempDir();
  await using echo = echoUpstream();
  const range = quietPorts(4);
  const api = cuttable(kube);
  await using _path = api.path;
  const kubeconfig = `${dir.path}/kubeconfig-a`;
  await Deno.writeTextFile(
    kubeconfig,
    (await Deno.readTextFile(kube.kubeconfigPath)).replace(
      new URL(kube.url).host,
      `127.0.0.1:${api.path.port}`,
    ),
  );
  await using proxy = kubeProxy(kube);
  // b leads, with a direct path; a (which will hold the peer) goes through the cuttable one.
  const b = await startServer(`${dir.path}/b`, replicaArgs("b", "127.0.0.3", range), kube.env);
  await using _b = b.proc;
  await eventually(() => leaseHolder(kube) === "b", "b leads");
  const a = await startServer(`${dir.path}/a`, replicaArgs("a", "127.0.0.2", range), {
    ...kube.env,
    KUBECONFIG: kubeconfig,
  });
  await using _a = a.proc;
  await using client = startClient(a.url, `${dir.path}/client`, [
    "--name",
    "edge",
    "--expose",
    `web=${echo.address}`,
  ]);
  await eventually(() => holder(kube) === "a", "a holds the peer's slice");
  assert.equal(await exchangeText(proxy.port, "before"), "before");

  api.cut();
  // The collector deletes a gone replica's slices first and its Lease after,
  // in separate requests: wait for both.
  await eventually(
    () =>
      kube.get("EndpointSlice", NS, SERVICE) === undefined &&
      kube.get("Lease", NS, "wormhole-replica-a") === undefined,
    "b takes a for gone and removes its slice, then its Lease",
  );
  api.restore();
  await a.proc.waitForLog((l) => String(l.msg).startsWith("this replica's Lease was missing"));
  await eventually(async () => {
    if (holder(kube) !== "a") return false;
    return await exchangeText(proxy.port, "after").catch(() => "") === "after";
  }, "a's slice back, and traffic through it");
  assert.equal(
    client.logs.filter((l) => l.msg === "accepted by server").length,
    1,
    "the tunnel stayed up throughout",
  );
  assert.equal(kube.get("Service", NS, SERVICE) !== undefined, true);
});
