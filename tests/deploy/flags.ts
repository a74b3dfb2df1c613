/**
 * The command line of `wormhole server` and `wormhole client` as the
 * deployment files may use it, and a parser for container args.
 *
 * @module
 */

/** value: `--flag=v` or `--flag v`; boolean: `--flag`; repeatable: a value, many times. */
export type FlagKind = "value" | "boolean" | "repeatable";

/** Flags of `wormhole server` (alias `listen`). */
export const SERVER_FLAGS: Readonly<Record<string, FlagKind>> = {
  "host": "value",
  "port": "value",
  "path": "value",
  "listen-host": "value",
  "port-range": "value",
  "admin-host": "value",
  "admin-port": "value",
  "admin-token": "value",
  "acceptor": "value",
  "state": "value",
  "state-dir": "value",
  "state-secret": "value",
  "keepalive": "value",
  "log-level": "value",
  "log-format": "value",
  "tls-cert": "value",
  "tls-key": "value",
  "kubernetes": "boolean",
  "kubernetes-namespace": "value",
  "kubernetes-labels": "value",
  "network-policies": "boolean",
  "unexpose-grace": "value",
  "ha": "boolean",
  "replica-name": "value",
  "advertise-address": "value",
  "lease-duration": "value",
  "lease-renew-deadline": "value",
  "lease-retry-period": "value",
  "kubernetes-namespaces": "value",
  "kubernetes-upstream": "value",
  "cluster-domain": "value",
  "expose": "repeatable",
};

/** Flags of `wormhole client` (alias `join`). */
export const CLIENT_FLAGS: Readonly<Record<string, FlagKind>> = {
  "server": "value",
  "name": "value",
  "expose": "repeatable",
  "apps-file": "value",
  "state": "value",
  "state-dir": "value",
  "state-secret": "value",
  "ca-file": "value",
  "server-fingerprint": "value",
  "kubernetes": "boolean",
  "kubernetes-namespaces": "value",
  "kubernetes-upstream": "value",
  "cluster-domain": "value",
  "log-level": "value",
  "log-format": "value",
  "admin-port": "value",
  "server-name": "value",
  "port-range": "value",
  "kubernetes-namespace": "value",
  "kubernetes-labels": "value",
  "network-policies": "boolean",
};

/** The state directory of the image (its VOLUME and WORMHOLE_STATE_DIR). */
export const STATE_DIR = "/var/lib/wormhole";

const COMMANDS: Readonly<
  Record<string, ["server" | "client", Readonly<Record<string, FlagKind>>]>
> = {
  server: ["server", SERVER_FLAGS],
  listen: ["server", SERVER_FLAGS],
  client: ["client", CLIENT_FLAGS],
  join: ["client", CLIENT_FLAGS],
};

/** Container args, checked against the flags of their sub-command. */
export interface ParsedArgs {
  command: "server" | "client";
  /** Flag name (without `--`) → its values; `""` for a boolean flag. */
  flags: Map<string, string[]>;
}

/** Parses `[sub-command, ...flags]`; throws on anything the program would reject. */
export function parseArgs(args: readonly string[]): ParsedArgs {
  const [first, ...rest] = args;
  const entry = COMMANDS[first ?? ""];
  if (!entry) throw new Error(`first arg must be a sub-command, got ${JSON.stringify(first)}`);
  const [command, known] = entry;
  const flags = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i++) {
    const match = /^--([a-z0-9-]+)(?:=([\s\S]*))?$/.exec(rest[i]);
    if (!match) throw new Error(`${command}: not a long flag: ${JSON.stringify(rest[i])}`);
    const [, name, inline] = match;
    const kind = known[name];
    if (!kind) throw new Error(`${command}: unknown flag --${name}`);
    let value: string;
    if (kind === "boolean") {
      if (inline !== undefined) throw new Error(`${command}: --${name} takes no value`);
      value = "";
    } else if (inline !== undefined) {
      value = inline;
    } else {
      const next = rest[++i];
      if (next === undefined || next.startsWith("--")) {
        throw new Error(`${command}: --${name} needs a value`);
      }
      value = next;
    }
    const values = flags.get(name) ?? [];
    if (values.length > 0 && kind !== "repeatable") {
      throw new Error(`${command}: --${name} given twice`);
    }
    flags.set(name, [...values, value]);
  }
  return { command, flags };
}

/** The flag an environment variable sets (`WORMHOLE_LISTEN_HOST` → `listen-host`), if any. */
export function flagOfEnv(
  variable: string,
  known: Readonly<Record<string, FlagKind>>,
): string | undefined {
  const match = /^WORMHOLE_([A-Z0-9_]+)$/.exec(variable);
  if (!match) return undefined;
  const name = match[1].toLowerCase().replaceAll("_", "-");
  return name in known ? name : undefined;
}

/** Parses `k=v,k=v` (the format of --kubernetes-labels). */
export function parseLabelList(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`not k=v: ${JSON.stringify(pair)}`);
    labels[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return labels;
}
