import assert from "node:assert/strict";
// memorySample itself reads /proc/PID, which Deno grants only with --allow-all (not in `deno task test`).
import { residentByKind } from "./memory.ts";

const SMAPS = [
  "55d0a0000000-55d0a0400000 rw-p 00000000 00:00 0                          [heap]",
  "Rss:                2048 kB",
  // A glibc thread arena: read-write part of a 64 MiB-aligned reservation, then its PROT_NONE rest.
  "7f0004000000-7f0004300000 rw-p 00000000 00:00 0 ",
  "Rss:                1024 kB",
  "7f0004300000-7f0008000000 ---p 00000000 00:00 0 ",
  "Rss:                   0 kB",
  // Two V8 pages of 256 KiB, not aligned to 64 MiB.
  "7f1000040000-7f1000080000 rw-p 00000000 00:00 0 ",
  "Rss:                 256 kB",
  "7f1000080000-7f10000c0000 rw-p 00000000 00:00 0 ",
  "Rss:                 128 kB",
  // A thread stack of 8 MiB.
  "7f2000001000-7f2000801000 rw-p 00000000 00:00 0 ",
  "Rss:                  40 kB",
  // The program's text: file-backed, not counted here.
  "55d09f000000-55d09f800000 r-xp 00000000 08:01 1234                       /usr/bin/deno",
  "Rss:                9000 kB",
].join("\n");

Deno.test("chaos memory: residentByKind sorts anonymous mappings into brk, arenas and size classes", () => {
  assert.deepEqual(residentByKind(SMAPS), {
    brk: 2048,
    maps: { arena: 1024, "<=1M": 384, "<=8M": 40 },
  });
});
