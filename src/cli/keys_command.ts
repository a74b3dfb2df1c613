/**
 * `wormhole keys fingerprint`: the local key's fingerprint, creating the key
 * if needed.
 *
 * @module
 */

import { Command } from "commander";
import { loadOrCreateIdentityIn } from "../crypto/mod.ts";
import { silentLogger } from "../log/mod.ts";
import { flag } from "./options.ts";
import { defaultStateDir, oneOf } from "./parse.ts";
import { KEY_FILES, openState, type StateFlags, stateFlags } from "./state.ts";
import { OUTPUT_FORMATS, type OutputFormat } from "./views.ts";

/** Builds the `keys` command group. */
export function keysCommand(): Command {
  const fingerprint = new Command("fingerprint")
    .description("print the fingerprint of this machine's key (created if missing)");
  flag(fingerprint, "--state-dir <dir>", "where the key lives (--state file)", {
    default: defaultStateDir(),
  });
  stateFlags(fingerprint);
  flag(fingerprint, "--key <which>", "client (the default) or server", {
    parse: oneOf(["client", "server"] as const),
    default: "client",
  });
  flag(fingerprint, "-o, --output <format>", "table or wide (the fingerprint alone) or json", {
    parse: oneOf(OUTPUT_FORMATS),
    default: "table",
  });
  type Flags = StateFlags & { key: "client" | "server"; output: OutputFormat };
  fingerprint.action(async (flags: Flags) => {
    const state = await openState(flags, flags.key, silentLogger, { follow: false });
    try {
      const identity = await loadOrCreateIdentityIn(state, KEY_FILES[flags.key]);
      console.log(
        flags.output === "json"
          ? JSON.stringify({ fingerprint: identity.fingerprint, key: flags.key }, null, 2)
          : identity.fingerprint,
      );
    } finally {
      await state.close();
    }
  });
  return new Command("keys").description("inspect local keys").addCommand(fingerprint);
}
