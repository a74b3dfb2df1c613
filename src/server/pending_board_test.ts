import assert from "node:assert/strict";
import { ManualAcceptor } from "./acceptor.ts";
import { ApprovalStore } from "./approvals.ts";
import { PENDING_ENTRY, PendingBoard } from "./pending_board.ts";
import { StateStore } from "../state/mod.ts";
import { SharedDocument } from "../state/testing.ts";

const FP = "c".repeat(40);

async function replicas(names: string[], now?: () => number) {
  const document = new SharedDocument();
  const all = await Promise.all(names.map(async (name) => {
    const state = await StateStore.open(document.view());
    state.follow();
    const board = new PendingBoard(state, name, { now });
    const approvals = ApprovalStore.open(state);
    return { name, state, board, approvals, acceptor: new ManualAcceptor(approvals, { board }) };
  }));
  return {
    all,
    async [Symbol.asyncDispose]() {
      for (const r of all) await r.acceptor.settled();
      for (const r of all) await r.state.close();
    },
  };
}

function request(signal = new AbortController().signal) {
  return { name: "edge", fingerprint: FP, remote: "10.0.0.9:4000", signal };
}

Deno.test("pending board: a request waiting on replica a is listed on b, and b's accept completes a's handshake", async () => {
  await using cluster = await replicas(["a", "b"]);
  const [a, b] = cluster.all;
  const decision = a.acceptor.decide(request());
  await a.acceptor.settled();
  const listed = b.acceptor.pending();
  assert.equal(listed.length, 1);
  assert.equal(listed[0].replica, "a");
  assert.equal(listed[0].name, "edge");
  assert.equal(listed[0].remote, "10.0.0.9:4000");
  assert.ok(Date.parse(listed[0].expires!) > Date.now());
  assert.deepEqual(a.acceptor.pending().map((r) => r.replica), ["a"]);

  assert.equal(await b.acceptor.accept(FP), true);
  assert.deepEqual(await decision, { accepted: true });
  assert.equal(a.approvals.get(FP)?.name, "edge");
  await a.acceptor.settled();
  assert.deepEqual(b.acceptor.pending(), []);
  assert.equal(b.state.get(PENDING_ENTRY), undefined, "the entry is gone with the last request");
});

Deno.test("pending board: a decline on b refuses the request waiting on a; a closed connection leaves the list", async () => {
  await using cluster = await replicas(["a", "b"]);
  const [a, b] = cluster.all;
  const declined = a.acceptor.decide(request());
  await a.acceptor.settled();
  assert.equal(b.acceptor.decline(FP), true);
  await b.acceptor.settled();
  assert.deepEqual(await declined, { accepted: false, reason: "declined by the operator" });
  await a.acceptor.settled();
  assert.deepEqual(b.acceptor.pending(), []);

  const gone = new AbortController();
  const closed = a.acceptor.decide(request(gone.signal));
  await a.acceptor.settled();
  assert.equal(b.acceptor.pending().length, 1);
  gone.abort();
  assert.deepEqual(await closed, { accepted: false, reason: "connection closed" });
  await a.acceptor.settled();
  assert.deepEqual(b.acceptor.pending(), []);
  assert.equal(await b.acceptor.accept(FP), false);
});

Deno.test("pending board: entries of a replica that stopped renewing expire and are dropped at the next write", async () => {
  let now = Date.parse("2026-01-01T00:00:00Z");
  await using cluster = await replicas(["a", "b"], () => now);
  const [a, b] = cluster.all;
  await a.board.publish([{ fingerprint: FP, name: "edge", remote: "10.0.0.9:1", since: "x" }]);
  assert.equal(b.board.list().length, 1);
  now += a.board.ttlMs;
  assert.deepEqual(b.board.list(), []);
  await b.board.publish([]);
  assert.equal(b.state.get(PENDING_ENTRY), undefined);
});

Deno.test("pending board: regression: entries lapse on the reader's clock, so replicas whose clocks differ by more than the lifetime still see (and keep) each other's", async () => {
  const document = new SharedDocument();
  let now = Date.parse("2026-01-01T00:00:00Z");
  // b's clock runs 61 s ahead of a's: a's fresh entries expire, by their stamp, before b sees them.
  const board = async (name: string, skew: number) => {
    const state = await StateStore.open(document.view());
    state.follow();
    return { state, board: new PendingBoard(state, name, { now: () => now + skew }) };
  };
  const a = await board("a", 0);
  const b = await board("b", 61_000);
  try {
    await a.board.publish([{ fingerprint: FP, name: "edge", remote: "10.0.0.9:1", since: "x" }]);
    assert.deepEqual(b.board.list().map((r) => r.replica), ["a"]);
    await b.board.publish([]);
    assert.deepEqual(b.board.list().map((r) => r.replica), ["a"], "b's write keeps a's entry");
    now += b.board.ttlMs - 1;
    await a.board.publish([{ fingerprint: FP, name: "edge", remote: "10.0.0.9:1", since: "x" }]);
    now += b.board.ttlMs - 1;
    assert.deepEqual(b.board.list().map((r) => r.replica), ["a"], "renewed: still there");
    now += 1;
    assert.deepEqual(b.board.list(), [], "not renewed for a lifetime on b's clock: gone");
  } finally {
    await a.state.close();
    await b.state.close();
  }
});

Deno.test("pending board: regression: a burst of join requests costs one write of the latest list, not one each", async () => {
  const view = new SharedDocument().view();
  let writes = 0;
  const counted = {
    ...view,
    write: (...args: Parameters<typeof view.write>) => {
      writes++;
      return view.write(...args);
    },
  };
  const state = await StateStore.open(counted);
  const board = new PendingBoard(state, "a");
  const acceptor = new ManualAcceptor(ApprovalStore.open(state), { board });
  const gone = new AbortController();
  // 200 fresh keys from 50 addresses in one go, as a flood sends them: each
  // waits, or expires its address's oldest, and each of those changes the list.
  const decisions = [];
  for (let i = 0; i < 200; i++) {
    decisions.push(acceptor.decide({
      name: `edge-${i}`,
      fingerprint: i.toString(16).padStart(40, "0"),
      remote: `10.0.0.${i % 50}:4000`,
      signal: gone.signal,
    }));
  }
  await acceptor.settled();
  assert.equal(writes, 1, `${writes} writes of the shared state`);
  // That one write has the list as it ended.
  const fingerprints = (list: { fingerprint: string }[]) => list.map((r) => r.fingerprint).sort();
  assert.equal(acceptor.pending().length, 32);
  assert.deepEqual(fingerprints(board.list()), fingerprints(acceptor.pending()));
  gone.abort();
  await Promise.all(decisions);
  await acceptor.settled();
  assert.equal(state.get(PENDING_ENTRY), undefined, "the entry is gone with the last request");
  await state.close();
});
