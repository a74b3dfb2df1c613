import assert from "node:assert/strict";
import fc from "fast-check";
import { MAX_NAME_LENGTH, nameProblem } from "./names.ts";

Deno.test("names: letters, digits, '.', '_' and '-' inside alphanumeric ends are accepted", () => {
  for (
    const name of [
      "a",
      "Z",
      "7",
      "web",
      "Web-1",
      "api.v2",
      "my_app",
      "a-b.c_d",
      "a--b",
      "a..b",
      "0x",
      "a".repeat(MAX_NAME_LENGTH),
    ]
  ) {
    assert.equal(nameProblem(name), null, name);
  }
});

Deno.test("names: the empty name is rejected", () => {
  assert.equal(nameProblem(""), "is empty");
});

Deno.test("names: names over 63 characters are rejected with the length", () => {
  assert.equal(MAX_NAME_LENGTH, 63);
  assert.equal(nameProblem("a".repeat(64)), "is 64 characters long, the limit is 63");
});

Deno.test("names: bad characters and bad first or last characters are rejected", () => {
  for (
    const name of [
      "-a",
      "a-",
      ".a",
      "a.",
      "_a",
      "a_",
      "-",
      ".",
      "a b",
      "a/b",
      "a:b",
      "a\n",
      "\na",
      "a\0",
      "ä",
      "app😀",
      "a*",
      " a",
    ]
  ) {
    const problem = nameProblem(name);
    assert.ok(problem !== null, JSON.stringify(name));
    assert.match(problem, /may only hold letters, digits/);
  }
});

Deno.test("names: nameProblem agrees with the documented rule on arbitrary strings", () => {
  const alnum = (c: string) => /[A-Za-z0-9]/.test(c);
  const allowed = (c: string) => alnum(c) || c === "." || c === "_" || c === "-";
  const rule = (s: string) =>
    s.length >= 1 && s.length <= 63 && [...s].every(allowed) && alnum(s[0]) &&
    alnum(s[s.length - 1]);
  const chars = fc.constantFrom(..."aZ09._- /\n\u00e9".split(""));
  const names = fc.oneof(
    fc.string({ unit: chars, maxLength: 70 }),
    fc.string({ maxLength: 70 }),
  );
  fc.assert(
    fc.property(names, (name) => {
      assert.equal(nameProblem(name) === null, rule(name), JSON.stringify(name));
    }),
    { numRuns: 2000 },
  );
});
