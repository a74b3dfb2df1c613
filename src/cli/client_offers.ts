/**
 * Where a client listens for the apps the server offers it: `--listen-host`
 * (127.0.0.1, or 0.0.0.0 with `--kubernetes` so that the proxy Services can
 * reach the pod), `--port-range` and `--server-name` (how the offers are
 * listed, and the prefix of their proxy Services).
 *
 * @module
 */

import type { Command } from "commander";
import type { OfferedAppsOptions, PortRange } from "../client/mod.ts";
import { flag } from "./options.ts";
import { parseHost, parseName, parsePortRange } from "./parse.ts";

/** The flags of the offered apps' listeners. */
export interface OfferedFlags {
  /** `--listen-host`; by mode when absent. */
  listenHost?: string;
  /** `--port-range`; OS-chosen ports when absent. */
  portRange?: PortRange;
  /** `--server-name`. */
  serverName: string;
  /** `--kubernetes`, which changes the default listen host. */
  kubernetes?: boolean;
}

/** Adds `--listen-host`, `--port-range` and `--server-name` to the client command. */
export function offeredFlags(command: Command): void {
  flag(
    command,
    "--listen-host <host>",
    "interface the listeners of apps the server offers bind (default: 127.0.0.1; " +
      "0.0.0.0 with --kubernetes)",
    { parse: parseHost },
  );
  flag(command, "--port-range <from-to>", "ports for those listeners (default: OS-chosen)", {
    parse: parsePortRange,
  });
  flag(command, "--server-name <name>", "the server's name in lists and proxy Service names", {
    parse: parseName,
    default: "central",
  });
}

/** The client's settings for the apps the server offers it. */
export function offeredOptions(flags: OfferedFlags): Omit<OfferedAppsOptions, "track" | "log"> {
  return {
    listenHost: flags.listenHost ?? (flags.kubernetes ? "0.0.0.0" : "127.0.0.1"),
    portRange: flags.portRange,
    serverName: flags.serverName,
  };
}
