import assert from "node:assert/strict";
import { ApprovalConflictError, DummyAcceptor, ManualAcceptor } from "./acceptor.ts";
import { ApprovalStore } from "./approvals.ts";

const FP_A = "a".repeat(40);
const FP_B = "b".repeat(40);

function request(name: string, fingerprint: string, signal = new AbortController().signal) {
  return { name, fingerprint, remote: "127.0.0.1:1", signal };
}

Deno.test("acceptor: dummy accepts everyone", async () => {
  assert.deepEqual(await new DummyAcceptor().decide(), { accepted: true });
});

Deno.test("acceptor: a request waits until the operator accepts, then the key is approved", async () => {
  const store = ApprovalStore.memory();
  const acceptor = new ManualAcceptor(store);
  const decision = acceptor.decide(request("edge", FP_A));
  assert.deepEqual(acceptor.pending().map((p) => [p.name, p.fingerprint]), [["edge", FP_A]]);
  assert.equal(await acceptor.accept(FP_A), true);
  assert.deepEqual(await decision, { accepted: true });
  assert.equal(store.get(FP_A)?.name, "edge");
  assert.deepEqual(acceptor.pending(), []);
  // Approved now: the next connection is accepted at once.
  assert.deepEqual(await acceptor.decide(request("edge", FP_A)), { accepted: true });
});

Deno.test("acceptor: decline refuses with a reason; unknown fingerprints are reported", async () => {
  const acceptor = new ManualAcceptor(ApprovalStore.memory());
  const decision = acceptor.decide(request("edge", FP_A));
  assert.equal(acceptor.decline(FP_B), false);
  assert.equal(await acceptor.accept(FP_B), false);
  assert.equal(acceptor.decline(FP_A), true);
  assert.deepEqual(await decision, { accepted: false, reason: "declined by the operator" });
});

Deno.test("acceptor: names are pinned to keys, both ways", async () => {
  const store = ApprovalStore.memory();
  await store.approve(FP_A, "edge");
  const acceptor = new ManualAcceptor(store);
  const other = await acceptor.decide(request("edge", FP_B));
  assert.equal(other.accepted, false);
  assert.match((other as { reason: string }).reason, /pinned to another key/);
  const renamed = await acceptor.decide(request("core", FP_A));
  assert.equal(renamed.accepted, false);
  assert.match((renamed as { reason: string }).reason, /approved for the name "edge"/);
});

Deno.test("acceptor: the pending queue is capped and a key's newer request replaces its older", async () => {
  const acceptor = new ManualAcceptor(ApprovalStore.memory(), { maxPending: 1 });
  const first = acceptor.decide(request("edge", FP_A));
  const again = acceptor.decide(request("edge", FP_A));
  assert.deepEqual(await first, {
    accepted: false,
    reason: "replaced by a newer connection of the same key",
  });
  const full = await acceptor.decide(request("core", FP_B));
  assert.deepEqual(full, {
    accepted: false,
    reason: "too many pending requests (1); try again later",
  });
  acceptor.decline(FP_A);
  await again;
});

Deno.test("acceptor: a request whose connection closes leaves the queue", async () => {
  const acceptor = new ManualAcceptor(ApprovalStore.memory());
  const abort = new AbortController();
  const decision = acceptor.decide(request("edge", FP_A, abort.signal));
  abort.abort();
  assert.deepEqual(await decision, { accepted: false, reason: "connection closed" });
  assert.deepEqual(acceptor.pending(), []);
});

Deno.test("acceptor: accepting a key whose name was meanwhile approved for another is a conflict", async () => {
  const store = ApprovalStore.memory();
  const acceptor = new ManualAcceptor(store);
  const abort = new AbortController();
  const decision = acceptor.decide(request("edge", FP_A, abort.signal));
  await store.approve(FP_B, "edge");
  await assert.rejects(acceptor.accept(FP_A), ApprovalConflictError);
  abort.abort();
  await decision;
});
