import assert from "node:assert/strict";
import { ApprovalsFileError, ApprovalStore } from "./approvals.ts";

Deno.test("approvals: persisted atomically with mode 0600 and read back after a restart", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await ApprovalStore.open(dir);
    await store.approve("a".repeat(40), "edge");
    await store.approve("b".repeat(40), "core");
    const file = `${dir}/approved-peers.json`;
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["approved-peers.json"]);
    const reopened = await ApprovalStore.open(dir);
    assert.deepEqual(reopened.list().map((p) => p.name), ["core", "edge"]);
    assert.equal(reopened.byName("edge")?.fingerprint, "a".repeat(40));
    assert.equal((await reopened.revoke("edge"))?.name, "edge");
    assert.equal(await reopened.revoke("edge"), undefined);
    assert.deepEqual((await ApprovalStore.open(dir)).list().map((p) => p.name), ["core"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("approvals: a damaged file is an error naming the file, not an empty list", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/approved-peers.json`, "{not json");
    await assert.rejects(ApprovalStore.open(dir), ApprovalsFileError);
    await Deno.writeTextFile(`${dir}/approved-peers.json`, '{"peers": {}}');
    await assert.rejects(ApprovalStore.open(dir), /expected \{"peers"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
