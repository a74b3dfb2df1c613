import assert from "node:assert/strict";
import { Logger, LogTally } from "./mod.ts";

Deno.test("tally: the first occurrence at once, then one line per interval with the count since", () => {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ format: "json", sink: (line) => lines.push(JSON.parse(line)) });
  let now = 0;
  const tally = new LogTally(log, "refusing", 10_000, () => now);
  tally.add({ remote: "a" });
  for (let i = 0; i < 99; i++) tally.add({ remote: "b" });
  assert.equal(lines.length, 1);
  now = 9_999;
  tally.add({ remote: "c" });
  assert.equal(lines.length, 1);
  now = 10_000;
  tally.add({ remote: "d" });
  assert.deepEqual(
    lines.map((l) => [l.level, l.msg, l.remote, l.count]),
    [["warn", "refusing", "a", 1], ["warn", "refusing", "d", 101]],
  );
  now = 30_000;
  tally.add();
  assert.equal(lines.at(-1)!.count, 1);
});
