/**
 * Helpers that give every flag its environment variable and the logging
 * flags every long-running command shares.
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { type Command, Option } from "commander";
import { LOG_LEVELS, type LogFormat, Logger, type LogLevel } from "../log/mod.ts";
import { DEFAULT_CONNECTION_BUFFER, DEFAULT_MAX_WINDOW, DEFAULT_WINDOW } from "../mux/mod.ts";
import { defaultStateDir, oneOf, parseBoolean, parseDuration, sizeIn } from "./parse.ts";

/** `--listen-host <host>` → `WORMHOLE_LISTEN_HOST`. */
export function envName(flags: string): string {
  const long = /--([a-z0-9-]+)/.exec(flags)?.[1];
  if (!long) throw new TypeError(`Flag "${flags}" has no long name`);
  return `WORMHOLE_${long.replaceAll("-", "_").toUpperCase()}`;
}

/**
 * Adds an option that also reads `WORMHOLE_<FLAG_NAME>`. A boolean flag's
 * variable must say true or false ({@linkcode parseBoolean}).
 */
export function flag<T>(
  command: Command,
  flags: string,
  description: string,
  options: { parse?: (value: string, previous: T) => T; default?: T; defaultText?: string } = {},
): Command {
  const option = new Option(flags, description).env(envName(flags));
  if (options.parse) option.argParser(options.parse);
  if (options.default !== undefined) option.default(options.default, options.defaultText);
  command.addOption(option);
  if (option.isBoolean()) readBooleanEnv(command, option);
  return command;
}

/**
 * Commander turns a boolean flag on whenever its variable is set, whatever
 * the value (`=false` included). This listener runs after commander's, when
 * the value came from the variable, and replaces it with what the variable
 * says, or stops with a usage error naming the variable and the value.
 */
function readBooleanEnv(command: Command, option: Option): void {
  const variable = option.envVar!;
  command.on(`optionEnv:${option.name()}`, () => {
    const raw = Deno.env.get(variable) ?? "";
    try {
      command.setOptionValueWithSource(option.attributeName(), parseBoolean(raw), "env");
    } catch (error) {
      // Quoted like commander's own messages; escaped so that it stays one line.
      const shown = JSON.stringify(raw).slice(1, -1);
      command.error(
        `error: option '${option.flags}' value '${shown}' from env '${variable}' is invalid. ` +
          (error as Error).message,
        { exitCode: 2, code: "commander.invalidArgument" },
      );
    }
  });
}

/** Values of the shared logging flags. */
export interface LogFlags {
  logLevel: LogLevel;
  logFormat: LogFormat;
}

/** Adds `--log-level` and `--log-format`. */
export function logFlags(command: Command): Command {
  flag(command, "--log-level <level>", `log level: ${LOG_LEVELS.join(", ")}`, {
    parse: oneOf(LOG_LEVELS),
    default: "info",
  });
  flag(command, "--log-format <format>", "log format: text or json", {
    parse: oneOf(["text", "json"] as const),
    default: "text",
  });
  return command;
}

/** A logger configured from the shared flags. */
export function loggerFrom(flags: LogFlags): Logger {
  return new Logger({ level: flags.logLevel, format: flags.logFormat });
}

/**
 * Creates the state directory (mode 0700) if needed, and takes group and
 * other access away from one of ours that exists: it holds private keys.
 */
export async function ensureStateDir(path: string): Promise<void> {
  await Deno.mkdir(path, { recursive: true, mode: 0o700 });
  const { mode, uid } = await Deno.stat(path);
  // Only a directory of our own: a mounted volume's mode is its owner's (fsGroup) to set.
  if (mode === null || (mode & 0o077) === 0 || uid !== Deno.uid()) return;
  await Deno.chmod(path, mode & 0o700);
}

/** Resolves on the first SIGINT or SIGTERM; stops listening when `cancel` aborts. */
export function untilSignal(cancel?: AbortSignal): Promise<Deno.Signal> {
  return new Promise((resolve) => {
    const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
    const stop = () => signals.forEach((s, i) => Deno.removeSignalListener(s, handlers[i]));
    const handlers = signals.map((signal) => {
      const handler = () => {
        stop();
        resolve(signal);
      };
      Deno.addSignalListener(signal, handler);
      return handler;
    });
    cancel?.addEventListener("abort", stop, { once: true });
  });
}

/**
 * Reads a PEM file named by `flagName`.
 *
 * @throws {UsageError} naming the flag when it cannot be read or holds no PEM block.
 */
export async function readPem(path: string, flagName: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new UsageError(`Cannot read ${flagName} ${path}: ${(error as Error).message}`);
  }
  if (!/-----BEGIN [A-Z0-9 ]+-----/.test(text)) {
    throw new UsageError(`Cannot use ${flagName} ${path}: it holds no PEM block`);
  }
  return text;
}

/** Values of {@linkcode tunnelFlags}. */
export interface TunnelFlags {
  stateDir: string;
  keepalive: number;
  window: number;
  maxPayload: number;
  maxWindow: number;
  connectionBuffer: number;
}

/**
 * Adds the flags server and client share: `--state-dir`, `--keepalive`,
 * `--window`, `--max-payload`, `--max-window` and `--connection-buffer`
 * (check the last two with {@linkcode checkWindowFlags}).
 */
export function tunnelFlags(
  command: Command,
  texts: { stateDir: string; keepalive: string },
): Command {
  flag(command, "--state-dir <dir>", texts.stateDir, { default: defaultStateDir() });
  flag(command, "--keepalive <duration>", texts.keepalive, {
    parse: parseDuration,
    default: 15_000,
    defaultText: "15s",
  });
  flag(command, "--window <size>", "initial per-stream receive window", {
    parse: sizeIn(256 * 1024, 64 << 20),
    default: DEFAULT_WINDOW,
    defaultText: "2MiB",
  });
  flag(command, "--max-payload <size>", "largest frame payload", {
    parse: sizeIn(1024, 1 << 20),
    default: 65536,
    defaultText: "64KiB",
  });
  flag(command, "--max-window <size>", "size a per-stream receive window may grow to", {
    parse: sizeIn(256 * 1024, 1 << 30),
    default: DEFAULT_MAX_WINDOW,
    defaultText: "16MiB",
  });
  flag(command, "--connection-buffer <size>", "budget of one connection's receive windows", {
    parse: sizeIn(1 << 20, 4 * 1024 ** 3),
    default: DEFAULT_CONNECTION_BUFFER,
    defaultText: "64MiB",
  });
  return command;
}

/**
 * Checks the window flags against each other.
 *
 * @throws {UsageError} when `--max-window` is below `--window`, or
 * `--connection-buffer` below `--max-window` (no window could reach it).
 */
export function checkWindowFlags(flags: TunnelFlags): void {
  if (flags.maxWindow < flags.window) {
    throw new UsageError(
      `Cannot use --max-window ${flags.maxWindow}: below --window ${flags.window}`,
    );
  }
  if (flags.connectionBuffer < flags.maxWindow) {
    throw new UsageError(
      `Cannot use --connection-buffer ${flags.connectionBuffer}: below --max-window ${flags.maxWindow}`,
    );
  }
}
