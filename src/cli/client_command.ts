/**
 * `wormhole client` (alias `join`).
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { listenError } from "./listen_error.ts";
import { type AdminAccessFlags, adminAccessFlags, checkAdminAccess } from "./admin_access.ts";
import { Command } from "commander";
import { AppsFileWatcher, mergeApps, ServerPin, WormholeClient } from "../client/mod.ts";
import { loadAppsFile } from "./apps_file.ts";
import type { AppSpec } from "../protocol/mod.ts";
import { type AdminEndpoint, adminHandler, serveAdmin } from "../admin/mod.ts";
import { loadOrCreateIdentityIn } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { StateStore } from "../state/mod.ts";
import { clientMetrics } from "../metrics/mod.ts";
import { startMemoryReleaser } from "./memory.ts";
import { KEY_FILES, openState, type StateFlags, stateFlags } from "./state.ts";
import {
  type OfferedFlags,
  offeredFlags,
  offeredOptions,
  OfferedServices,
} from "./client_offers.ts";
import {
  type KubernetesClientFlags,
  kubernetesClientFlags,
  startClientKubernetes,
} from "./kubernetes.ts";
import {
  checkWindowFlags,
  flag,
  type LogFlags,
  logFlags,
  loggerFrom,
  readPem,
  type TunnelFlags,
  tunnelFlags,
  untilSignal,
} from "./options.ts";
import {
  collectExpose,
  parseDuration,
  parseFingerprints,
  parseHost,
  parseName,
  parsePort,
  parseTunnelUrl,
} from "./parse.ts";

interface ClientFlags
  extends LogFlags, TunnelFlags, StateFlags, KubernetesClientFlags, OfferedFlags, AdminAccessFlags {
  server: string;
  serverFingerprint?: string[];
  exitOnMismatch?: boolean;
  name: string;
  expose?: AppSpec[];
  appsFile?: string;
  reconnectMin: number;
  reconnectMax: number;
  adminPort?: number;
  caFile?: string;
}

/** Builds the `client` command. */
export function clientCommand(): Command {
  const command = new Command("client")
    .alias("join")
    .description("connect to a server and expose apps through it");
  flag(command, "--server <url>", "tunnel URL (ws:// or wss://)", {
    parse: parseTunnelUrl,
    default: "ws://127.0.0.1:8080/wh/tunnel",
  });
  flag(
    command,
    "--server-fingerprint <fp,...>",
    "the server key(s) to expect, any of them (default: pinned on first use)",
    { parse: parseFingerprints },
  );
  flag(command, "--exit-on-mismatch", "exit (code 1) on a server key mismatch instead of retrying");
  flag(command, "--ca-file <file>", "PEM CA certificate(s) to trust for wss://");
  flag(command, "--name <name>", "this client's peer name", {
    parse: parseName,
    default: "default",
  });
  flag(command, "--expose <app>", "name=host:port to expose (repeatable)", {
    parse: collectExpose,
  });
  flag(command, "--apps-file <file>", "YAML or JSON list of apps, re-read when it changes");
  flag(command, "--reconnect-min <duration>", "first reconnect delay bound", {
    parse: parseDuration,
    default: 500,
    defaultText: "500ms",
  });
  flag(command, "--reconnect-max <duration>", "largest reconnect delay", {
    parse: parseDuration,
    default: 30_000,
    defaultText: "30s",
  });
  flag(command, "--admin-host <host>", "interface of the admin API (--admin-port)", {
    parse: parseHost,
    default: "127.0.0.1",
  });
  flag(
    command,
    "--admin-port <port>",
    "serve /healthz, /readyz, /metrics, /v1/apps and /v1/events here (default: off)",
    { parse: parsePort },
  );
  adminAccessFlags(command);
  kubernetesClientFlags(command);
  offeredFlags(command);
  stateFlags(command, "client");
  tunnelFlags(command, {
    stateDir: "where the key and server pin live (--state file)",
    keepalive: "ping interval; 3 silent intervals reconnect",
  });
  logFlags(command);
  command.action(runClient);
  return command;
}

async function runClient(flags: ClientFlags): Promise<void> {
  const log = loggerFrom(flags);
  checkWindowFlags(flags);
  if (flags.reconnectMax < flags.reconnectMin) {
    throw new UsageError(
      `--reconnect-max (${flags.reconnectMax} ms) is below --reconnect-min (${flags.reconnectMin} ms)`,
    );
  }
  if (flags.adminPort !== undefined) checkAdminAccess(flags);
  const caCerts = flags.caFile ? [await readPem(flags.caFile, "--ca-file")] : undefined;
  const state = await openState(flags, "client", log);
  const releaser = startMemoryReleaser(log);
  try {
    await join(flags, state, caCerts, log);
  } finally {
    releaser?.stop();
    await state.close();
  }
}

async function join(
  flags: ClientFlags,
  state: StateStore,
  caCerts: string[] | undefined,
  log: Logger,
): Promise<void> {
  const identity = await loadOrCreateIdentityIn(state, KEY_FILES.client);
  if (identity.created) {
    log.info("created client key", { fingerprint: identity.fingerprint, state: state.name });
  }
  const fixed = flags.expose ?? [];
  const services = await OfferedServices.start(flags, log);
  let watcher: AppsFileWatcher | null = null;
  let fromFile: AppSpec[] = [];
  let fromKube: AppSpec[] = [];
  const merge = () => mergeApps(fixed, fromFile, fromKube);
  const client = new WormholeClient({
    server: flags.server,
    name: flags.name,
    identity,
    caCerts,
    serverFingerprints: flags.serverFingerprint,
    exitOnMismatch: flags.exitOnMismatch,
    pin: new ServerPin(state),
    keepaliveMs: flags.keepalive,
    reconnect: { minMs: flags.reconnectMin, maxMs: flags.reconnectMax },
    window: flags.window,
    maxPayload: flags.maxPayload,
    maxWindow: flags.maxWindow,
    connectionBuffer: flags.connectionBuffer,
    logger: log,
    offered: offeredOptions(flags, services, state, log),
  });
  if (flags.appsFile) {
    const path = flags.appsFile;
    watcher = new AppsFileWatcher(path, {
      onChange: (apps) => {
        fromFile = apps;
        log.info("apps file changed", { file: path, apps: apps.map((app) => app.name) });
        client.setApps(merge());
      },
      onError: (error) => log.warn("cannot use apps file, keeping the apps I have", { error }),
    });
    fromFile = await loadAppsFile(watcher, path);
    watcher.start();
  }
  const kube = await startClientKubernetes(flags, log, (apps) => {
    fromKube = apps;
    client.setApps(merge());
  });
  client.setApps(merge());
  if (client.apps.length === 0 && !kube) {
    // A client may only take what the server offers (Both directions): say that this works.
    log.warn(
      "no apps to expose yet: use --expose or --apps-file (apps the server offers are served " +
        "all the same)",
    );
  }
  client.start();
  const adminAbort = new AbortController();
  let admin: AdminEndpoint | undefined;
  if (flags.adminPort !== undefined) {
    try {
      admin = await serveAdmin({
        hostname: flags.adminHost,
        port: flags.adminPort,
        signal: adminAbort.signal,
        handler: adminHandler({
          apps: () => [
            ...client.apps.map((app) => ({
              app: app.name,
              endpoint: `${app.host}:${app.port}`,
              peer: flags.name,
            })),
            // What the server offers this client: listened on here.
            ...client.offered().map(({ app, endpoint, peer }) => ({ app, endpoint, peer })),
          ],
          ready: () => client.state === "connected",
          // Traffic for `apps list`: the client's apps under its name, offers under the server's.
          stats: () => {
            const stats = client.stats();
            return {
              traffic: [
                ...stats.traffic.map((t) => ({ peer: flags.name, ...t })),
                ...(stats.offeredTraffic ?? []).map((t) => ({ peer: flags.serverName, ...t })),
              ],
            };
          },
        }, {
          metrics: clientMetrics(() => client.stats()),
          token: flags.adminToken,
          hosts: flags.adminHosts,
          signal: adminAbort.signal,
        }),
        onRestart: (error, retryMs) => log.warn("admin API failed, restarting", { error, retryMs }),
      });
    } catch (error) {
      await Promise.all([client.close(), watcher?.stop(), kube?.close(), services?.close()]);
      throw listenError(error, "--admin-host, --admin-port", flags.adminHost, flags.adminPort);
    }
    log.info("admin listening", { url: admin.url });
  }
  const stop = new AbortController();
  const signal = await Promise.race([
    untilSignal(stop.signal),
    client.done.then(() => null),
    ...(kube ? [kube.ended.then(() => null)] : []),
  ]);
  stop.abort();
  if (signal) log.info("shutting down", { signal });
  adminAbort.abort();
  await Promise.all([
    client.close(),
    watcher?.stop(),
    admin?.finished,
    kube?.close(),
    services?.close(),
  ]);
  if (client.fatal) throw client.fatal;
  if (kube?.failure) throw kube.failure;
}
