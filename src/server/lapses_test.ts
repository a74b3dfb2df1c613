import assert from "node:assert/strict";
import { Lapses } from "./lapses.ts";

Deno.test("lapses: an entry lives one lifetime from the first sighting of its stamp; a new stamp starts over; keep forgets the rest", () => {
  let now = 0;
  const lapses = new Lapses(100, () => now);
  // The stamp's time means nothing here: only when it was first seen.
  assert.equal(lapses.live("a", "1999-01-01T00:00:00Z"), true);
  now = 99;
  assert.equal(lapses.live("a", "1999-01-01T00:00:00Z"), true);
  assert.equal(lapses.live("a", "1999-01-01T00:00:01Z"), true, "renewed");
  now = 100;
  assert.equal(lapses.live("a", "1999-01-01T00:00:00Z"), false);
  assert.equal(lapses.live("a", "1999-01-01T00:00:01Z"), true);
  lapses.keep([["a", "1999-01-01T00:00:01Z"]]);
  assert.equal(lapses.live("a", "1999-01-01T00:00:00Z"), true, "forgotten: a first sighting again");
  now = 199;
  assert.equal(lapses.live("a", "1999-01-01T00:00:01Z"), false);
});
