import assert from "node:assert/strict";
import { Checks, format, renderTable } from "./report.ts";

Deno.test("chaos report: a limit check passes at the limit and fails above it or on NaN", () => {
  const checks = new Checks();
  assert.equal(checks.atMost("s", "at", 2000, 2000, "ms"), true);
  assert.equal(checks.atMost("s", "above", 2000.5, 2000, "ms"), false);
  assert.equal(checks.atMost("s", "nan", NaN, 2000, "ms"), false);
  assert.equal(checks.passed, 1);
  assert.equal(checks.failed, 2);
  assert.equal(checks.list[0].measured, "2000 ms");
  assert.equal(checks.list[0].limit, "≤ 2000 ms");
  assert.deepEqual(checks.list[1].figures, { value: 2000.5, max: 2000 });
});

Deno.test("chaos report: a scenario that threw is one failed check with its first line", () => {
  const checks = new Checks();
  checks.error("server kill -9", new Error("No log line\nmore"));
  assert.equal(checks.failed, 1);
  assert.equal(checks.list[0].measured, "No log line");
  assert.deepEqual(checks.list[0].figures, { error: ["No log line", "more"] });
});

Deno.test("chaos report: numbers keep one decimal below 100, none above", () => {
  assert.equal(format(3), "3");
  assert.equal(format(3.14159), "3.1");
  assert.equal(format(1234.5), "1235");
  assert.equal(format(Infinity), "Infinity");
});

Deno.test("chaos report: the table has a header, aligned columns and escaped pipes", () => {
  const table = renderTable([
    { scenario: "a", name: "x|y", pass: true, measured: "1 ms", limit: "≤ 2 ms" },
    { scenario: "bb", name: "z", pass: false, measured: "10 ms", limit: "≤ 2 ms" },
  ]);
  const lines = table.split("\n");
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^\| +\| scenario \| check +\| measured \| limit +\|$/);
  assert.match(lines[2], /^\| pass \| a +\| x\\\|y +\| 1 ms +\| ≤ 2 ms \|$/);
  assert.match(lines[3], /^\| FAIL \| bb/);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1);
});
