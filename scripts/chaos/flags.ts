/**
 * The chaos suite's command line:
 * `[--long] [--json] [--out PATH|-] [--only LIST] [--server-env NAME=VALUE]…
 * [--client-env NAME=VALUE]…`.
 *
 * @module
 */

import { LONG, type Profile, SHORT } from "./profile.ts";

/** What a run was asked to do. */
export interface Flags {
  profile: Profile;
  /** Print the JSON report instead of the table. */
  json: boolean;
  /** Where the JSON report goes; `-` for nowhere; undefined for the profile's default. */
  out?: string;
  /** Scenarios to run, in the given order. */
  only: string[];
  /** Added to the server's environment (e.g. a glibc tunable, to compare). */
  serverEnv: Record<string, string>;
  /** Added to the clients' environment (e.g. glibc's `MALLOC_ARENA_MAX`, to compare). */
  clientEnv: Record<string, string>;
}

/** A bad command line; the suite exits 2 with its message. */
export class ChaosUsageError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ChaosUsageError";
  }
}

/** Parses `args`; `scenarios` are the known names (the default list). */
export function parseFlags(args: readonly string[], scenarios: readonly string[]): Flags {
  const flags: Flags = {
    profile: SHORT,
    json: false,
    only: [...scenarios],
    serverEnv: {},
    clientEnv: {},
  };
  const value = (i: number, what: string) => {
    const next = args[i];
    if (next === undefined || next.startsWith("--")) {
      throw new ChaosUsageError(`${args[i - 1]} needs ${what}`);
    }
    return next;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--long") flags.profile = LONG;
    else if (arg === "--json") flags.json = true;
    else if (arg === "--out") flags.out = value(++i, "a path (or - for none)");
    else if (arg === "--only") {
      const list = value(++i, "a comma list of scenarios").split(",").map((s) => s.trim());
      const unknown = list.find((s) => !scenarios.includes(s));
      if (unknown !== undefined) {
        throw new ChaosUsageError(
          `Unknown scenario "${unknown}" in --only; known: ${scenarios.join(", ")}`,
        );
      }
      flags.only = list;
    } else if (arg === "--server-env" || arg === "--client-env") {
      const pair = value(++i, "NAME=VALUE");
      const eq = pair.indexOf("=");
      if (eq <= 0) throw new ChaosUsageError(`${arg} needs NAME=VALUE, not "${pair}"`);
      (arg === "--server-env" ? flags.serverEnv : flags.clientEnv)[pair.slice(0, eq)] = pair.slice(
        eq + 1,
      );
    } else throw new ChaosUsageError(`Unknown flag "${arg}"`);
  }
  return flags;
}
