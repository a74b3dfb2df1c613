/**
 * `wormhole testserver`: a tiny HTTP responder for demos and tests.
 *
 * @module
 */

import { Command } from "commander";
import { flag, type LogFlags, logFlags, loggerFrom, untilSignal } from "./options.ts";
import { parseHost, parsePort } from "./parse.ts";
import { listenError } from "./listen_error.ts";

interface TestServerFlags extends LogFlags {
  host: string;
  port: number;
  response: string;
}

/** Builds the `testserver` command. */
export function testServerCommand(): Command {
  const command = new Command("testserver")
    .description("answer every HTTP request with a fixed text (for demos and tests)");
  flag(command, "--host <host>", "interface to bind", { parse: parseHost, default: "127.0.0.1" });
  flag(command, "--port <port>", "port to bind (0: any)", { parse: parsePort, default: 8000 });
  flag(command, "--response <text>", "body of every response", {
    default: "Hello from wormhole!\n",
  });
  logFlags(command);
  command.action(async (flags: TestServerFlags) => {
    const log = loggerFrom(flags);
    const abort = new AbortController();
    const body = new TextEncoder().encode(flags.response);
    const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
    let server: Deno.HttpServer;
    try {
      server = Deno.serve({
        hostname: flags.host,
        port: flags.port,
        signal: abort.signal,
        onListen: resolve,
      }, () => new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } }));
    } catch (error) {
      throw listenError(error, "--host, --port", flags.host, flags.port);
    }
    const addr = await listening;
    log.info("testserver listening", { url: `http://${addr.hostname}:${addr.port}/` });
    await untilSignal();
    abort.abort();
    await server.finished;
  });
  return command;
}
