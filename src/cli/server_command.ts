/**
 * `wormhole server` (alias `listen`).
 *
 * @module
 */

import { UsageError } from "./errors.ts";
import { listenError } from "./listen_error.ts";
import { type AdminAccessFlags, adminAccessFlags, checkAdminAccess } from "./admin_access.ts";
import { Command } from "commander";
import { adminHandler, serveAdmin } from "../admin/mod.ts";
import { loadOrCreateIdentityIn } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import { serverMetrics } from "../metrics/mod.ts";
import { startMemoryReleaser } from "./memory.ts";
import type { StateStore } from "../state/mod.ts";
import {
  type Acceptor,
  ApprovalStore,
  DEFAULT_MAX_APPS,
  DEFAULT_MAX_PENDING,
  DEFAULT_MAX_PENDING_PER_REMOTE,
  DenyList,
  DummyAcceptor,
  ManualAcceptor,
  PendingBoard,
  PortAssignments,
  type PortRange,
  ReplicaRoster,
  WormholeServer,
} from "../server/mod.ts";
import { DEFAULT_MAX_HANDSHAKES } from "../transport/mod.ts";
import { KEY_FILES, openState, type StateFlags, stateFlags } from "./state.ts";
import { type OfferFlags, offerFlags, OfferSources } from "./server_offers.ts";
import {
  type KubernetesServerFlags,
  kubernetesServerFlags,
  startServerKubernetes,
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
  oneOf,
  parseCount,
  parseDenyFor,
  parseDuration,
  parseHost,
  parsePath,
  parsePort,
  parsePortRange,
} from "./parse.ts";

interface ServerFlags
  extends LogFlags, TunnelFlags, StateFlags, KubernetesServerFlags, OfferFlags, AdminAccessFlags {
  host: string;
  port: number;
  path: string;
  listenHost: string;
  portRange?: PortRange;
  adminPort: number;
  acceptor: "server" | "dummy";
  maxPending: number;
  maxPendingPerRemote: number;
  denyFor: number;
  maxHandshakes: number;
  maxApps: number;
  tlsCert?: string;
  tlsKey?: string;
  helloTimeout: number;
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
  adminAccessFlags(command);
  flag(command, "--acceptor <kind>", "who may join: server (operator approves) or dummy (anyone)", {
    parse: oneOf(["server", "dummy"] as const),
    default: "server",
  });
  flag(command, "--max-pending <n>", "join requests that may wait for approval at once", {
    parse: parseCount(1, 10_000),
    default: DEFAULT_MAX_PENDING,
  });
  flag(command, "--max-pending-per-remote <n>", "of those, how many from one remote address", {
    parse: parseCount(1, 10_000),
    default: DEFAULT_MAX_PENDING_PER_REMOTE,
  });
  flag(
    command,
    "--deny-for <duration>",
    "how long declined and revoked keys are refused (0: for good)",
    {
      parse: parseDenyFor,
      default: 86_400_000,
      defaultText: "24h",
    },
  );
  flag(command, "--max-handshakes <n>", "connections that may be unauthenticated at once", {
    parse: parseCount(1, 100_000),
    default: DEFAULT_MAX_HANDSHAKES,
  });
  flag(command, "--max-apps <n>", "apps one client may expose at once", {
    parse: parseCount(1, 100_000),
    default: DEFAULT_MAX_APPS,
  });
  flag(command, "--hello-timeout <duration>", "time a new connection has to say hello", {
    parse: parseDuration,
    default: 10_000,
    defaultText: "10s",
  });
  flag(command, "--tls-cert <file>", "PEM certificate chain: serve wss:// (needs --tls-key)");
  flag(command, "--tls-key <file>", "PEM private key of --tls-cert");
  offerFlags(command);
  kubernetesServerFlags(command);
  stateFlags(command, "server");
  tunnelFlags(command, {
    stateDir: "where keys, approvals, ports and denials live (--state file)",
    keepalive: "ping interval; 3 silent intervals close",
  });
  logFlags(command);
  command.action(runServer);
  return command;
}

async function runServer(flags: ServerFlags): Promise<void> {
  const log = loggerFrom(flags);
  checkWindowFlags(flags);
  checkAdminAccess(flags);
  if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) {
    throw new UsageError("--tls-cert and --tls-key go together: give both or neither");
  }
  const tls = flags.tlsCert && flags.tlsKey
    ? {
      cert: await readPem(flags.tlsCert, "--tls-cert"),
      key: await readPem(flags.tlsKey, "--tls-key"),
    }
    : undefined;
  const state = await openState(flags, "server", log);
  const releaser = startMemoryReleaser(log);
  try {
    await serve(flags, state, tls, log);
  } finally {
    releaser?.stop();
    await state.close();
  }
}

async function serve(
  flags: ServerFlags,
  state: StateStore,
  tls: { cert: string; key: string } | undefined,
  log: Logger,
): Promise<void> {
  const identity = await loadOrCreateIdentityIn(state, KEY_FILES.server);
  log.info(identity.created ? "created server key" : "loaded server key", {
    fingerprint: identity.fingerprint,
    state: state.name,
  });
  let acceptor: Acceptor;
  let approvals: ApprovalStore | undefined;
  if (flags.acceptor === "server") {
    approvals = ApprovalStore.open(state);
    acceptor = new ManualAcceptor(approvals, {
      maxPending: flags.maxPending,
      maxPendingPerRemote: flags.maxPendingPerRemote,
      logger: log,
      // --ha: one operator view of the requests waiting on every replica.
      board: flags.kubernetes && flags.ha && flags.replicaName
        ? new PendingBoard(state, flags.replicaName, { logger: log })
        : undefined,
    });
  } else {
    log.warn("acceptor dummy: every client is accepted without approval");
    acceptor = new DummyAcceptor();
  }
  const offers = await OfferSources.open(flags, log);
  const kube = await startServerKubernetes(flags, log, (list) => offers.setKubernetes(list));
  // --ha: every replica's peers and apps in /v1/peers and /v1/apps.
  const roster = kube?.ha && flags.replicaName
    ? new ReplicaRoster(state, flags.replicaName, { logger: log })
    : undefined;
  let server: WormholeServer;
  try {
    server = await WormholeServer.start({
      identity,
      approvals,
      host: flags.host,
      port: flags.port,
      path: flags.path,
      listenHost: flags.listenHost,
      portRange: flags.portRange,
      ports: new PortAssignments(state, { logger: log }),
      denied: DenyList.open(state),
      denyForMs: flags.denyFor,
      acceptor,
      tls,
      keepaliveMs: flags.keepalive,
      helloTimeoutMs: flags.helloTimeout,
      window: flags.window,
      maxPayload: flags.maxPayload,
      maxWindow: flags.maxWindow,
      connectionBuffer: flags.connectionBuffer,
      maxHandshakes: flags.maxHandshakes,
      maxApps: flags.maxApps,
      observers: roster ? [...kube!.observers, roster] : kube?.observers,
      offers: offers.offers,
      logger: log,
    });
  } catch (error) {
    await offers.stop();
    await kube?.close();
    throw listenError(error, "--host, --port", flags.host, flags.port);
  }
  roster?.attach(server);
  offers.onChange((list) => server.setOffers(list));
  const abort = new AbortController();
  let admin;
  try {
    admin = await serveAdmin({
      hostname: flags.adminHost,
      port: flags.adminPort,
      signal: abort.signal,
      handler: adminHandler(roster ? roster.view(server) : server, {
        token: flags.adminToken,
        hosts: flags.adminHosts,
        metrics: serverMetrics(
          () => server.stats(),
          kube?.ha && (() => ({ leader: kube.ha!.leader, changes: kube.ha!.changes })),
        ),
        dashboard: true,
        signal: abort.signal,
      }),
      onRestart: (error, retryMs) => log.warn("admin API failed, restarting", { error, retryMs }),
    });
  } catch (error) {
    await server.close();
    await roster?.close();
    await offers.stop();
    await kube?.close();
    throw listenError(error, "--admin-host, --admin-port", flags.adminHost, flags.adminPort);
  }
  log.info("admin listening", { url: admin.url });
  const stop = new AbortController();
  const signal = await Promise.race([
    untilSignal(stop.signal),
    ...(kube?.offers ? [kube.offers.ended.then(() => null)] : []),
  ]);
  stop.abort();
  if (signal) log.info("shutting down", { signal });
  abort.abort();
  await Promise.all([server.close(), admin.finished, offers.stop()]);
  await approvals?.flush().catch((error) => log.warn("cannot record last seen", { error }));
  // --ha: the requests that ended with the server leave the other replicas' lists.
  if (acceptor instanceof ManualAcceptor) await acceptor.settled();
  await roster?.close();
  await kube?.close();
  if (kube?.offers?.failure) throw kube.offers.failure;
}
