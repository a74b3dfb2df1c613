/**
 * Opening the state document of `wormhole server`, `wormhole client` and
 * `wormhole keys`: the entries each role keeps, and the backend the flags
 * choose.
 *
 * @module
 */

import { PIN_FILE } from "../client/mod.ts";
import type { Logger } from "../log/mod.ts";
import { APPROVALS_ENTRY, DENIED_ENTRY, PORTS_ENTRY } from "../server/mod.ts";
import { FileStateBackend, StateStore } from "../state/mod.ts";

/** Entries (file names in the state directory) of the identity keys. */
export const KEY_FILES = { client: "client-key.pem", server: "server-key.pem" } as const;

/** Whose state: the server's or the client's. */
export type StateRole = "server" | "client";

/** The entries of each role's state document (files in `--state-dir`). */
export const STATE_ENTRIES: Record<StateRole, readonly string[]> = {
  server: [KEY_FILES.server, APPROVALS_ENTRY, PORTS_ENTRY, DENIED_ENTRY],
  client: [KEY_FILES.client, PIN_FILE],
};

/** Values of the state flags. */
export interface StateFlags {
  /** `--state-dir`. */
  stateDir: string;
}

/** Opens the state of `role` as the flags say, and follows outside edits. */
export async function openState(
  flags: StateFlags,
  role: StateRole,
  log: Logger,
): Promise<StateStore> {
  const store = await StateStore.open(new FileStateBackend(flags.stateDir, STATE_ENTRIES[role]), {
    logger: log,
  });
  store.follow();
  return store;
}
