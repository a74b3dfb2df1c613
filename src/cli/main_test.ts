import assert from "node:assert/strict";
import { CommanderError } from "commander";
import { EXIT_FAILURE, EXIT_USAGE, exitCodeFor } from "./main.ts";
import { UsageError } from "./errors.ts";

Deno.test("exit codes by meaning: usage errors 2, help and version 0, anything else 1", () => {
  assert.equal(exitCodeFor(new UsageError("--tls-cert and --tls-key go together")), EXIT_USAGE);
  assert.equal(exitCodeFor(new CommanderError(1, "commander.unknownOption", "x")), EXIT_USAGE);
  assert.equal(exitCodeFor(new CommanderError(0, "commander.helpDisplayed", "")), 0);
  assert.equal(exitCodeFor(new CommanderError(0, "commander.version", "")), 0);
  // Help shown because a sub-command is missing (`wormhole requests`), as for `wormhole` alone.
  assert.equal(exitCodeFor(new CommanderError(1, "commander.help", "")), EXIT_USAGE);
  // Regression: these used to exit 2 as if the flags were wrong.
  assert.equal(exitCodeFor(new RangeError("Maximum call stack size exceeded")), EXIT_FAILURE);
  assert.equal(exitCodeFor(new SyntaxError("Cannot read approvals: not JSON")), EXIT_FAILURE);
  assert.equal(exitCodeFor(new Error("address in use")), EXIT_FAILURE);
  assert.equal(exitCodeFor("a string"), EXIT_FAILURE);
});
