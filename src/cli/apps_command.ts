/**
 * `wormhole apps list`.
 *
 * @module
 */

import { Command } from "commander";
import { AdminClient, type AppEntry } from "../admin/mod.ts";
import { flag } from "./options.ts";
import { oneOf, parseHttpUrl } from "./parse.ts";
import { formatTable } from "./table.ts";

/** Builds the `apps` command group. */
export function appsCommand(): Command {
  const apps = new Command("apps").description("inspect apps exposed by a server");
  const list = new Command("list").alias("ls").description("list exposed apps");
  flag(list, "--admin <url>", "admin API of the server", {
    parse: parseHttpUrl,
    default: "http://127.0.0.1:8081",
  });
  flag(list, "-o, --output <format>", "table or json", {
    parse: oneOf(["table", "json"] as const),
    default: "table",
  });
  list.action(async (flags: { admin: string; output: "table" | "json" }) => {
    const entries: AppEntry[] = await new AdminClient(flags.admin, {
      token: Deno.env.get("WORMHOLE_ADMIN_TOKEN"),
    }).apps();
    if (flags.output === "json") {
      console.log(JSON.stringify(entries, null, 2));
      return;
    }
    console.log(
      formatTable(["PEER", "APP", "ENDPOINT"], entries.map((e) => [e.peer, e.app, e.endpoint])),
    );
  });
  return apps.addCommand(list);
}
