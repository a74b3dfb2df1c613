/**
 * `wormhole keys fingerprint`: the local key's fingerprint, creating the key
 * if needed.
 *
 * @module
 */

import { Command } from "commander";
import { loadOrCreateIdentity } from "../crypto/mod.ts";
import { flag } from "./options.ts";
import { defaultStateDir, oneOf } from "./parse.ts";

/** File names of the keys in the state directory. */
export const KEY_FILES = { client: "client-key.pem", server: "server-key.pem" } as const;

/** Builds the `keys` command group. */
export function keysCommand(): Command {
  const fingerprint = new Command("fingerprint")
    .description("print the fingerprint of this machine's key (created if missing)");
  flag(fingerprint, "--state-dir <dir>", "where the key lives", { default: defaultStateDir() });
  flag(fingerprint, "--key <which>", "client (the default) or server", {
    parse: oneOf(["client", "server"] as const),
    default: "client",
  });
  fingerprint.action(async (flags: { stateDir: string; key: "client" | "server" }) => {
    const identity = await loadOrCreateIdentity(flags.stateDir, KEY_FILES[flags.key]);
    console.log(identity.fingerprint);
  });
  return new Command("keys").description("inspect local keys").addCommand(fingerprint);
}
