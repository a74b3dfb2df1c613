/**
 * The state of `wormhole server`, `wormhole client` and `wormhole keys`: the
 * entries each role keeps, the flags that choose where (`--state file` in
 * `--state-dir`, or `--state kubernetes` in a Secret), and opening it.
 *
 * @module
 */

import { type Command, InvalidArgumentError } from "commander";
import { OFFERED_PORTS_ENTRY, PIN_FILE } from "../client/mod.ts";
import {
  CLIENT_STATE_SECRET,
  loadKubeApi,
  resolveNamespace,
  SecretStateBackend,
  SERVER_STATE_SECRET,
} from "../k8s/mod.ts";
import type { Logger } from "../log/mod.ts";
import { APPROVALS_ENTRY, DENIED_ENTRY, PORTS_ENTRY } from "../server/mod.ts";
import { FileStateBackend, type StateBackend, StateStore } from "../state/mod.ts";
import { ensureStateDir, flag } from "./options.ts";
import { oneOf } from "./parse.ts";

/** Entries (file names in the state directory) of the identity keys. */
export const KEY_FILES = { client: "client-key.pem", server: "server-key.pem" } as const;

/** Whose state: the server's or the client's. */
export type StateRole = "server" | "client";

/** The entries of each role's state document (files in `--state-dir`, keys of the Secret). */
export const STATE_ENTRIES: Record<StateRole, readonly string[]> = {
  server: [KEY_FILES.server, APPROVALS_ENTRY, PORTS_ENTRY, DENIED_ENTRY],
  client: [KEY_FILES.client, PIN_FILE, OFFERED_PORTS_ENTRY],
};

/** The Secret of each role's state under `--state kubernetes`. */
export const STATE_SECRETS: Record<StateRole, string> = {
  server: SERVER_STATE_SECRET,
  client: CLIENT_STATE_SECRET,
};

/** Values of the state flags. */
export interface StateFlags {
  /** `--state`. */
  state: "file" | "kubernetes";
  /** `--state-dir`. */
  stateDir: string;
  /** `--state-secret`; the role's default when absent. */
  stateSecret?: string;
  /** `--kubernetes-namespace`, where the command has it: the Secret's namespace. */
  kubernetesNamespace?: string;
}

const DNS_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

function parseSecretName(value: string): string {
  const name = value.trim();
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
    throw new InvalidArgumentError(`"${name}" is not a Secret name.`);
  }
  return name;
}

/**
 * Adds `--state` and `--state-secret` (default: `role`'s Secret; without a
 * role, the command picks it). `--state-dir` comes with the tunnel flags.
 */
export function stateFlags(command: Command, role?: StateRole): Command {
  flag(command, "--state <backend>", "keep keys and state in files (--state-dir) or kubernetes", {
    parse: oneOf(["file", "kubernetes"] as const),
    default: "file",
  });
  const which = role
    ? ""
    : ` (default: ${CLIENT_STATE_SECRET}, with --key server ${SERVER_STATE_SECRET})`;
  flag(
    command,
    "--state-secret <name>",
    `the Secret of --state kubernetes, in this process's namespace${which}`,
    { parse: parseSecretName, default: role ? STATE_SECRETS[role] : undefined },
  );
  return command;
}

/**
 * Opens the state of `role` as the flags say and, unless `follow` is false
 * (one-shot commands), follows edits made by others.
 */
export async function openState(
  flags: StateFlags,
  role: StateRole,
  log: Logger,
  options: { follow?: boolean } = {},
): Promise<StateStore> {
  let backend: StateBackend;
  if (flags.state === "kubernetes") {
    const api = await loadKubeApi();
    const { namespace, source } = await resolveNamespace(flags.kubernetesNamespace);
    const secret = flags.stateSecret ?? STATE_SECRETS[role];
    backend = new SecretStateBackend(api, namespace, secret, { logger: log });
    log.info("state kept in a Kubernetes Secret", {
      secret: `${namespace}/${secret}`,
      namespaceFrom: source,
    });
  } else {
    await ensureStateDir(flags.stateDir);
    backend = new FileStateBackend(flags.stateDir, STATE_ENTRIES[role], { logger: log });
  }
  const store = await StateStore.open(backend, { logger: log });
  if (options.follow ?? true) store.follow();
  return store;
}
