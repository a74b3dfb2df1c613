/**
 * The wormhole server: accepts tunnel connections from clients, checks who
 * they are, and opens a TCP listener for every app they announce. This file
 * wires the parts: connection handling (`connections.ts`), the peer registry
 * (`peers.ts`), the admin facade (`admin.ts`) and the counters
 * (`accounting.ts`).
 *
 * @module
 */

import { PortAllocator, type PortAssignments, type PortRange } from "../client/mod.ts";
import type { Identity, SessionOptions } from "../crypto/mod.ts";
import { type Logger, LogTally, silentLogger } from "../log/mod.ts";
import type { ServerStats } from "../metrics/mod.ts";
import type { OfferSpec } from "../protocol/mod.ts";
import {
  DEFAULT_MAX_HANDSHAKES,
  type ServeEvent,
  serveTunnel,
  type TunnelEndpoint,
} from "../transport/mod.ts";
import { ServerAccounting } from "./accounting.ts";
import type { Acceptor, PendingRequest } from "./acceptor.ts";
import { type PeerInfo, ServerAdmin } from "./admin.ts";
import type { ApprovalStore } from "./approvals.ts";
import { TunnelConnections } from "./connections.ts";
import { type DeniedKey, DenyList } from "./deny_list.ts";
import { Observers, type ServerObserver } from "./observers.ts";
import { type OfferedApp, ServerOffers } from "./offers.ts";
import { PeerRegistry } from "./peers.ts";

/** Configuration of {@linkcode WormholeServer}. */
export interface ServerOptions {
  /** Interface of the tunnel endpoint (default `0.0.0.0`). */
  host?: string;
  /** Port of the tunnel endpoint (default 8080; 0 = OS-chosen). */
  port?: number;
  /** Path that upgrades to the tunnel (default `/wh/tunnel`). */
  path?: string;
  /** Interface app listeners bind (default `127.0.0.1`). */
  listenHost?: string;
  /** Ports for app listeners; OS-chosen when absent. */
  portRange?: PortRange;
  /** Where the port of each (peer, app) is kept across restarts; in memory when absent. */
  ports?: PortAssignments;
  /** Decides who may join. */
  acceptor: Acceptor;
  /** Approved peers (for listing and revoking); the manual acceptor's store. */
  approvals?: ApprovalStore;
  /** Keys refused by the operator, checked before any RSA work; in memory when absent. */
  denied?: DenyList;
  /** How long `decline` and `revoke` deny a key, in ms; 0 = for good (default 24 h). */
  denyForMs?: number;
  /** The server's long-term key: clients pin its fingerprint. */
  identity: Identity;
  /** Rekey and pipelining settings of the encrypted session. */
  session?: SessionOptions;
  /** Keepalive ping interval in ms (default 15 000). */
  keepaliveMs?: number;
  /** Time a new connection has to say hello, in ms (default 10 000). */
  helloTimeoutMs?: number;
  /** Per-stream receive window (default 2 MiB). */
  window?: number;
  /** Size a per-stream receive window may grow to (default 16 MiB). */
  maxWindow?: number;
  /** Budget of one connection's receive windows (default 64 MiB). */
  connectionBuffer?: number;
  /** Largest frame payload (default 64 KiB). */
  maxPayload?: number;
  /** Connections between accept and authentication at once (default 64). */
  maxHandshakes?: number;
  /** Apps one peer may expose at once (default {@linkcode DEFAULT_MAX_APPS}). */
  maxApps?: number;
  /** PEM certificate and key to serve wss://. */
  tls?: { cert: string; key: string };
  /** Hooks told about peers and apps. */
  observers?: ServerObserver[];
  /** Apps offered to clients at start; {@linkcode WormholeServer.setOffers} changes them later. */
  offers?: OfferSpec[];
  /** Where to log. */
  logger?: Logger;
}

/** Longest a shutdown waits for connections to finish closing. */
const SHUTDOWN_WAIT_MS = 5000;

/** Apps one peer may expose at once, by default: each costs a listening socket. */
export const DEFAULT_MAX_APPS = 256;

/** One app exposed through the server, as `/v1/apps` shows it. */
export interface ExposedApp {
  /** App name. */
  app: string;
  /** `host:port` to connect to. */
  endpoint: string;
  /** The peer that offers it. */
  peer: string;
}

/**
 * A running server. Create it with {@linkcode WormholeServer.start}.
 *
 * @example
 * ```ts ignore
 * const identity = await loadOrCreateIdentityIn(store, "server-key.pem");
 * const server = await WormholeServer.start({ port: 0, acceptor: new DummyAcceptor(), identity });
 * console.log(server.url, server.fingerprint);
 * await server.close();
 * ```
 */
export class WormholeServer {
  #options: ServerOptions;
  #log: Logger;
  #endpoint!: TunnelEndpoint;
  #abort = new AbortController();
  #accounting = new ServerAccounting({
    exposed: (peer, app) => this.#peers.get(peer)?.apps.has(app) ?? false,
  });
  #observers: Observers;
  #peers: PeerRegistry;
  #connections: TunnelConnections;
  #admin: ServerAdmin;
  #offers: ServerOffers;
  #work = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;
  #refused: LogTally;

  private constructor(options: ServerOptions) {
    this.#options = options;
    const log = this.#log = options.logger ?? silentLogger;
    const denied = options.denied ?? DenyList.memory();
    const accounting = this.#accounting;
    const track = (work: Promise<unknown>) => this.#track(work);
    this.#observers = new Observers(options.observers ?? [], log);
    this.#peers = new PeerRegistry({
      ports: new PortAllocator(options.listenHost ?? "127.0.0.1", options.portRange, options.ports),
      accounting,
      observers: this.#observers,
      maxApps: options.maxApps ?? DEFAULT_MAX_APPS,
      track,
      log,
    });
    this.#offers = new ServerOffers({ track, log });
    this.#offers.set(options.offers ?? []);
    this.#connections = new TunnelConnections({
      identity: options.identity,
      acceptor: options.acceptor,
      approvals: options.approvals,
      denied,
      peers: this.#peers,
      accounting,
      session: options.session,
      keepaliveMs: options.keepaliveMs ?? 15_000,
      helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
      window: options.window,
      maxPayload: options.maxPayload,
      maxWindow: options.maxWindow,
      connectionBuffer: options.connectionBuffer,
      track,
      offers: this.#offers,
      log,
    });
    this.#refused = new LogTally(log, "refusing connections: too many handshakes");
    this.#admin = new ServerAdmin({
      acceptor: options.acceptor,
      approvals: options.approvals,
      ports: options.ports,
      denied,
      denyForMs: options.denyForMs,
      peers: this.#peers,
      accounting,
      log,
    });
  }

  /** Starts listening; resolves once the tunnel endpoint is bound (the server is ready then). */
  static async start(options: ServerOptions): Promise<WormholeServer> {
    const server = new WormholeServer(options);
    server.#endpoint = await serveTunnel({
      hostname: options.host ?? "0.0.0.0",
      port: options.port ?? 8080,
      path: options.path ?? "/wh/tunnel",
      tls: options.tls,
      headerTimeoutMs: options.helloTimeoutMs ?? 10_000,
      maxHandshakes: options.maxHandshakes,
      // Our keepalive decides when an admitted peer is dead; this only makes
      // sure that a peer which vanished while nothing pings it (a join
      // request waiting for the operator) does not keep its socket.
      idleTimeoutMs: Math.max(30_000, 3 * (options.keepaliveMs ?? 15_000)),
      signal: server.#abort.signal,
      onConnection: (link, info) => {
        if (server.#closing) link.close("server shutting down");
        else {server.#connections.accept(
            link,
            info.remote,
            server.#log.with({ remote: info.remote }),
          );}
      },
      admit: (remote) => server.#connections.admit(remote),
      onEvent: (event) => server.#onServeEvent(event),
    });
    server.#log.info("tunnel listening", {
      url: server.#endpoint.url,
      acceptor: options.acceptor.kind,
    });
    return server;
  }

  /** The URL clients dial (with the bound port). */
  get url(): string {
    return this.#endpoint.url;
  }

  /** The bound address of the tunnel endpoint. */
  get addr(): Deno.NetAddr {
    return this.#endpoint.addr;
  }

  /** Fingerprint of the server's key, which clients pin. */
  get fingerprint(): string {
    return this.#options.identity.fingerprint;
  }

  /** Every app currently exposed, sorted by peer then app. */
  apps(): ExposedApp[] {
    const out: ExposedApp[] = [];
    for (const peer of this.#peers.values()) {
      for (const listener of peer.apps.values()) {
        const endpoint = this.#observers.endpoint(peer.event(listener));
        out.push({ app: listener.app.name, endpoint, peer: peer.name });
      }
    }
    return out.sort((a, b) => a.peer.localeCompare(b.peer) || a.app.localeCompare(b.app));
  }

  /**
   * Replaces the apps offered to clients; each connected peer is told what
   * changed for it at once.
   */
  setOffers(offers: readonly OfferSpec[]): void {
    this.#offers.set(offers);
  }

  /** The apps offered to clients, sorted by name. */
  offers(): OfferedApp[] {
    return this.#offers.list();
  }

  /** Names of the connected, accepted peers. */
  peerNames(): string[] {
    return this.#peers.names();
  }

  /** Counters for metrics. */
  stats(): ServerStats {
    this.#accounting.sweep((peer, app) => this.#peers.get(peer)?.apps.has(app) ?? false);
    return {
      peersConnected: this.#peers.size,
      pendingRequests: this.requests().length,
      appsExposed: this.#peers.appsExposed(),
      traffic: this.#accounting.traffic(),
      offeredTraffic: this.#offers.traffic(),
      handshakeFailures: this.#accounting.handshakeFailures(),
      handshakes: this.#endpoint.handshakes(),
      connectionsRefused: this.#accounting.connectionsRefused,
      appsRefused: this.#accounting.appsRefused,
    };
  }

  /** Ready while the tunnel endpoint accepts connections and every observer is ready. */
  ready(): boolean {
    return this.#closing === null && this.#observers.ready();
  }

  /** Join requests waiting for the operator (empty unless the acceptor keeps requests). */
  requests(): PendingRequest[] {
    return this.#admin.requests();
  }

  /** Approves a waiting request; false when there is none for `fingerprint`. */
  accept(fingerprint: string): Promise<boolean> {
    return this.#admin.accept(fingerprint);
  }

  /**
   * Declines a waiting request and denies its key for `denyForMs`; false
   * when there is no request for `fingerprint`.
   */
  decline(fingerprint: string): Promise<boolean> {
    return this.#admin.decline(fingerprint);
  }

  /** Keys denied now, oldest first. */
  denied(): DeniedKey[] {
    return this.#admin.denied();
  }

  /** Lifts the denial of `fingerprint`; false when it is not denied. */
  removeDenied(fingerprint: string): Promise<boolean> {
    return this.#admin.removeDenied(fingerprint);
  }

  /** Approved and connected peers, by name, with their traffic. */
  peers(): PeerInfo[] {
    return this.#admin.peers();
  }

  /**
   * Forgets a peer's approval, denies its key for `denyForMs` and
   * disconnects it. False when no peer has that name.
   */
  revoke(name: string): Promise<boolean> {
    return this.#admin.revoke(name);
  }

  #track(work: Promise<unknown>): void {
    const tracked: Promise<unknown> = work
      .catch((error) => this.#log.error("background task failed", { error }))
      .finally(() => this.#work.delete(tracked));
    this.#work.add(tracked);
  }

  #onServeEvent(event: ServeEvent): void {
    if (event.kind === "accept-failed") {
      this.#log.warn("cannot accept connections, retrying", {
        error: event.error,
        retryMs: event.retryMs,
      });
    } else if (event.kind === "refused") {
      // A flood refuses thousands a second: one warning per 10 s, with the count.
      this.#accounting.connectionsRefused++;
      this.#refused.add({
        reason: event.reason,
        maxHandshakes: this.#options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES,
      });
    } else {
      this.#log.debug("upgrade failed", { remote: event.remote, error: event.error });
    }
  }

  /** Stops accepting, tells every peer, closes every listener and connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      this.#connections.closeAll("server shutting down");
      await Promise.all(
        [...this.#peers.values()].map((peer) => this.#peers.remove(peer, "shutdown")),
      );
      await this.#options.ports?.flush();
      // A link cuts a peer that does not answer its close after a second;
      // shutdown does not wait for anything longer than a few seconds.
      const drained = (async () => {
        while (this.#work.size > 0) await Promise.all([...this.#work]);
        await this.#endpoint.finished;
      })();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const late = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(true), SHUTDOWN_WAIT_MS);
      });
      if (await Promise.race([drained.then(() => false), late])) {
        this.#log.warn("stopping without waiting for connections that did not close", {
          waitedMs: SHUTDOWN_WAIT_MS,
          connections: this.#connections.size,
        });
      }
      clearTimeout(timer);
      this.#log.info("server stopped");
    })();
    return this.#closing;
  }
}
