import assert from "node:assert/strict";
import { BUSY_BYTES, MemoryReleaser, type ReleaserHost } from "./releaser.ts";

const MiB = 1024 * 1024;

/** A host whose counter the test moves, and which records what was asked of it. */
function fakeHost() {
  const host = {
    moved: 0,
    rss: 100 * MiB,
    asked: [] as string[],
  };
  const view: ReleaserHost = {
    moved: () => host.moved,
    collect: () => void host.asked.push("collect"),
    trim: () => {
      host.asked.push("trim");
      host.rss -= 20 * MiB;
      return true;
    },
    rss: () => host.rss,
  };
  return { host, view };
}

Deno.test("releaser: an idle process is left alone", () => {
  const { host, view } = fakeHost();
  const releaser = new MemoryReleaser(view);
  for (let i = 0; i < 10; i++) {
    host.moved += 1024; // keepalives
    assert.equal(releaser.look(), false);
  }
  assert.deepEqual(host.asked, []);
});

Deno.test("releaser: never while the load goes on; once, collect then trim, when it ends", () => {
  const { host, view } = fakeHost();
  const released: unknown[] = [];
  const releaser = new MemoryReleaser(view, { onRelease: (r) => released.push(r) });
  for (let i = 0; i < 5; i++) {
    host.moved += 64 * MiB;
    assert.equal(releaser.look(), false);
  }
  assert.deepEqual(host.asked, []);
  host.moved += 100;
  assert.equal(releaser.look(), true);
  assert.deepEqual(host.asked, ["collect", "trim"]);
  assert.deepEqual(released, [{ rssBefore: 100 * MiB, rssAfter: 80 * MiB, trimmed: true }]);
  for (let i = 0; i < 5; i++) assert.equal(releaser.look(), false);
  assert.equal(releaser.releases, 1);
});

Deno.test("releaser: each stretch of load gets its own release", () => {
  const { host, view } = fakeHost();
  const releaser = new MemoryReleaser(view);
  for (let round = 0; round < 3; round++) {
    host.moved += BUSY_BYTES;
    assert.equal(releaser.look(), false);
    assert.equal(releaser.look(), true);
  }
  assert.equal(releaser.releases, 3);
  // Just under the busy mark between two looks is quiet.
  host.moved += BUSY_BYTES - 1;
  assert.equal(releaser.look(), false);
  assert.equal(releaser.releases, 3);
});

Deno.test("releaser: bytes moved before it was made do not count as load", () => {
  const { host, view } = fakeHost();
  host.moved = 10 * 1024 * MiB;
  const releaser = new MemoryReleaser(view);
  assert.equal(releaser.look(), false);
  assert.deepEqual(host.asked, []);
});

Deno.test("releaser: start looks on a timer, stop ends it", async () => {
  const { host, view } = fakeHost();
  const released = Promise.withResolvers<void>();
  const releaser = new MemoryReleaser(view, { everyMs: 5, onRelease: () => released.resolve() });
  // The releaser's timer never keeps a process alive, so this one does while the test waits.
  const alive = setTimeout(() => {}, 60_000);
  releaser.start();
  releaser.start(); // once only
  host.moved += 64 * MiB;
  await released.promise;
  releaser.stop();
  clearTimeout(alive);
  assert.equal(releaser.releases, 1);
  assert.deepEqual(host.asked, ["collect", "trim"]);
});
