import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import { parseBoolean, parseFingerprints } from "./parse.ts";

Deno.test("parse: booleans are true/false, 1/0, yes/no or on/off, any case, space trimmed", () => {
  const cases: [string, boolean][] = [
    ["true", true],
    ["TRUE", true],
    ["True", true],
    ["1", true],
    ["yes", true],
    ["Yes", true],
    ["on", true],
    ["ON", true],
    [" true ", true],
    ["\tyes\n", true],
    ["false", false],
    ["FALSE", false],
    ["0", false],
    ["no", false],
    ["NO", false],
    ["off", false],
    ["Off", false],
    ["  off", false],
    ["0\n", false],
  ];
  for (const [value, expected] of cases) {
    assert.equal(parseBoolean(value), expected, JSON.stringify(value));
  }
});

Deno.test("parse: anything else, the empty string included, is not a boolean", () => {
  for (const value of ["", " ", "maybe", "2", "-1", "01", "y", "n", "t", "f", "truee", "o n"]) {
    assert.throws(
      () => parseBoolean(value),
      (error) =>
        error instanceof InvalidArgumentError &&
        error.message === "Expected true/false, 1/0, yes/no or on/off.",
      JSON.stringify(value),
    );
  }
});

Deno.test("parse: --server-fingerprint takes one or more fingerprints, each checked", () => {
  const a = "0123456789abcdef0123456789abcdef01234567";
  const b = "89abcdef0123456789abcdef0123456789abcdef";
  const cases: [string, string[]][] = [
    [a, [a]],
    [`${a},${b}`, [a, b]],
    [` ${a.toUpperCase()} , SHA256:${b.match(/../g)!.join(":")} `, [a, b]],
    [`${a},${a}`, [a]],
    [`${a},`, [a]],
  ];
  for (const [value, expected] of cases) assert.deepEqual(parseFingerprints(value), expected);
  const bad: [string, RegExp][] = [
    ["", /Expected fingerprints/],
    [" , ", /Expected fingerprints/],
    ["nope", /Cannot parse fingerprint "nope".*\(entry 1 of 1\)\.$/],
    [
      `${a},${b.slice(2)}`,
      new RegExp(`Cannot parse fingerprint "${b.slice(2)}".*\\(entry 2 of 2\\)`),
    ],
  ];
  for (const [value, message] of bad) {
    assert.throws(
      () => parseFingerprints(value),
      (error) => error instanceof InvalidArgumentError && message.test(error.message),
      JSON.stringify(value),
    );
  }
});
