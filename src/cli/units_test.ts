import assert from "node:assert/strict";
import { humanAge, humanBytes } from "./units.ts";

Deno.test("units: bytes in binary prefixes", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1023, "1023 B"],
    [1024, "1.0 KiB"],
    [1536, "1.5 KiB"],
    [10 * 1024 - 1, "10 KiB"],
    [200 * 1024 * 1024, "200 MiB"],
    [3 * 1024 ** 3, "3.0 GiB"],
    [2 * 1024 ** 6, "2048 PiB"],
  ];
  for (const [bytes, shown] of cases) assert.equal(humanBytes(bytes), shown, String(bytes));
});

Deno.test("units: ages in their two largest units", () => {
  const now = Date.parse("2026-01-10T12:00:00Z");
  const cases: [string | null, string][] = [
    [null, "-"],
    ["not a time", "-"],
    ["2026-01-10T12:00:05Z", "0s"],
    ["2026-01-10T11:59:15Z", "45s"],
    ["2026-01-10T11:57:00Z", "3m"],
    ["2026-01-10T11:56:48Z", "3m12s"],
    ["2026-01-10T06:57:00Z", "5h3m"],
    ["2026-01-08T07:00:00Z", "2d5h"],
  ];
  for (const [since, shown] of cases) assert.equal(humanAge(since, now), shown, String(since));
});
