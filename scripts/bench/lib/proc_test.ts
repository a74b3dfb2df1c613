import assert from "node:assert/strict";
import { statCpuSeconds } from "./proc.ts";

// (Only literal lines: Deno lets no test read /proc/<pid>/stat without --allow-all.)
Deno.test("bench: CPU times come from /proc/<pid>/stat, whatever the command name holds", () => {
  const rest = "S 1 2 3 4 5 6 7 8 9 10 150 50 20 30 0 0 1 0 100 200";
  assert.equal(statCpuSeconds(`42 (deno) ${rest}`), 2.5);
  assert.equal(statCpuSeconds(`42 (a) b (c)) ${rest}\n`), 2.5);
  assert.throws(() => statCpuSeconds("42 (deno) S 1 2"), SyntaxError);
});
