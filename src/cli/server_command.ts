/**
 * `wormhole server` (alias `listen`).
 *
 * @module
 */

import { Command } from "commander";
import { adminHandler, serveAdmin } from "../admin/mod.ts";
import { DummyAcceptor, type PortRange, WormholeServer } from "../server/mod.ts";
import {
  ensureStateDir,
  flag,
  type LogFlags,
  logFlags,
  loggerFrom,
  untilSignal,
} from "./options.ts";
import {
  defaultStateDir,
  oneOf,
  parseDuration,
  parseHost,
  parsePath,
  parsePort,
  parsePortRange,
  sizeIn,
} from "./parse.ts";

interface ServerFlags extends LogFlags {
  host: string;
  port: number;
  path: string;
  listenHost: string;
  portRange?: PortRange;
  adminHost: string;
  adminPort: number;
  acceptor: "dummy";
  stateDir: string;
  keepalive: number;
  helloTimeout: number;
  window: number;
  maxPayload: number;
}

/** Builds the `server` command. */
export function serverCommand(): Command {
  const command = new Command("server")
    .alias("listen")
    .description("accept clients and expose their apps");
  flag(command, "--host <host>", "interface of the tunnel endpoint", {
    parse: parseHost,
    default: "0.0.0.0",
  });
  flag(command, "--port <port>", "port of the tunnel endpoint (0: any)", {
    parse: parsePort,
    default: 8080,
  });
  flag(command, "--path <path>", "HTTP path that upgrades to the tunnel", {
    parse: parsePath,
    default: "/wh/tunnel",
  });
  flag(command, "--listen-host <host>", "interface the app listeners bind", {
    parse: parseHost,
    default: "127.0.0.1",
  });
  flag(command, "--port-range <from-to>", "ports for app listeners (default: OS-chosen)", {
    parse: parsePortRange,
  });
  flag(command, "--admin-host <host>", "interface of the admin API", {
    parse: parseHost,
    default: "127.0.0.1",
  });
  flag(command, "--admin-port <port>", "port of the admin API (0: any)", {
    parse: parsePort,
    default: 8081,
  });
  flag(command, "--acceptor <kind>", "who may join: dummy (everyone)", {
    parse: oneOf(["dummy"] as const),
    default: "dummy",
  });
  flag(command, "--state-dir <dir>", "where keys and approvals live", {
    default: defaultStateDir(),
  });
  flag(command, "--keepalive <duration>", "ping interval; 3 silent intervals close", {
    parse: parseDuration,
    default: 15_000,
    defaultText: "15s",
  });
  flag(command, "--hello-timeout <duration>", "time a new connection has to say hello", {
    parse: parseDuration,
    default: 10_000,
    defaultText: "10s",
  });
  flag(command, "--window <size>", "per-stream receive window", {
    parse: sizeIn(256 * 1024, 64 << 20),
    default: 512 * 1024,
    defaultText: "512KiB",
  });
  flag(command, "--max-payload <size>", "largest frame payload", {
    parse: sizeIn(1024, 1 << 20),
    default: 65536,
    defaultText: "64KiB",
  });
  logFlags(command);
  command.action(runServer);
  return command;
}

async function runServer(flags: ServerFlags): Promise<void> {
  const log = loggerFrom(flags);
  await ensureStateDir(flags.stateDir);
  const server = await WormholeServer.start({
    host: flags.host,
    port: flags.port,
    path: flags.path,
    listenHost: flags.listenHost,
    portRange: flags.portRange,
    acceptor: new DummyAcceptor(),
    keepaliveMs: flags.keepalive,
    helloTimeoutMs: flags.helloTimeout,
    window: flags.window,
    maxPayload: flags.maxPayload,
    logger: log,
  });
  const abort = new AbortController();
  let admin;
  try {
    admin = await serveAdmin({
      hostname: flags.adminHost,
      port: flags.adminPort,
      signal: abort.signal,
      handler: adminHandler(server),
    });
  } catch (error) {
    await server.close();
    throw error;
  }
  log.info("admin listening", { url: admin.url });
  const signal = await untilSignal();
  log.info("shutting down", { signal });
  abort.abort();
  await Promise.all([server.close(), admin.finished]);
}
