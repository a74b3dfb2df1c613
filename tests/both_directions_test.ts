/**
 * Both directions over one tunnel, in this process: the server offers its
 * own apps (central upstreams) to chosen clients, which listen for them, while
 * the clients' apps are exposed on the server as before. Offers are per peer
 * and authorize the streams the server dials; a client that predates offers
 * gets none.
 */

import assert from "node:assert/strict";
import {
  decodeAppAnnounce,
  decodeAppWithdraw,
  decodeHello,
  FrameKind,
  HelloFeature,
  Logger,
  ResetCode,
  StreamResetError,
  WormholeClient,
} from "../mod.ts";
import { clientMetrics, serverMetrics } from "../src/metrics/mod.ts";
import { identities } from "../src/crypto/testing.ts";
import { until } from "../src/testing.ts";
import { olderServer, portOf, rawPeer, Setup } from "./harness/in_process.ts";
import {
  connect,
  echoUpstream,
  eventually,
  exchange,
  randomBytes,
  readAll,
  sha256,
  writeAll,
} from "./harness/net.ts";

const MiB = 1024 * 1024;

/** The listener port of the app `app` the server offers `client`, once it listens. */
async function offeredPort(
  client: { offered(): { app: string; listenPort: number }[] },
  app: string,
): Promise<number> {
  await until(() => client.offered().some((o) => o.app === app), `${app} offered`);
  return client.offered().find((o) => o.app === app)!.listenPort;
}

Deno.test("both directions: an edge app and a central app at once on one tunnel, 64 MiB sha256-exact each way", async () => {
  const ids = await identities();
  await using edgeUpstream = echoUpstream();
  await using centralUpstream = echoUpstream();
  await using setup = await Setup.start(ids.server, {
    offers: [{ name: "db", host: "127.0.0.1", port: centralUpstream.port }],
  });
  const client = setup.client(ids.client, "edge-1", [
    { name: "web", host: "127.0.0.1", port: edgeUpstream.port },
  ]);
  await client.ready();
  const toEdge = await portOf(setup.server, "edge-1", "web");
  const toCenter = await offeredPort(client, "db");
  assert.deepEqual(client.offered().map(({ app, peer }) => ({ app, peer })), [
    { app: "db", peer: "central" },
  ]);

  const up = randomBytes(64 * MiB);
  const down = randomBytes(64 * MiB);
  const [toCenterEcho, toEdgeEcho] = await Promise.all([
    exchange(toCenter, up),
    exchange(toEdge, down),
  ]);
  assert.equal(await sha256(toCenterEcho), await sha256(up));
  assert.equal(await sha256(toEdgeEcho), await sha256(down));
  assert.equal(centralUpstream.accepted, 1);
  assert.equal(edgeUpstream.accepted, 1);

  // Metrics tell the two flows apart, on both sides.
  const size = 64 * MiB;
  const serverText = serverMetrics(() => setup.server.stats());
  const clientText = clientMetrics(() => client.stats());
  const line = (labels: string) => new RegExp(`^wormhole_bytes_total\\{${labels}\\} ${size}$`, "m");
  const has = async (metrics: { metrics(): Promise<string> }, labels: string) =>
    line(labels).test(await metrics.metrics());
  for (
    const [metrics, labels] of [
      [serverText, 'peer="edge-1",app="db",direction="in",flow="to-center"'],
      [serverText, 'peer="edge-1",app="web",direction="out",flow="to-edge"'],
      [clientText, 'app="db",direction="out",flow="to-center"'],
      [clientText, 'app="web",direction="in",flow="to-edge"'],
    ] as const
  ) {
    await eventually(() => has(metrics, labels), labels);
  }
});

Deno.test("both directions: an offer restricted to peer A is invisible to B, and B's forged stream open is reset, never dialled", async () => {
  const ids = await identities();
  await using db = echoUpstream();
  await using open = echoUpstream();
  const lines: string[] = [];
  await using setup = await Setup.start(ids.server, {
    logger: new Logger({ format: "json", sink: (line) => lines.push(line) }),
    offers: [
      { name: "db", host: "127.0.0.1", port: db.port, peers: ["edge-a"] },
      { name: "public", host: "127.0.0.1", port: open.port },
    ],
  });
  const a = setup.client(ids.client, "edge-a", []);
  await a.ready();
  await offeredPort(a, "db");
  await offeredPort(a, "public");

  await using b = await rawPeer(setup.server, ids.other, "edge-b", HelloFeature.Offers);
  const forged = b.mux.open("db");
  await assert.rejects(forged.read(), (error) => {
    assert.ok(error instanceof StreamResetError);
    assert.equal(error.code, ResetCode.UnknownApp);
    return true;
  });
  // The reset was sent after the offers B was told about, so they are all here.
  assert.deepEqual(
    b.controls.map((f) => [f.kind, decodeAppAnnounce(f.payload).name]),
    [[FrameKind.AppOffer, "public"]],
  );
  assert.equal(db.accepted, 0, "the forged open was never dialled");
  const refusal = lines.map((line) => JSON.parse(line))
    .find((line) => line.msg === "refusing a stream: the app is not offered to this peer");
  assert.ok(refusal, "the refusal is logged");
  assert.equal(refusal.peer, "edge-b");
  assert.equal(refusal.app, "db");
  assert.equal(refusal.flow, "to-center");
  assert.equal(b.mux.isClosed, false, "B stays connected");

  // B may use what is offered to it.
  const allowed = b.mux.open("public");
  await allowed.write(new TextEncoder().encode("hi"));
  const got = await allowed.read();
  assert.equal(new TextDecoder().decode(got!), "hi");
  allowed.reset(ResetCode.Aborted, "done");
  await until(() => open.connections.size === 0, "the upstream connection closed");
});

Deno.test("both directions: a client that predates offers is told nothing and cannot use an offer", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  await using setup = await Setup.start(ids.server, {
    offers: [{ name: "public", host: "127.0.0.1", port: upstream.port }],
  });
  await using old = await rawPeer(setup.server, ids.client, "edge-old", 0);
  setup.server.setOffers([
    { name: "public", host: "127.0.0.1", port: upstream.port },
    { name: "later", host: "127.0.0.1", port: upstream.port },
  ]);
  const forged = old.mux.open("public");
  await assert.rejects(forged.read(), StreamResetError);
  assert.deepEqual(old.controls, [], "no offer frame reached the older client");
  assert.equal(old.mux.isClosed, false);
  assert.equal(upstream.accepted, 0);
});

Deno.test("both directions: a client that asks for offers works with a server that predates them, and gets none", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  await using server = await olderServer(ids.server);
  const client = new WormholeClient({
    server: server.url,
    name: "edge-1",
    identity: ids.client,
    serverFingerprints: [ids.server.fingerprint],
    apps: [{ name: "web", host: "127.0.0.1", port: upstream.port }],
    keepaliveMs: 60_000,
  });
  client.start();
  try {
    await client.ready();
    await until(() => server.controls.length === 2, "the hello and the app announced");
    assert.equal(decodeHello(server.controls[0].payload).features, HelloFeature.Offers);
    assert.equal(server.controls[1].kind, FrameKind.AppAnnounce);
    assert.deepEqual(decodeAppAnnounce(server.controls[1].payload).name, "web");
    assert.deepEqual(client.offered(), []);
    assert.equal(client.state, "connected");
  } finally {
    await client.close();
  }
});

Deno.test("both directions: a withdrawn offer closes the client's listener and resets its live connections", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  const db = { name: "db", host: "127.0.0.1", port: upstream.port };
  await using setup = await Setup.start(ids.server, { offers: [db] });
  const client = setup.client(ids.client, "edge-1", []);
  await client.ready();
  const port = await offeredPort(client, "db");
  const conn = await connect(port);
  await writeAll(conn, new TextEncoder().encode("ping"));
  const echoed = new Uint8Array(4);
  let at = 0;
  while (at < 4) at += (await conn.read(echoed.subarray(at)))!;
  assert.equal(new TextDecoder().decode(echoed), "ping");

  setup.server.setOffers([]);
  await until(() => client.offered().length === 0, "the offer withdrawn");
  // The live connection ends without its half-close: reset, or at best an EOF.
  const ended = await readAll(conn).then((rest) => rest.length, () => -1);
  assert.ok(ended <= 0, `the live connection ended (read ${ended})`);
  conn.close();
  await assert.rejects(connect(port), Deno.errors.ConnectionRefused);
  await until(() => upstream.connections.size === 0, "the upstream connection closed");

  // Offered again: the same port comes back.
  setup.server.setOffers([db]);
  assert.equal(await offeredPort(client, "db"), port);
});

Deno.test("both directions: offers follow a peer list change: a peer taken off the list loses the offer", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  const db = { name: "db", host: "127.0.0.1", port: upstream.port };
  await using setup = await Setup.start(ids.server, { offers: [{ ...db, peers: ["edge-1"] }] });
  await using peer = await rawPeer(setup.server, ids.client, "edge-1", HelloFeature.Offers);
  await until(() => peer.controls.length === 1, "the offer");
  setup.server.setOffers([{ ...db, peers: ["edge-2"] }]);
  await until(() => peer.controls.length === 2, "the withdrawal");
  assert.equal(peer.controls[1].kind, FrameKind.AppOfferWithdraw);
  assert.equal(decodeAppWithdraw(peer.controls[1].payload), "db");
  const forged = peer.mux.open("db");
  await assert.rejects(forged.read(), StreamResetError);
  assert.equal(upstream.accepted, 0);
});
