import assert from "node:assert/strict";
import { FileStateBackend, MemoryStateBackend, StateStore } from "../state/mod.ts";
import { APPROVALS_ENTRY, ApprovalsFileError, ApprovalStore } from "./approvals.ts";

async function fileState(dir: string): Promise<StateStore> {
  return await StateStore.open(new FileStateBackend(dir, [APPROVALS_ENTRY]));
}

Deno.test("approvals: persisted atomically with mode 0600 and read back after a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = ApprovalStore.open(await fileState(dir));
    await store.approve("a".repeat(40), "edge");
    await store.approve("b".repeat(40), "core");
    const file = `${dir}/approved-peers.json`;
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["approved-peers.json"]);
    const reopened = ApprovalStore.open(await fileState(dir));
    assert.deepEqual(reopened.list().map((p) => p.name), ["core", "edge"]);
    assert.equal(reopened.byName("edge")?.fingerprint, "a".repeat(40));
    assert.equal((await reopened.revoke("edge"))?.name, "edge");
    assert.equal(await reopened.revoke("edge"), undefined);
    assert.deepEqual(ApprovalStore.open(await fileState(dir)).list().map((p) => p.name), ["core"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("approvals: a damaged file is an error naming the file, not an empty list", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/approved-peers.json`, "{not json");
    const damaged = await fileState(dir);
    assert.throws(() => ApprovalStore.open(damaged), ApprovalsFileError);
    assert.throws(() => ApprovalStore.open(damaged), new RegExp(`${dir}/approved-peers.json`));
    await Deno.writeTextFile(`${dir}/approved-peers.json`, '{"peers": {}}');
    assert.throws(() => ApprovalStore.open(damaged), /not JSON/, "the store read it when opened");
    const reread = await fileState(dir);
    assert.throws(() => ApprovalStore.open(reread), /expected \{"peers"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("approvals: another writer's approval is kept when this one approves (re-read on conflict)", async () => {
  const backend = new MemoryStateBackend();
  const state = await StateStore.open(backend);
  const store = ApprovalStore.open(state);
  await store.approve("a".repeat(40), "edge");
  const other = ApprovalStore.open(await StateStore.open(backend));
  await other.approve("b".repeat(40), "core");
  // This store's snapshot is stale: its write conflicts, re-reads, re-applies.
  await store.approve("c".repeat(40), "far");
  assert.deepEqual(store.list().map((p) => p.name), ["core", "edge", "far"]);
  const fresh = ApprovalStore.open(await StateStore.open(backend));
  assert.deepEqual(fresh.list().map((p) => p.name), ["core", "edge", "far"]);
});

Deno.test("approvals: an outside edit is seen through the store's watch; a damaged one keeps the last good", async () => {
  const backend = new MemoryStateBackend();
  const state = await StateStore.open(backend);
  state.follow();
  const store = ApprovalStore.open(state);
  await store.approve("a".repeat(40), "edge");
  backend.external({
    [APPROVALS_ENTRY]: JSON.stringify({ peers: [{ fingerprint: "b".repeat(40), name: "core" }] }),
  });
  assert.deepEqual(store.list().map((p) => p.name), ["core"]);
  backend.external({ [APPROVALS_ENTRY]: "{oops" });
  assert.deepEqual(store.list().map((p) => p.name), ["core"]);
  await assert.rejects(
    store.approve("c".repeat(40), "far"),
    /entry "approved-peers.json".*not JSON/,
  );
  await state.close();
});

Deno.test("approvals: regression: 'last seen' costs at most one write a minute, and shows at once", async () => {
  const state = StateStore.memory();
  const store = ApprovalStore.open(state);
  const fp = "a".repeat(40);
  await store.approve(fp, "edge");
  const stored = () => JSON.parse(state.get(APPROVALS_ENTRY)!).peers[0].lastSeen;
  const approved = stored();
  const at = Date.parse(approved);
  // The first connection after start writes (no write yet this minute).
  store.seen(fp, at + 1_000);
  await store.flush();
  assert.equal(stored(), new Date(at + 1_000).toISOString());
  // Later ones within the minute: in memory only, shown at once.
  const written = state.get(APPROVALS_ENTRY);
  for (let i = 2; i <= 50; i++) store.seen(fp, at + i * 1_000);
  assert.equal(state.get(APPROVALS_ENTRY), written, "no write per connection");
  assert.equal(store.get(fp)?.lastSeen, new Date(at + 50_000).toISOString());
  assert.equal(store.list()[0].lastSeen, new Date(at + 50_000).toISOString());
  // Written by the next minute's connection, or by flush (the server's shutdown).
  await store.flush();
  assert.equal(stored(), new Date(at + 50_000).toISOString());
  // Unknown keys are not recorded.
  store.seen("b".repeat(40), at + 60_000);
  assert.equal(store.get("b".repeat(40)), undefined);
});
