/**
 * Operator commands that talk to a server's admin API: `apps`, `requests`,
 * `peers`, `denied` and `offers`. Every one that prints takes `-o table|wide|json`;
 * the lists take `--watch`.
 *
 * @module
 */

import { Command, InvalidArgumentError } from "commander";
import { AdminClient } from "../admin/mod.ts";
import { parseFingerprint } from "../crypto/mod.ts";
import { flag } from "./options.ts";
import { oneOf, parseHttpUrl } from "./parse.ts";
import {
  APPS_VIEW,
  DENIED_VIEW,
  OFFERS_VIEW,
  type Outcome,
  OUTPUT_FORMATS,
  type OutputFormat,
  PEERS_VIEW,
  render,
  renderOutcome,
  REQUESTS_VIEW,
  type View,
} from "./views.ts";
import { interruptSignal, watch } from "./watch.ts";

interface AdminFlags {
  admin: string;
  adminToken?: string;
  output: OutputFormat;
  watch?: boolean;
}

/** Adds `--admin`, `--admin-token` and `-o` to a leaf command. */
function adminFlags(command: Command): Command {
  flag(command, "--admin <url>", "admin API of the server (or of a client)", {
    parse: parseHttpUrl,
    default: "http://127.0.0.1:8081",
  });
  flag(command, "--admin-token <token>", "bearer token of the admin API");
  flag(command, "-o, --output <format>", "table, wide (more columns) or json", {
    parse: oneOf(OUTPUT_FORMATS),
    default: "table",
  });
  return command;
}

function client(flags: AdminFlags, signal?: AbortSignal): AdminClient {
  return new AdminClient(flags.admin, { token: flags.adminToken, signal });
}

function fingerprintArgument(value: string): string {
  try {
    return parseFingerprint(value);
  } catch (error) {
    // Commander prints this as a usage error naming the argument.
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A `list` command over `fetch`, with `-o` and `--watch`. */
function listCommand<T>(
  description: string,
  view: View<T>,
  fetch: (client: AdminClient) => Promise<T[]>,
): Command {
  const command = adminFlags(new Command("list").alias("ls").description(description));
  flag(command, "-w, --watch", "print again on every change until Ctrl-C");
  return command.action(async (flags: AdminFlags) => {
    const draw = async (admin: AdminClient) =>
      render(view, await fetch(admin), flags.output, Date.now());
    if (!flags.watch) {
      console.log(await draw(client(flags)));
      return;
    }
    const interrupt = interruptSignal();
    const admin = client(flags, interrupt.signal);
    const json = flags.output === "json";
    try {
      await watch({
        client: admin,
        // JSON while watching: one compact document per line, for tools.
        draw: json ? async () => JSON.stringify(await fetch(admin)) : () => draw(admin),
        signal: interrupt.signal,
        terminal: !json && Deno.stdout.isTerminal(),
        write: writeStdout,
        separator: json ? "" : "\n",
      });
    } finally {
      interrupt.dispose();
    }
  });
}

function writeStdout(text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
}

/** An action on one fingerprint or name that prints what it did. */
function actionCommand(
  name: string,
  description: string,
  argument: [string, string, ((value: string) => string)?],
  act: (client: AdminClient, subject: string) => Promise<Outcome>,
): Command {
  const command = new Command(name).description(description);
  if (argument[2]) command.argument(argument[0], argument[1], argument[2]);
  else command.argument(argument[0], argument[1]);
  return adminFlags(command).action(async (subject: string, flags: AdminFlags) => {
    console.log(renderOutcome(await act(client(flags), subject), flags.output));
  });
}

const FINGERPRINT_ARGUMENT: [string, string, (value: string) => string] = [
  "<fingerprint>",
  "the fingerprint the client logged",
  fingerprintArgument,
];

/** Builds `apps list`. */
export function appsCommand(): Command {
  const list = listCommand("list exposed apps and their traffic", APPS_VIEW, (c) => c.appDetails());
  return new Command("apps").description(
    "inspect the apps of a server or a client",
  ).addCommand(list);
}

/** Builds `requests list|accept|decline`. */
export function requestsCommand(): Command {
  const list = listCommand(
    "list clients waiting for approval",
    REQUESTS_VIEW,
    (c) => c.requestDetails(),
  );
  const accept = actionCommand(
    "accept",
    "approve a waiting key",
    FINGERPRINT_ARGUMENT,
    async (c, fingerprint) => {
      await c.accept(fingerprint);
      return { result: "accepted", subject: fingerprint, text: `Accepted ${fingerprint}` };
    },
  );
  const decline = actionCommand(
    "decline",
    "refuse a waiting key and deny it (--deny-for)",
    FINGERPRINT_ARGUMENT,
    async (c, fingerprint) => {
      await c.decline(fingerprint);
      return { result: "declined", subject: fingerprint, text: `Declined ${fingerprint}` };
    },
  );
  return new Command("requests").description("approve or refuse clients waiting to join")
    .addCommand(list).addCommand(accept).addCommand(decline);
}

/** Builds `peers list|revoke`. */
export function peersCommand(): Command {
  const list = listCommand(
    "list approved and connected peers and their traffic",
    PEERS_VIEW,
    (c) => c.peerDetails(),
  );
  const revoke = actionCommand(
    "revoke",
    "disconnect a peer, forget its approval, deny its key",
    ["<name>", "peer name"],
    async (c, name) => {
      await c.revoke(name);
      return { result: "revoked", subject: name, text: `Revoked ${name}` };
    },
  );
  return new Command("peers").description("inspect and revoke peers").addCommand(list)
    .addCommand(revoke);
}

/** Builds `denied list|remove`. */
export function deniedCommand(): Command {
  const list = listCommand("list keys the server refuses", DENIED_VIEW, (c) => c.denied());
  const remove = actionCommand(
    "remove",
    "lift a denial: the key may ask again",
    ["<fingerprint>", "the denied fingerprint", fingerprintArgument],
    async (c, fingerprint) => {
      await c.removeDenied(fingerprint);
      return {
        result: "removed",
        subject: fingerprint,
        text: `Removed ${fingerprint} from the deny list`,
      };
    },
  );
  remove.alias("rm");
  return new Command("denied").description("inspect and lift denials of declined and revoked keys")
    .addCommand(list).addCommand(remove);
}

/** Builds `offers list`. */
export function offersCommand(): Command {
  const list = listCommand(
    "list apps the server offers its clients, and their traffic",
    OFFERS_VIEW,
    (c) => c.offers(),
  );
  return new Command("offers").description("inspect apps a server offers to clients")
    .addCommand(list);
}
