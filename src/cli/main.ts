/**
 * The `wormhole` command line.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { VERSION } from "../version.ts";
import { UsageError } from "./errors.ts";
import {
  appsCommand,
  deniedCommand,
  offersCommand,
  peersCommand,
  requestsCommand,
} from "./admin_commands.ts";
import { completionCommand } from "./completion.ts";
import { keysCommand } from "./keys_command.ts";
import { clientCommand } from "./client_command.ts";
import { serverCommand } from "./server_command.ts";
import { testServerCommand } from "./testserver_command.ts";

/** Exit code for bad flags or arguments. */
export const EXIT_USAGE = 2;
/** Exit code for a failure at run time. */
export const EXIT_FAILURE = 1;

/** Builds the whole program. */
export function buildProgram(): Command {
  const program = new Command("wormhole")
    .description("Reverse TCP tunnels over WebSocket: expose services from edge to center.")
    .version(VERSION, "-V, --version", "print the version")
    .showSuggestionAfterError(true)
    .exitOverride();
  for (
    const command of [
      serverCommand(),
      clientCommand(),
      appsCommand(),
      requestsCommand(),
      peersCommand(),
      deniedCommand(),
      offersCommand(),
      keysCommand(),
      testServerCommand(),
      completionCommand(),
    ]
  ) {
    program.addCommand(command);
  }
  // Sub-commands report usage errors the same way as the program.
  const override = (command: Command) => {
    command.exitOverride();
    command.commands.forEach(override);
  };
  override(program);
  return program;
}

/** Runs the CLI with `args`; resolves with the process exit code. */
export async function main(args: string[]): Promise<number> {
  const program = buildProgram();
  if (args.length === 0) {
    // The same rule as a command without its sub-command: help on stderr, exit 2.
    program.outputHelp({ error: true });
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(args, { from: "user" });
    return 0;
  } catch (error) {
    // Commander already printed its own messages (and the help or version).
    if (!(error instanceof CommanderError)) {
      console.error(`error: ${(error as Error)?.message ?? error}`);
    }
    return exitCodeFor(error);
  }
}

/**
 * The exit code of a run that ended with `error`, by meaning: 0 after
 * `--help` or the version, {@linkcode EXIT_USAGE} for flags commander
 * refused, a missing command or sub-command (`wormhole`, `wormhole
 * requests`: help on stderr) and a {@linkcode UsageError}, {@linkcode EXIT_FAILURE} for anything else,
 * whatever its type.
 */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // "commander.help" is help shown because a sub-command was missing: a usage error.
    const done = ["commander.helpDisplayed", "commander.version"];
    return done.includes(error.code) ? 0 : EXIT_USAGE;
  }
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
