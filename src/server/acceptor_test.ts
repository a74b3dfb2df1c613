import assert from "node:assert/strict";
import { ApprovalConflictError, DummyAcceptor, ManualAcceptor } from "./acceptor.ts";
import { ApprovalStore } from "./approvals.ts";
import { MemoryStateBackend, type StateSnapshot, StateStore } from "../state/mod.ts";

const FP_A = "a".repeat(40);
const FP_B = "b".repeat(40);

function request(name: string, fingerprint: string, signal = new AbortController().signal) {
  return { name, fingerprint, remote: "127.0.0.1:1", signal };
}

/** State in memory whose writes fail while `full` is set, as on a full disk. */
class FullDisk extends MemoryStateBackend {
  full = false;
  override write(
    entries: Readonly<Record<string, string>>,
    base: StateSnapshot,
  ): Promise<StateSnapshot> {
    if (this.full) return Promise.reject(new Error("No space left on device"));
    return super.write(entries, base);
  }
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

function from(remote: string, name: string, fingerprint: string) {
  return { name, fingerprint, remote, signal: new AbortController().signal };
}

Deno.test("acceptor: regression: one address cycling fresh keys expires its own oldest, not others'", async () => {
  const acceptor = new ManualAcceptor(ApprovalStore.memory(), {
    maxPending: 4,
    maxPendingPerRemote: 2,
  });
  const keys = ["1", "2", "3", "4", "5"].map((digit) => digit.repeat(40));
  const legit = acceptor.decide(from("192.0.2.7:5000", "edge", FP_A));
  const squatters = keys.map((key, i) => acceptor.decide(from("198.51.100.1:" + i, `x${i}`, key)));
  // Each squatter past the second expired the oldest of its own address.
  for (const [i, squatter] of squatters.slice(0, 3).entries()) {
    assert.deepEqual(await squatter, {
      accepted: false,
      reason: "expired: more than 2 requests from 198.51.100.1",
    }, `squatter ${i}`);
  }
  assert.deepEqual(
    acceptor.pending().map((p) => p.fingerprint).sort(),
    [FP_A, keys[3], keys[4]].sort(),
  );
  // Enrollment stays open for everyone else.
  const other = acceptor.decide(from("203.0.113.9:1", "core", FP_B));
  assert.deepEqual(acceptor.pending().length, 4);
  for (const fp of [FP_A, FP_B, keys[3], keys[4]]) acceptor.decline(fp);
  await Promise.all([legit, other, ...squatters]);
});

Deno.test("acceptor: regression: a copied hello from another address does not replace the waiting one", async () => {
  const acceptor = new ManualAcceptor(ApprovalStore.memory());
  const real = acceptor.decide(from("192.0.2.7:5000", "edge", FP_A));
  const forged = await acceptor.decide(from("198.51.100.1:6000", "edge", FP_A));
  assert.deepEqual(forged, {
    accepted: false,
    reason: "a request of this key is already waiting from another address",
  });
  assert.deepEqual(acceptor.pending().map((p) => p.remote), ["192.0.2.7:5000"]);
  // The same client reconnecting from its own address replaces its older request.
  const again = acceptor.decide(from("192.0.2.7:5001", "edge", FP_A));
  assert.deepEqual(await real, {
    accepted: false,
    reason: "replaced by a newer connection of the same key",
  });
  assert.equal(await acceptor.accept(FP_A), true);
  assert.deepEqual(await again, { accepted: true });
});

Deno.test("acceptor: IPv6 remotes are grouped by address", async () => {
  const acceptor = new ManualAcceptor(ApprovalStore.memory(), { maxPendingPerRemote: 1 });
  const first = acceptor.decide(from("[2001:db8::1]:1", "a", FP_A));
  const second = acceptor.decide(from("[2001:db8::1]:2", "b", FP_B));
  assert.deepEqual(await first, {
    accepted: false,
    reason: "expired: more than 1 requests from 2001:db8::1",
  });
  acceptor.decline(FP_B);
  await second;
});

Deno.test("acceptor: regression: an approval that cannot be saved is reported and kept nowhere (memory = disk)", async () => {
  const disk = new FullDisk();
  const store = ApprovalStore.open(await StateStore.open(disk));
  const acceptor = new ManualAcceptor(store);
  const decision = acceptor.decide(request("edge", FP_A));
  disk.full = true;
  await assert.rejects(acceptor.accept(FP_A), /No space left on device/);
  // Not approved in memory either (a restart would forget it), and still waiting.
  assert.equal(store.get(FP_A), undefined);
  assert.deepEqual(store.list(), []);
  assert.deepEqual(acceptor.pending().map((p) => p.fingerprint), [FP_A]);
  // Room again: the operator's retry approves it, in memory and in the state.
  disk.full = false;
  assert.equal(await acceptor.accept(FP_A), true);
  assert.deepEqual(await decision, { accepted: true });
  const reopened = ApprovalStore.open(await StateStore.open(disk));
  assert.equal(reopened.get(FP_A)?.name, "edge");
});
