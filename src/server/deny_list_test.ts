import assert from "node:assert/strict";
import { MemoryStateBackend, StateStore } from "../state/mod.ts";
import { DENIED_ENTRY, DenyList, DenyListError } from "./deny_list.ts";

const FP_A = "a".repeat(40);
const FP_B = "b".repeat(40);

Deno.test("deny list: a denial lasts its time, or for good with 0; kept in the state", async () => {
  const backend = new MemoryStateBackend();
  const list = DenyList.open(await StateStore.open(backend));
  const now = Date.now();
  const a = await list.deny(FP_A, "edge", "declined", 60_000);
  await list.deny(FP_B, "core", "revoked", 0);
  assert.equal(list.check(FP_A)?.reason, "declined");
  assert.equal(list.check(FP_A, now + 59_000)?.name, "edge");
  assert.equal(list.check(FP_A, Date.parse(a.until!) + 1), undefined, "expired");
  assert.equal(list.check(FP_B, now + 3650 * 86_400_000)?.until, null);
  // A new process reads the same list.
  const reopened = DenyList.open(await StateStore.open(backend));
  assert.deepEqual(reopened.list().map((d) => d.fingerprint).sort(), [FP_A, FP_B]);
  assert.equal(await reopened.remove(FP_A), true);
  assert.equal(await reopened.remove(FP_A), false);
  assert.deepEqual(reopened.list().map((d) => d.fingerprint), [FP_B]);
});

Deno.test("deny list: expired denials are dropped at the next write", async () => {
  const backend = new MemoryStateBackend();
  backend.external({
    [DENIED_ENTRY]: JSON.stringify({
      denied: [{
        fingerprint: FP_A,
        name: "edge",
        reason: "declined",
        since: "2020-01-01T00:00:00.000Z",
        until: "2020-01-02T00:00:00.000Z",
      }],
    }),
  });
  const list = DenyList.open(await StateStore.open(backend));
  assert.deepEqual(list.list(), []);
  assert.equal(list.check(FP_A), undefined);
  await list.deny(FP_B, "core", "revoked", 0);
  const stored = JSON.parse((await backend.read()).entries[DENIED_ENTRY]);
  assert.deepEqual(stored.denied.map((d: { fingerprint: string }) => d.fingerprint), [FP_B]);
});

Deno.test("deny list: an unreadable entry is an error naming it; an outside edit is followed", async () => {
  const backend = new MemoryStateBackend();
  backend.external({ [DENIED_ENTRY]: '{"denied": [{"fingerprint": 1}]}' });
  const damaged = await StateStore.open(backend);
  assert.throws(() => DenyList.open(damaged), DenyListError);
  assert.throws(() => DenyList.open(damaged), /entry "denied.json" in memory: a denial lacks/);

  backend.external({ [DENIED_ENTRY]: null });
  const state = await StateStore.open(backend);
  state.follow();
  const list = DenyList.open(state);
  backend.external({
    [DENIED_ENTRY]: JSON.stringify({
      denied: [{ fingerprint: FP_A, since: new Date().toISOString(), until: null }],
    }),
  });
  assert.ok(list.check(FP_A), "denied by an outside edit");
  await state.close();
});
