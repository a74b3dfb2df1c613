/**
 * Operator commands that talk to a server's admin API: `apps`, `requests`,
 * `peers` and `denied`.
 *
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import { AdminClient } from "../admin/mod.ts";
import { parseFingerprint } from "../crypto/mod.ts";
import { flag } from "./options.ts";
import { oneOf, parseHttpUrl } from "./parse.ts";
import { formatTable } from "./table.ts";

interface AdminFlags {
  admin: string;
  adminToken?: string;
  output: "table" | "json";
}

/** Adds `--admin`, `--admin-token` and `-o` to a leaf command. */
function adminFlags(command: Command, output = true): Command {
  flag(command, "--admin <url>", "admin API of the server", {
    parse: parseHttpUrl,
    default: "http://127.0.0.1:8081",
  });
  flag(command, "--admin-token <token>", "bearer token of the admin API");
  if (output) {
    flag(command, "-o, --output <format>", "table or json", {
      parse: oneOf(["table", "json"] as const),
      default: "table",
    });
  }
  return command;
}

function client(flags: AdminFlags): AdminClient {
  return new AdminClient(flags.admin, { token: flags.adminToken });
}

function fingerprintArgument(value: string): string {
  try {
    return parseFingerprint(value);
  } catch (error) {
    // Commander prints this as a usage error naming the argument.
    throw new InvalidArgumentError((error as Error).message);
  }
}

function print(flags: AdminFlags, data: unknown, headers: string[], rows: string[][]): void {
  if (flags.output === "json") console.log(JSON.stringify(data, null, 2));
  else console.log(formatTable(headers, rows));
}

/** Builds `apps list`. */
export function appsCommand(): Command {
  const list = adminFlags(new Command("list").alias("ls").description("list exposed apps"))
    .action(async (flags: AdminFlags) => {
      const apps = await client(flags).apps();
      print(flags, apps, ["PEER", "APP", "ENDPOINT"], apps.map((a) => [a.peer, a.app, a.endpoint]));
    });
  return new Command("apps").description("inspect apps exposed by a server").addCommand(list);
}

/** Builds `requests list|accept|decline`. */
export function requestsCommand(): Command {
  const list = adminFlags(
    new Command("list").alias("ls").description("list keys waiting for approval"),
  ).action(async (flags: AdminFlags) => {
    const fingerprints = await client(flags).requests();
    print(flags, fingerprints, ["FINGERPRINT"], fingerprints.map((fp) => [fp]));
  });
  const accept = adminFlags(
    new Command("accept").description("approve a waiting key").argument(
      "<fingerprint>",
      "the fingerprint the client logged",
      fingerprintArgument,
    ),
    false,
  ).action(async (fingerprint: string, flags: AdminFlags) => {
    await client(flags).accept(fingerprint);
    console.log(`Accepted ${fingerprint}`);
  });
  const decline = adminFlags(
    new Command("decline").description("refuse a waiting key and deny it (--deny-for)").argument(
      "<fingerprint>",
      "the fingerprint the client logged",
      fingerprintArgument,
    ),
    false,
  ).action(async (fingerprint: string, flags: AdminFlags) => {
    await client(flags).decline(fingerprint);
    console.log(`Declined ${fingerprint}`);
  });
  return new Command("requests").description("approve or refuse clients waiting to join")
    .addCommand(list).addCommand(accept).addCommand(decline);
}

/** Builds `peers list|revoke`. */
export function peersCommand(): Command {
  const list = adminFlags(
    new Command("list").alias("ls").description("list approved and connected peers"),
  ).action(async (flags: AdminFlags) => {
    const peers = await client(flags).peers();
    print(
      flags,
      peers,
      ["NAME", "FINGERPRINT", "CONNECTED", "APPS", "LAST SEEN"],
      peers.map((p) => [
        p.name,
        p.fingerprint || "-",
        p.connected ? "yes" : "no",
        p.apps.join(",") || "-",
        p.lastSeen,
      ]),
    );
  });
  const revoke = adminFlags(
    new Command("revoke").description("disconnect a peer, forget its approval, deny its key")
      .argument("<name>", "peer name"),
    false,
  ).action(async (name: string, flags: AdminFlags) => {
    await client(flags).revoke(name);
    console.log(`Revoked ${name}`);
  });
  return new Command("peers").description("inspect and revoke peers").addCommand(list)
    .addCommand(revoke);
}

/** Builds `denied list|remove`. */
export function deniedCommand(): Command {
  const list = adminFlags(
    new Command("list").alias("ls").description("list keys the server refuses"),
  ).action(async (flags: AdminFlags) => {
    const denied = await client(flags).denied();
    print(
      flags,
      denied,
      ["FINGERPRINT", "NAME", "REASON", "SINCE", "UNTIL"],
      denied.map((d) => [d.fingerprint, d.name || "-", d.reason, d.since, d.until ?? "forever"]),
    );
  });
  const remove = adminFlags(
    new Command("remove").alias("rm").description("lift a denial: the key may ask again")
      .argument("<fingerprint>", "the denied fingerprint", fingerprintArgument),
    false,
  ).action(async (fingerprint: string, flags: AdminFlags) => {
    await client(flags).removeDenied(fingerprint);
    console.log(`Removed ${fingerprint} from the deny list`);
  });
  return new Command("denied").description("inspect and lift denials of declined and revoked keys")
    .addCommand(list).addCommand(remove);
}
