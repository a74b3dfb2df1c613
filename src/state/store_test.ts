import assert from "node:assert/strict";
import { FileStateBackend } from "./file_backend.ts";
import { MemoryStateBackend } from "./memory_backend.ts";
import { MAX_STATE_ATTEMPTS, StateStore } from "./store.ts";
import { type StateBackend, StateConflictError, type StateSnapshot } from "./backend.ts";
import { Logger } from "../log/mod.ts";

Deno.test("state store: a conflicting write re-reads and re-applies the change", async () => {
  const backend = new MemoryStateBackend();
  const store = await StateStore.open(backend);
  await store.update(() => ({ a: "1" }));
  backend.external({ b: "2" });
  const seen: Record<string, string>[] = [];
  assert.equal(
    await store.update((entries) => {
      seen.push({ ...entries });
      return { a: String(Number(entries.a) + 1) };
    }),
    true,
  );
  assert.deepEqual(seen, [{ a: "1" }, { a: "1", b: "2" }]);
  assert.deepEqual((await backend.read()).entries, { a: "2", b: "2" });
  assert.equal(await store.update(() => ({ a: "2" })), false, "no change, no write");
  assert.equal(await store.update(() => ({ c: null })), false);
});

Deno.test("state store: changes run one at a time, in order", async () => {
  const store = await StateStore.open(new MemoryStateBackend());
  await Promise.all(
    Array.from({ length: 20 }, () => store.update((e) => ({ n: String(Number(e.n ?? 0) + 1) }))),
  );
  assert.equal(store.get("n"), "20");
});

Deno.test("state store: gives up when every write conflicts", async () => {
  class Hostile implements StateBackend {
    readonly name = "hostile";
    writes = 0;
    describe(key: string) {
      return key;
    }
    read(): Promise<StateSnapshot> {
      return Promise.resolve({ entries: {}, version: "v" });
    }
    write(): Promise<StateSnapshot> {
      this.writes++;
      return Promise.reject(new StateConflictError("changed"));
    }
    watch() {
      return Promise.resolve();
    }
  }
  const backend = new Hostile();
  const store = await StateStore.open(backend);
  await assert.rejects(store.update(() => ({ a: "1" })), /changed underneath 16 times/);
  assert.equal(backend.writes, MAX_STATE_ATTEMPTS);
});

Deno.test("state store: follows outside writes and tells listeners which entries changed", async () => {
  const backend = new MemoryStateBackend();
  const store = await StateStore.open(backend);
  store.follow();
  const changes: string[][] = [];
  store.onChange((keys) => changes.push(keys));
  await store.update(() => ({ mine: "x" }));
  backend.external({ theirs: "y" });
  backend.external({ theirs: "y" });
  assert.equal(store.get("theirs"), "y");
  assert.deepEqual(changes, [["theirs"]], "own writes and no-op writes are not reported");
  await store.close();
});

Deno.test("file state: one private file per entry; deleting an entry removes its file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await StateStore.open(new FileStateBackend(`${dir}/state`, ["a.json", "b.pem"]));
    await store.update(() => ({ "a.json": "{}\n", "b.pem": "key" }));
    assert.equal((await Deno.stat(`${dir}/state`)).mode! & 0o777, 0o700);
    for (const name of ["a.json", "b.pem"]) {
      assert.equal((await Deno.stat(`${dir}/state/${name}`)).mode! & 0o777, 0o600);
    }
    await store.update(() => ({ "a.json": null }));
    assert.deepEqual([...Deno.readDirSync(`${dir}/state`)].map((e) => e.name), ["b.pem"]);
    const reopened = await StateStore.open(
      new FileStateBackend(`${dir}/state`, ["a.json", "b.pem"]),
    );
    assert.deepEqual([reopened.get("a.json"), reopened.get("b.pem")], [undefined, "key"]);
    await assert.rejects(store.update(() => ({ other: "x" })), /not a state entry/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file state: two processes creating an entry at once end up with the first one written", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stores = await Promise.all(
      [1, 2, 3].map(() => StateStore.open(new FileStateBackend(dir, ["key.pem"]))),
    );
    await Promise.all(
      stores.map((store, i) =>
        store.update((e) => e["key.pem"] === undefined ? { "key.pem": `key ${i}` } : undefined)
      ),
    );
    const stored = await Deno.readTextFile(`${dir}/key.pem`);
    for (const store of stores) assert.equal(store.get("key.pem"), stored);
    // A file changed by another process since it was read: the write re-reads first.
    await Deno.writeTextFile(`${dir}/key.pem`, "edited");
    await stores[0].update((e) => ({ "key.pem": `${e["key.pem"]}+` }));
    assert.equal(await Deno.readTextFile(`${dir}/key.pem`), "edited+");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file state: an entry that is not UTF-8 is an error naming the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.json`, new Uint8Array([0xff, 0xfe]));
    await assert.rejects(
      StateStore.open(new FileStateBackend(dir, ["a.json"])),
      new RegExp(`Cannot read ${dir}/a.json: not UTF-8`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("file state: an entry edited by hand while the store follows is seen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const store = await StateStore.open(new FileStateBackend(dir, ["a.json", "b.json"]));
    await store.update(() => ({ "a.json": "1" }));
    store.follow();
    const changes: string[][] = [];
    store.onChange((keys) => changes.push(keys));
    await Deno.writeTextFile(`${dir}/b.json`, "by hand");
    await Deno.writeTextFile(`${dir}/other`, "not an entry");
    for (let i = 0; i < 2000 && store.get("b.json") !== "by hand"; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(store.get("b.json"), "by hand");
    assert.deepEqual(changes[0], ["b.json"]);
    await store.update(() => ({ "a.json": "2" }));
    assert.equal(await Deno.readTextFile(`${dir}/a.json`), "2");
    await store.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("state store: outside changes to quiet entries alone are logged at debug, others at info", async () => {
  const backend = new MemoryStateBackend();
  const lines: { level: string; changed: string[] }[] = [];
  const logger = new Logger({
    level: "debug",
    format: "json",
    sink: (l) => lines.push(JSON.parse(l)),
  });
  const store = await StateStore.open(backend, { logger });
  store.quiet("renewed.json");
  store.follow();
  backend.external({ "renewed.json": "1" });
  backend.external({ "renewed.json": "2", "approved.json": "x" });
  assert.deepEqual(lines.map((l) => [l.level, l.changed]), [
    ["debug", ["renewed.json"]],
    ["info", ["renewed.json", "approved.json"]],
  ]);
  await store.close();
});
