import assert from "node:assert/strict";
import { type Command, CommanderError } from "commander";
import {
  appsCommand,
  deniedCommand,
  offersCommand,
  peersCommand,
  requestsCommand,
} from "./admin_commands.ts";
import { clientCommand } from "./client_command.ts";
import { buildProgram } from "./main.ts";
import { serverCommand } from "./server_command.ts";

/** The `list` sub-command of a command group. */
const list = (group: () => Command) => () => group().commands.find((c) => c.name() === "list")!;

/** The commands with boolean flags, each with args that satisfy their checks. */
const COMMANDS: [string, () => Command, string[]][] = [
  ["server", serverCommand, ["--kubernetes-labels", "app=wormhole"]],
  ["client", clientCommand, []],
  ["apps list", list(appsCommand), []],
  ["requests list", list(requestsCommand), []],
  ["peers list", list(peersCommand), []],
  ["denied list", list(deniedCommand), []],
  ["offers list", list(offersCommand), []],
];

/**
 * Parses `args` with `env` set, without running the command; returns its
 * options, or the usage error and what it printed.
 */
async function parse(
  build: () => Command,
  args: string[],
  env: Record<string, string>,
): Promise<{ options?: Record<string, unknown>; error?: CommanderError; stderr: string }> {
  let stderr = "";
  const command = build().exitOverride().configureOutput({ writeErr: (s) => stderr += s });
  let options: Record<string, unknown> | undefined;
  command.action((opts: Record<string, unknown>) => {
    options = opts;
  });
  for (const [name, value] of Object.entries(env)) Deno.env.set(name, value);
  try {
    await command.parseAsync(args, { from: "user" });
    return { options, stderr };
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    return { error, stderr };
  } finally {
    for (const name of Object.keys(env)) Deno.env.delete(name);
  }
}

/** Every boolean flag of `command` that has a variable: its option key and its variable. */
function booleanFlags(command: Command): { key: string; variable: string; flags: string }[] {
  return command.options.filter((option) => option.isBoolean() && option.envVar).map((option) => ({
    key: option.attributeName(),
    variable: option.envVar!,
    flags: option.flags,
  }));
}

Deno.test("options: only server, client and the list commands have boolean flags (the tests below cover them all)", () => {
  const withBooleans: string[] = [];
  const walk = (command: Command, path: string) => {
    if (booleanFlags(command).length > 0) withBooleans.push(path);
    for (const sub of command.commands) walk(sub, `${path} ${sub.name()}`.trim());
  };
  walk(buildProgram(), "");
  assert.deepEqual(withBooleans, COMMANDS.map(([name]) => name));
});

Deno.test("options: every boolean flag's variable says on or off; false really is off", async () => {
  const cases: [string, boolean][] = [
    ["true", true],
    ["1", true],
    [" YES ", true],
    ["On", true],
    ["false", false],
    ["0", false],
    ["No", false],
    [" OFF\n", false],
  ];
  for (const [name, build, args] of COMMANDS) {
    const flags = booleanFlags(build());
    assert.ok(flags.length >= 1, `${name} has boolean flags`);
    for (const { key, variable } of flags) {
      assert.match(variable, /^WORMHOLE_[A-Z_]+$/);
      for (const [value, expected] of cases) {
        const { options, error } = await parse(build, args, { [variable]: value });
        assert.equal(error, undefined, `${name} ${variable}=${JSON.stringify(value)}`);
        assert.equal(options?.[key], expected, `${name} ${variable}=${JSON.stringify(value)}`);
      }
      const unset = await parse(build, args, {});
      assert.equal(unset.options?.[key], undefined, `${name} without ${variable}: off`);
    }
  }
});

Deno.test("options: a boolean variable that is empty or not a boolean is a usage error naming it", async () => {
  for (const [name, build, args] of COMMANDS) {
    for (const { variable, flags } of booleanFlags(build())) {
      for (const value of ["", "maybe", "2", "\u00a0"]) {
        const { error, stderr } = await parse(build, args, { [variable]: value });
        const what = `${name} ${variable}=${JSON.stringify(value)}`;
        assert.equal(error?.exitCode, 2, what);
        const shown = JSON.stringify(value).slice(1, -1);
        assert.equal(
          stderr,
          `error: option '${flags}' value '${shown}' from env '${variable}' is invalid. ` +
            "Expected true/false, 1/0, yes/no or on/off.\n",
          what,
        );
      }
    }
  }
});

Deno.test("options: the flag on the command line wins over its variable", async () => {
  const server = await parse(serverCommand, ["--admin-insecure"], {
    WORMHOLE_ADMIN_INSECURE: "false",
  });
  assert.equal(server.options?.adminInsecure, true);
});
