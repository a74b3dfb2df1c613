import assert from "node:assert/strict";
import {
  Collector,
  type CollectorHost,
  EXTERNAL_FLOOR,
  MAJOR_MIN,
  MINOR_EVERY,
} from "./collector.ts";

const MiB = 1024 * 1024;
const RECORD = 256 * 1024;

/** A host that records the collections asked for; a full one leaves `live` bytes. */
function recordingHost(external: number) {
  const host = {
    asked: [] as string[],
    external,
    live: 0,
    gc(options: { type: "minor" | "major"; execution: "sync" }) {
      host.asked.push(`${options.type}/${options.execution}`);
      if (options.type === "major") host.external = host.live;
    },
  };
  const view: CollectorHost = { gc: host.gc, external: () => host.external };
  return { host, view };
}

const count = (asked: string[], what: string) => asked.filter((x) => x === what).length;

Deno.test("collector: a young-generation collection per MINOR_EVERY bytes sealed or opened", () => {
  const { host, view } = recordingHost(0);
  const collector = new Collector(view);
  for (let sent = 0; sent < MINOR_EVERY - RECORD; sent += RECORD) collector.noted(RECORD);
  assert.deepEqual(host.asked, []);
  collector.noted(RECORD);
  assert.deepEqual(host.asked, ["minor/sync"]);
  for (let sent = 0; sent < 8 * MINOR_EVERY; sent += RECORD) collector.noted(RECORD);
  assert.equal(count(host.asked, "minor/sync"), 9);
});

Deno.test("collector: a full collection once ArrayBuffers pass the floor, not more often than MAJOR_MIN", () => {
  const { host, view } = recordingHost(EXTERNAL_FLOOR);
  const collector = new Collector(view);
  for (let sent = 0; sent < MAJOR_MIN; sent += RECORD) collector.noted(RECORD);
  assert.equal(host.asked.at(-1), "major/sync");
  assert.equal(count(host.asked, "major/sync"), 1);
  assert.equal(count(host.asked, "minor/sync"), MAJOR_MIN / MINOR_EVERY - 1);
  // Garbage grows again at once: still MAJOR_MIN bytes before the next.
  host.external = 2 * EXTERNAL_FLOOR;
  for (let sent = 0; sent < MAJOR_MIN - RECORD; sent += RECORD) collector.noted(RECORD);
  assert.equal(count(host.asked, "major/sync"), 1);
  collector.noted(RECORD);
  assert.equal(count(host.asked, "major/sync"), 2);
});

Deno.test("collector: buffers in use raise the next full collection to twice what they hold", () => {
  const { host, view } = recordingHost(EXTERNAL_FLOOR);
  host.live = 40 * MiB;
  const collector = new Collector(view);
  collector.noted(MAJOR_MIN);
  assert.deepEqual(host.asked, ["major/sync"]);
  assert.equal(collector.majorAt, 80 * MiB);
  host.external = 79 * MiB;
  collector.noted(MAJOR_MIN);
  assert.equal(host.asked.at(-1), "minor/sync");
  host.external = 80 * MiB;
  host.live = MiB;
  collector.noted(MINOR_EVERY);
  assert.equal(host.asked.at(-1), "major/sync");
  assert.equal(collector.majorAt, EXTERNAL_FLOOR, "back to the floor once they are read");
});

Deno.test("collector: without V8's gc() it does nothing", () => {
  const collector = new Collector(undefined);
  collector.noted(4 * MAJOR_MIN);
  assert.equal(collector.majorAt, EXTERNAL_FLOOR);
});

Deno.test("collector: counts the bytes it is told of, with or without gc()", () => {
  const { view } = recordingHost(0);
  const collecting = new Collector(view);
  const idle = new Collector(undefined);
  for (const c of [collecting, idle]) {
    c.noted(RECORD);
    c.noted(100);
    assert.equal(c.moved, RECORD + 100);
  }
});

Deno.test("collector: collectFully runs a full collection and sets the next threshold from what it left", () => {
  const { host, view } = recordingHost(100 * MiB);
  host.live = 40 * MiB;
  const collector = new Collector(view);
  assert.equal(collector.collectFully(), true);
  assert.deepEqual(host.asked, ["major/sync"]);
  assert.equal(collector.majorAt, 80 * MiB);
  assert.equal(new Collector(undefined).collectFully(), false);
});
