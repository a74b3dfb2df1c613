import assert from "node:assert/strict";
import { Logger } from "../log/mod.ts";
import { StateStore } from "../state/mod.ts";
import { SharedEntry } from "./shared_entry.ts";

type Line = { msg: string };

function listEntry(state: StateStore, logs: Line[] = []) {
  return new SharedEntry(state, "a", {
    logger: new Logger({ format: "json", sink: (line) => logs.push(JSON.parse(line)) }),
  }, {
    key: "things.json",
    empty: (): string[] => [],
    parse: (json) => {
      if (!Array.isArray(json)) throw new TypeError("not a list");
      return json.filter((x) => typeof x === "string");
    },
    isEmpty: (list) => list.length === 0,
    unreadable: "cannot read the things",
    changed: () => {},
  });
}

Deno.test("shared entry: writes JSON, reads it back, and an empty content removes the entry", async () => {
  const state = StateStore.memory();
  const entry = listEntry(state);
  await entry.update((list) => [...list, "one"]);
  assert.deepEqual(entry.read(), ["one"]);
  assert.deepEqual(JSON.parse(state.get("things.json")!), ["one"]);
  await entry.update(() => undefined);
  assert.deepEqual(entry.read(), ["one"], "undefined changes nothing");
  await entry.update(() => []);
  assert.equal(state.get("things.json"), undefined);
  entry.close();
});

Deno.test("shared entry: a damaged entry reads as empty with one warning, and the next write replaces it", async () => {
  const state = StateStore.memory();
  const logs: Line[] = [];
  const entry = listEntry(state, logs);
  await state.update(() => ({ "things.json": "{not json" }));
  assert.deepEqual(entry.read(), []);
  assert.deepEqual(logs.map((l) => l.msg), ["cannot read the things: ignoring them"]);
  await entry.update((list) => [...list, "two"]);
  assert.deepEqual(entry.read(), ["two"]);
  entry.close();
});

Deno.test("shared entry: parts are stamped one lifetime ahead", () => {
  const state = StateStore.memory();
  const entry = new SharedEntry(state, "a", { ttlMs: 5_000, now: () => 1_000 }, {
    key: "x.json",
    empty: () => 0,
    parse: Number,
    isEmpty: (n) => n === 0,
    unreadable: "x",
    changed: () => {},
  });
  assert.equal(entry.expiresFromNow(), new Date(6_000).toISOString());
  entry.close();
});
