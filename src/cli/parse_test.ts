import assert from "node:assert/strict";
import { InvalidArgumentError } from "commander";
import { parseBoolean } from "./parse.ts";

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
