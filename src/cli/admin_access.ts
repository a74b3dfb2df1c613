/**
 * Who may use an admin API that server and client serve: the token, the
 * refusal of a reachable API without one, and the host names it answers to.
 *
 * @module
 */

import type { Command } from "commander";
import { isLoopback } from "../admin/mod.ts";
import { UsageError } from "./errors.ts";
import { flag } from "./options.ts";
import { parseHostNames } from "./parse.ts";

/** Values of {@linkcode adminAccessFlags}. */
export interface AdminAccessFlags {
  adminHost: string;
  adminToken?: string;
  adminInsecure?: boolean;
  adminHosts?: string[];
}

/** Adds `--admin-token`, `--admin-insecure` and `--admin-hosts`. */
export function adminAccessFlags(command: Command): Command {
  flag(command, "--admin-token <token>", "bearer token of every admin route but the probes");
  flag(command, "--admin-insecure", "allow a non-loopback admin API without a token");
  flag(
    command,
    "--admin-hosts <names>",
    "DNS names the admin API answers to besides IPs and localhost",
    { parse: parseHostNames },
  );
  return command;
}

/**
 * Checks that an admin API on `--admin-host` may be served as configured.
 *
 * @throws {UsageError} when the host is not loopback and neither a token nor
 * `--admin-insecure` is given: anyone who reaches the port would read
 * (and, on a server, approve) everything.
 */
export function checkAdminAccess(flags: AdminAccessFlags): void {
  if (!flags.adminToken && !flags.adminInsecure && !isLoopback(flags.adminHost)) {
    throw new UsageError(
      `Refusing to serve the admin API on ${flags.adminHost} without --admin-token ` +
        `(or WORMHOLE_ADMIN_TOKEN); pass --admin-insecure to do it anyway`,
    );
  }
}
