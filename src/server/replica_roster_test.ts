import assert from "node:assert/strict";
import type { PeerInfo } from "./admin.ts";
import { ReplicaRoster, ROSTER_ENTRY } from "./replica_roster.ts";
import type { ExposedApp } from "./server.ts";
import { StateStore } from "../state/mod.ts";
import { SharedDocument } from "../state/testing.ts";

const TRAFFIC = { streamsOpen: 1, streamsTotal: 2, bytesIn: 3, bytesOut: 4 };

/** A server's admin view with settable peers and apps. */
class Local {
  peerList: PeerInfo[] = [];
  appList: ExposedApp[] = [];
  apps(): ExposedApp[] {
    return this.appList;
  }
  peers(): PeerInfo[] {
    return this.peerList;
  }
  ready(): boolean {
    return true;
  }
}

function peer(name: string, connected: boolean): PeerInfo {
  return {
    ...TRAFFIC,
    name,
    fingerprint: name.repeat(40).slice(0, 40),
    connected,
    apps: connected ? ["web"] : [],
    lastSeen: "2026-01-01T00:00:00.000Z",
    ...(connected ? { remote: "10.0.0.9:1", connectedSince: "2026-01-01T00:00:00.000Z" } : {}),
  };
}

async function replicas(now?: () => number) {
  const document = new SharedDocument();
  const make = async (name: string) => {
    const state = await StateStore.open(document.view());
    state.follow();
    const local = new Local();
    const roster = new ReplicaRoster(state, name, { now });
    return { state, local, roster };
  };
  const all = [await make("a"), await make("b")];
  return {
    all,
    async [Symbol.asyncDispose]() {
      for (const r of all) await r.roster.close();
      for (const r of all) await r.state.close();
    },
  };
}

Deno.test("replica roster: /v1/peers and /v1/apps on b show a's peer and app, marked with a", async () => {
  await using cluster = await replicas();
  const [a, b] = cluster.all;
  // Approvals are shared: b knows the peer, offline here.
  a.local.peerList = [peer("edge", true)];
  a.local.appList = [{ peer: "edge", app: "web", endpoint: "edge-web.wh:80" }];
  b.local.peerList = [peer("edge", false), peer("laptop", true)];
  b.local.appList = [{ peer: "laptop", app: "db", endpoint: "laptop-db.wh:5432" }];
  a.roster.attach(a.local);
  b.roster.attach(b.local);
  await a.roster.published();
  await b.roster.published();

  const view = b.roster.view(b.local);
  assert.equal(view.ready(), true, "the rest is b's own");
  assert.deepEqual(view.apps(), [
    { peer: "edge", app: "web", endpoint: "edge-web.wh:80", replica: "a" },
    { peer: "laptop", app: "db", endpoint: "laptop-db.wh:5432", replica: "b" },
  ]);
  const peers = view.peers();
  assert.deepEqual(peers.map((p) => [p.name, p.connected, p.replica]), [
    ["edge", true, "a"],
    ["laptop", true, "b"],
  ]);
  assert.equal(peers[0].remote, "10.0.0.9:1");
  assert.equal(peers[0].bytesIn, 0, "another replica's traffic is not counted here");
  assert.equal(peers[1].bytesIn, 3);

  // a's peer leaves: the roster follows at the next change.
  a.local.peerList = [peer("edge", false)];
  a.local.appList = [];
  a.roster.peerDisconnected();
  await a.roster.published();
  assert.deepEqual(view.peers().map((p) => [p.name, p.connected]), [
    ["edge", false],
    ["laptop", true],
  ]);
  assert.deepEqual(b.roster.apps(b.local.apps()).map((app) => app.replica), ["b"]);
});

Deno.test("replica roster: a closed replica removes its entry; a dead one's lapses", async () => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  await using cluster = await replicas(() => now);
  const [a, b] = cluster.all;
  a.local.peerList = [peer("edge", true)];
  a.roster.attach(a.local);
  await a.roster.published();
  assert.deepEqual(b.roster.peers([]).map((p) => p.replica), ["a"]);
  now += 60_000;
  assert.deepEqual(b.roster.peers([]), [], "not renewed for its lifetime: gone");
  now -= 60_000;
  await a.roster.close();
  assert.deepEqual(b.roster.peers([]), []);
  assert.equal(b.state.get(ROSTER_ENTRY), undefined);
});

Deno.test("replica roster: regression: a's entry lapses on b's clock, not by a's stamp (clocks 61 s apart)", async () => {
  const document = new SharedDocument();
  let now = Date.parse("2026-01-01T00:00:00Z");
  const make = async (name: string, skew: number) => {
    const state = await StateStore.open(document.view());
    state.follow();
    const local = new Local();
    return { state, local, roster: new ReplicaRoster(state, name, { now: () => now + skew }) };
  };
  const a = await make("a", 0);
  const b = await make("b", 61_000);
  try {
    a.local.peerList = [peer("edge", true)];
    a.roster.attach(a.local);
    await a.roster.published();
    assert.deepEqual(b.roster.peers([]).map((p) => p.replica), ["a"]);
    b.roster.attach(b.local);
    await b.roster.published();
    assert.deepEqual(b.roster.peers([]).map((p) => p.replica), ["a"], "b's write keeps a's entry");
    now += 60_000;
    assert.deepEqual(b.roster.peers([]), [], "not renewed for its lifetime on b's clock: gone");
  } finally {
    await a.roster.close();
    await b.roster.close();
    await a.state.close();
    await b.state.close();
  }
});
