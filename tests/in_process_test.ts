/**
 * WormholeServer and WormholeClient in this process, on port 0, as a library
 * user runs them (chisel's e2e setup: both ends in one process, wait for the
 * client's `ready()`, tear down in reverse). For logic that needs no process
 * of its own: replacing a peer, withdrawing an app with live connections,
 * revoking, and the counters that must never go back.
 */

import assert from "node:assert/strict";
import { ApprovalStore, ManualAcceptor, type WormholeClient } from "../mod.ts";
import { serverMetrics } from "../src/metrics/mod.ts";
import { identities } from "../src/crypto/testing.ts";
import { until } from "../src/testing.ts";
import { connect, echoUpstream, readAll, writeAll } from "./harness/net.ts";
import { portOf, Setup } from "./harness/in_process.ts";

/** Sends `text` on `conn` and reads back as many bytes (from an echo upstream). */
async function echo(conn: Deno.TcpConn, text: string): Promise<string> {
  const data = new TextEncoder().encode(text);
  await writeAll(conn, data);
  const got = new Uint8Array(data.length);
  let at = 0;
  while (at < got.length) {
    const n = await conn.read(got.subarray(at));
    if (n === null) throw new Error(`Connection ended after ${at} of ${got.length} bytes`);
    at += n;
  }
  return new TextDecoder().decode(got);
}

/** Every `wormhole_*_total` series of a scrape, by its name and labels. */
function counters(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^(wormhole_\w+_total(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (match) out.set(match[1], Number(match[2]));
  }
  return out;
}

Deno.test("in process: a connection that outlives its app's withdrawal keeps counting; scrapes never go back", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  await using setup = await Setup.start(ids.server);
  const { server } = setup;
  const metrics = serverMetrics(() => server.stats());
  const web = { name: "web", host: "127.0.0.1", port: upstream.port };
  const client = setup.client(ids.client, "edge", [web]);
  {
    await client.ready();
    const conn = await connect(await portOf(server, "edge", "web"));
    const scrapes: Map<string, number>[] = [];
    let text = "";
    const scrape = async () => scrapes.push(counters(text = await metrics.metrics()));

    assert.equal(await echo(conn, "hello"), "hello");
    await scrape();
    client.setApps([]);
    await until(() => server.apps().length === 0, "web withdrawn");
    const traffic = () => server.stats().traffic.find((t) => t.app === "web")!;
    assert.equal(traffic().streamsOpen, 1, "the live connection is still open");
    await scrape();
    assert.match(text, /^wormhole_streams_open\{peer="edge",app="web",flow="to-edge"\} 1$/m);

    assert.equal(await echo(conn, "after the withdrawal"), "after the withdrawal");
    await scrape();
    const live = traffic();
    assert.deepEqual(live, {
      peer: "edge",
      app: "web",
      streamsOpen: 1,
      streamsTotal: 1,
      bytesIn: 25,
      bytesOut: 25,
    });
    const { name, streamsOpen, streamsTotal, bytesIn, bytesOut } = server.peers()[0];
    assert.deepEqual(
      { name, streamsOpen, streamsTotal, bytesIn, bytesOut },
      { name: "edge", streamsOpen: 1, streamsTotal: 1, bytesIn: 25, bytesOut: 25 },
      "/v1/peers shows the same ledger",
    );
    const clientTraffic = client.stats().traffic.find((t) => t.app === "web")!;
    assert.equal(clientTraffic.bytesIn, 25, "the client received the caller's 25 bytes");

    await conn.closeWrite();
    await readAll(conn);
    conn.close();
    await until(() => traffic().streamsOpen === 0, "the connection counted as closed");
    await scrape();
    assert.deepEqual(traffic(), { ...live, streamsOpen: 0 });

    const bytes = 'wormhole_bytes_total{peer="edge",app="web",direction="out",flow="to-edge"}';
    assert.deepEqual(scrapes.map((s) => s.get(bytes)), [5, 5, 25, 25]);
    for (let i = 1; i < scrapes.length; i++) {
      for (const [series, value] of scrapes[i - 1]) {
        assert.ok(
          (scrapes[i].get(series) ?? -1) >= value,
          `${series} went from ${value} to ${scrapes[i].get(series)} at scrape ${i}`,
        );
      }
    }
  }
});

Deno.test("in process: a newer connection of a peer replaces the older one and keeps its port", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  await using setup = await Setup.start(ids.server);
  const { server } = setup;
  const web = { name: "web", host: "127.0.0.1", port: upstream.port };
  // Once replaced, the older client waits a minute before it comes back (and
  // replaces the newer one in turn): no jitter takes that wait down; close() ends it.
  const older = setup.client(ids.client, "edge", [web], {
    minMs: 60_000,
    maxMs: 60_000,
    random: () => 0.999,
  });
  {
    await older.ready();
    const port = await portOf(server, "edge", "web");
    const newer = setup.client(ids.client, "edge", [web]);
    await newer.ready();
    await until(() => older.state !== "connected", "the older connection told to go away");
    assert.equal(await portOf(server, "edge", "web"), port);
    assert.deepEqual(server.peerNames(), ["edge"]);
    const conn = await connect(port);
    assert.equal(await echo(conn, "through the newer one"), "through the newer one");
    conn.close();
    assert.equal(server.stats().peersConnected, 1);
    // The dummy acceptor keeps no requests: the admin facade finds nothing to decide.
    assert.deepEqual(server.requests(), []);
    assert.equal(await server.accept(ids.other.fingerprint), false);
    assert.equal(await server.decline(ids.other.fingerprint), false);
  }
});

Deno.test("in process: revoking a peer cuts its connections, denies its key and keeps it out", async () => {
  const ids = await identities();
  await using upstream = echoUpstream();
  const approvals = ApprovalStore.memory();
  await using setup = await Setup.start(ids.server, {
    acceptor: new ManualAcceptor(approvals),
    approvals,
  });
  const { server } = setup;
  const web = { name: "web", host: "127.0.0.1", port: upstream.port };
  const client = setup.client(ids.client, "edge", [web]);
  {
    await until(() => server.requests().length === 1, "a join request");
    assert.equal(server.requests()[0].fingerprint, ids.client.fingerprint);
    assert.equal(await server.accept(ids.client.fingerprint), true);
    await client.ready();
    const conn = await connect(await portOf(server, "edge", "web"));
    assert.equal(await echo(conn, "before"), "before");

    assert.equal(await server.revoke("edge"), true);
    assert.equal((await readAll(conn)).length, 0, "the live connection is closed");
    conn.close();
    assert.deepEqual(server.apps(), []);
    assert.deepEqual(server.denied().map((d) => d.fingerprint), [ids.client.fingerprint]);
    await until(() => (server.stats().handshakeFailures.denied ?? 0) > 0, "a refused comeback");
    assert.notEqual(client.state, "connected");
    assert.deepEqual(server.peers(), []);
    assert.equal(await server.revoke("edge"), false);
  }
});

Deno.test("in process: ready() rejects once the client is closed", async () => {
  const ids = await identities();
  let client: WormholeClient;
  {
    await using setup = await Setup.start(ids.server);
    client = setup.client(ids.client, "edge", []);
    await client.ready();
  }
  await assert.rejects(client.ready(), /closed/);
});
