/**
 * The wormhole server: accepts tunnel connections from clients, checks who
 * they are, and opens a TCP listener for every app they announce.
 *
 * @module
 */

import {
  HandshakeError,
  type Identity,
  linkChannel,
  type PeerHello,
  SealedLink,
  serverHandshake,
  type SessionOptions,
} from "../crypto/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import type { ServerStats } from "../metrics/mod.ts";
import { DEFAULT_MAX_RECORD, Mux } from "../mux/mod.ts";
import {
  type AppInfo,
  decodeAppAnnounce,
  decodeAppWithdraw,
  decodeHello,
  DEFAULT_MAX_PAYLOAD,
  encodeHello,
  type Frame,
  FrameKind,
  GoAwayCode,
  HEADER_SIZE,
  nameProblem,
  ProtocolError,
} from "../protocol/mod.ts";
import {
  DEFAULT_MAX_HANDSHAKES,
  type ServeEvent,
  serveTunnel,
  startKeepalive,
  type TunnelEndpoint,
  type WebSocketLink,
  WebSocketProtocolError,
} from "../transport/mod.ts";
import { type Acceptor, ManualAcceptor, type PendingRequest } from "./acceptor.ts";
import type { ApprovalStore } from "./approvals.ts";
import { DEFAULT_HANDSHAKE_LIMITS, hostOf, TokenBuckets } from "./handshake_limits.ts";
import { DEFAULT_DENY_FOR_MS, type DeniedKey, DenyList } from "./deny_list.ts";
import { AppListener } from "./app_listener.ts";
import { ServerAccounting } from "./accounting.ts";
import { PortAllocator, type PortRange } from "./port_allocator.ts";
import { pairKey, type PortAssignments } from "./port_assignments.ts";
import { VERSION } from "../version.ts";

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
  /** Where to log. */
  logger?: Logger;
}

/** Longest a shutdown waits for connections to finish closing. */
const SHUTDOWN_WAIT_MS = 5000;

/** Apps one peer may expose at once, by default: each costs a listening socket. */
export const DEFAULT_MAX_APPS = 256;

/** Bytes a sealed record adds to the mux record it carries (header, tag), rounded up. */
const SEAL_OVERHEAD = 1024;

/** What happened to an exposed app. */
export interface AppEvent {
  /** The peer offering the app. */
  peer: string;
  /** The app as announced. */
  app: AppInfo;
  /** The server's listener port for it. */
  port: number;
  /** `host:port` of the listener. */
  endpoint: string;
}

/**
 * Hooks into what the server exposes. The Kubernetes sink is one: it turns
 * exposed apps into Services. Hooks must not throw.
 */
export interface ServerObserver {
  /** A peer was accepted and connected. */
  peerConnected?(peer: string): void;
  /** A peer's connection ended (its apps were withdrawn first). */
  peerDisconnected?(peer: string): void;
  /** A listener was opened for an app. */
  appExposed?(event: AppEvent): void;
  /** An app's listener was closed: `withdrawn` by the peer, or its peer is `gone`. */
  appWithdrawn?(event: AppEvent & { reason: "withdrawn" | "gone" }): void;
  /**
   * The endpoint `/v1/apps` shows for an app instead of the listener's
   * `host:port` (e.g. `<service>.<namespace>:<port>` in Kubernetes).
   */
  endpoint?(event: AppEvent): string | undefined;
  /**
   * Whether this observer is ready for traffic; the server is ready only
   * while every observer that has this says so (the Kubernetes sink: once it
   * has synced its Services with the API server).
   */
  ready?(): boolean;
}

/** One app exposed through the server, as `/v1/apps` shows it. */
export interface ExposedApp {
  /** App name. */
  app: string;
  /** `host:port` to connect to. */
  endpoint: string;
  /** The peer that offers it. */
  peer: string;
}

/** A peer as the admin API lists it. */
export interface PeerInfo {
  /** Peer name. */
  name: string;
  /** Key fingerprint. */
  fingerprint: string;
  /** Connected now. */
  connected: boolean;
  /** Apps exposed now. */
  apps: string[];
  /** ISO time of its last accepted connection. */
  lastSeen: string;
}

/** A connected and accepted client. */
class Peer {
  readonly apps = new Map<string, AppListener>();
  /** Announces refused because the peer had `maxApps` apps. */
  appsRefused = 0;
  readonly connectedAt = new Date();
  constructor(
    readonly name: string,
    readonly fingerprint: string,
    readonly remote: string,
    readonly mux: Mux,
  ) {}
}

/** A running server. Create it with {@linkcode WormholeServer.start}. */
export class WormholeServer {
  #options: ServerOptions;
  #log: Logger;
  #endpoint!: TunnelEndpoint;
  #abort = new AbortController();
  #ports: PortAllocator;
  #peers = new Map<string, Peer>();
  #connections = new Set<Mux>();
  #links = new Set<WebSocketLink>();
  #accounting = new ServerAccounting();
  #keyBuckets = new TokenBuckets(DEFAULT_HANDSHAKE_LIMITS.key);
  #addressBuckets = new TokenBuckets(DEFAULT_HANDSHAKE_LIMITS.address);
  #work = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;
  #denied: DenyList;
  /** When the last "refusing connections" warning was logged, and refusals since. */
  #refusedAt = -Infinity;
  #refusedSince = 0;

  private constructor(options: ServerOptions) {
    this.#options = options;
    this.#denied = options.denied ?? DenyList.memory();
    this.#log = options.logger ?? silentLogger;
    this.#ports = new PortAllocator(
      options.listenHost ?? "127.0.0.1",
      options.portRange,
      options.ports,
    );
  }

  /** Starts listening; resolves once the tunnel endpoint is bound. */
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
      onConnection: (link, info) => server.#onConnection(link, info.remote),
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

  /** Every app currently exposed, sorted by peer then app. */
  apps(): ExposedApp[] {
    const out: ExposedApp[] = [];
    for (const peer of this.#peers.values()) {
      for (const listener of peer.apps.values()) {
        const event = this.#event(peer, listener);
        let endpoint = listener.endpoint;
        for (const observer of this.#options.observers ?? []) {
          const shown = observer.endpoint?.(event);
          if (shown) {
            endpoint = shown;
            break;
          }
        }
        out.push({ app: listener.app.name, endpoint, peer: peer.name });
      }
    }
    return out.sort((a, b) => a.peer.localeCompare(b.peer) || a.app.localeCompare(b.app));
  }

  /** Names of the connected, accepted peers. */
  peerNames(): string[] {
    return [...this.#peers.keys()].sort();
  }

  /** Counters for metrics. */
  stats(): ServerStats {
    let appsExposed = 0;
    for (const peer of this.#peers.values()) appsExposed += peer.apps.size;
    return {
      peersConnected: this.#peers.size,
      pendingRequests: this.requests().length,
      appsExposed,
      traffic: this.#accounting.traffic(),
      handshakeFailures: this.#accounting.handshakeFailures(),
      handshakes: this.#endpoint.handshakes(),
      connectionsRefused: this.#accounting.connectionsRefused,
      appsRefused: this.#accounting.appsRefused,
    };
  }

  /** Fingerprint of the server's key, which clients pin. */
  get fingerprint(): string {
    return this.#options.identity.fingerprint;
  }

  /** Ready while the tunnel endpoint accepts connections and every observer is ready. */
  ready(): boolean {
    return this.#closing === null &&
      (this.#options.observers ?? []).every((observer) => observer.ready?.() ?? true);
  }

  /** Join requests waiting for the operator (manual acceptor only). */
  requests(): PendingRequest[] {
    const acceptor = this.#options.acceptor;
    return acceptor instanceof ManualAcceptor ? acceptor.pending() : [];
  }

  /** Approves a waiting request; false when there is none for `fingerprint`. */
  accept(fingerprint: string): Promise<boolean> {
    const acceptor = this.#options.acceptor;
    return acceptor instanceof ManualAcceptor
      ? acceptor.accept(fingerprint)
      : Promise.resolve(false);
  }

  /**
   * Declines a waiting request and denies its key for `denyForMs`; false
   * when there is no request for `fingerprint`.
   */
  async decline(fingerprint: string): Promise<boolean> {
    const acceptor = this.#options.acceptor;
    const request = this.requests().find((r) => r.fingerprint === fingerprint);
    if (!request || !(acceptor instanceof ManualAcceptor)) return false;
    // Denied first: the refused client must not slip back in as a new request.
    await this.#deny(fingerprint, request.name, "declined");
    acceptor.decline(fingerprint);
    return true;
  }

  /** Keys denied now, oldest first. */
  denied(): DeniedKey[] {
    return this.#denied.list();
  }

  /** Lifts the denial of `fingerprint`; false when it is not denied. */
  async removeDenied(fingerprint: string): Promise<boolean> {
    const removed = await this.#denied.remove(fingerprint);
    if (removed) this.#log.info("key no longer denied", { fingerprint });
    return removed;
  }

  async #deny(fingerprint: string, name: string, reason: string): Promise<void> {
    const denial = await this.#denied.deny(
      fingerprint,
      name,
      reason,
      this.#options.denyForMs ?? DEFAULT_DENY_FOR_MS,
    );
    this.#log.info("key denied", {
      peer: name,
      fingerprint,
      reason,
      until: denial.until ?? "forever",
      hint: `wormhole denied remove ${fingerprint}`,
    });
  }

  /** Approved and connected peers, by name. */
  peers(): PeerInfo[] {
    const out = new Map<string, PeerInfo>();
    for (const approved of this.#options.approvals?.list() ?? []) {
      out.set(approved.name, {
        name: approved.name,
        fingerprint: approved.fingerprint,
        connected: false,
        apps: [],
        lastSeen: approved.lastSeen,
      });
    }
    for (const peer of this.#peers.values()) {
      out.set(peer.name, {
        name: peer.name,
        fingerprint: peer.fingerprint,
        connected: true,
        apps: [...peer.apps.keys()].sort(),
        lastSeen: out.get(peer.name)?.lastSeen ?? peer.connectedAt.toISOString(),
      });
    }
    return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * Forgets a peer's approval, denies its key for `denyForMs` and
   * disconnects it. False when no peer has that name.
   */
  async revoke(name: string): Promise<boolean> {
    const peer = this.#peers.get(name);
    const fingerprint = this.#options.approvals?.byName(name)?.fingerprint ?? peer?.fingerprint;
    // Denied first: the disconnected peer must not come back as a new request.
    if (fingerprint) await this.#deny(fingerprint, name, "revoked");
    const approval = await this.#options.approvals?.revoke(name);
    this.#options.ports?.forgetPeer(name);
    if (peer) {
      peer.mux.goAway(GoAwayCode.Rejected, "revoked by the operator");
      await this.#removePeer(peer, "revoked");
    }
    if (approval || peer) this.#log.info("peer revoked", { peer: name });
    return Boolean(approval || peer);
  }

  #notify(call: (observer: ServerObserver) => void): void {
    for (const observer of this.#options.observers ?? []) {
      try {
        call(observer);
      } catch (error) {
        this.#log.error("observer failed", { error });
      }
    }
  }

  #event(peer: Peer, listener: AppListener): AppEvent {
    return { peer: peer.name, app: listener.app, port: listener.port, endpoint: listener.endpoint };
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
      this.#refusedSince++;
      const now = performance.now();
      if (now - this.#refusedAt >= 10_000) {
        this.#log.warn("refusing connections: too many handshakes", {
          reason: event.reason,
          refused: this.#refusedSince,
          maxHandshakes: this.#options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES,
        });
        this.#refusedAt = now;
        this.#refusedSince = 0;
      }
    } else {
      this.#log.debug("upgrade failed", { remote: event.remote, error: event.error });
    }
  }

  #onConnection(link: WebSocketLink, remote: string): void {
    if (this.#closing) {
      link.close("server shutting down");
      return;
    }
    const log = this.#log.with({ remote });
    const options = this.#options;
    const gone = new AbortController();
    this.#links.add(link);
    link.finished.then(() => {
      gone.abort();
      this.#links.delete(link);
    });
    log.debug("tunnel connection opened");
    const channel = linkChannel(link);
    this.#track((async () => {
      let result;
      try {
        result = await serverHandshake(channel, {
          identity: options.identity,
          name: "server",
          helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
          pendingIntervalMs: options.keepaliveMs ?? 15_000,
          screen: (hello) => this.#screen(hello.fingerprint),
          decide: (hello, signal) =>
            this.#decide(hello, remote, AbortSignal.any([signal, gone.signal]), log),
          signal: gone.signal,
        });
      } catch (error) {
        // Labelled by meaning: a HandshakeError's code; the peer leaving while the
        // operator decides aborts with a DOMException, which is still "closed";
        // a link closed for bad WebSocket input (too big, text, unmasked) is "websocket".
        const code = link.error instanceof WebSocketProtocolError
          ? "websocket"
          : error instanceof HandshakeError
          ? error.code
          : gone.signal.aborted
          ? "closed"
          : "internal";
        const cause = code === "websocket" ? link.error : error;
        if (code === "closed") log.debug("peer left during the handshake");
        else if (code === "denied") log.info("refused a denied key", { error });
        else log.warn("handshake failed", { code, error: cause });
        this.#accounting.handshakeFailed(code);
        link.close(`handshake failed: ${(error as Error).message}`);
        await link.finished;
        return;
      }
      const session = channel.release();
      // Key confirmed: now, and only now, the approval's "last seen" moves (batched).
      this.#options.approvals?.seen(result.peer.fingerprint);
      // Authenticated: records up to one batch of frames from now on.
      const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
      link.admit(DEFAULT_MAX_RECORD + HEADER_SIZE + maxPayload + SEAL_OVERHEAD);
      await this.#serve(
        new SealedLink(session, result.keys, "server", options.session),
        result.peer,
        remote,
        log,
      );
      await link.finished;
    })());
  }

  /** The refusal of a denied key, shown to its client; undefined for other keys. */
  #screen(fingerprint: string): string | undefined {
    const denial = this.#denied.check(fingerprint);
    if (!denial) return undefined;
    const until = denial.until ? `until ${denial.until}` : "for good";
    return `this key was ${denial.reason} by the operator and is denied ${until}`;
  }

  async #decide(hello: PeerHello, remote: string, signal: AbortSignal, log: Logger) {
    const problem = nameProblem(hello.name);
    if (problem) {
      log.warn("rejecting peer: bad name", { peer: hello.name, problem });
      return { accepted: false as const, reason: `peer name ${problem}` };
    }
    // Before the decision, and so before any signature: replayed hellos cost little.
    if (!this.#keyBuckets.take(hello.fingerprint) || !this.#addressBuckets.take(hostOf(remote))) {
      log.warn("rejecting peer: too many handshakes", {
        peer: hello.name,
        fingerprint: hello.fingerprint,
      });
      return { accepted: false as const, reason: "too many handshakes; try again later" };
    }
    const decision = await this.#options.acceptor.decide({
      name: hello.name,
      fingerprint: hello.fingerprint,
      remote,
      signal,
    });
    if (!decision.accepted) {
      log.warn("rejecting peer", {
        peer: hello.name,
        fingerprint: hello.fingerprint,
        reason: decision.reason,
      });
    }
    return decision;
  }

  /** Runs the multiplexed session of an authenticated peer until it ends. */
  async #serve(link: SealedLink, hello: PeerHello, remote: string, log: Logger): Promise<void> {
    const options = this.#options;
    log = log.with({ peer: hello.name });
    let peer: Peer | null = null;

    const onControl = (frame: Frame) => {
      if (!peer) {
        if (frame.kind !== FrameKind.Hello) {
          throw new ProtocolError("malformed", "Expected hello");
        }
        const settings = decodeHello(frame.payload);
        if (settings.name !== hello.name) {
          throw new ProtocolError("malformed", "Hello names another peer than the handshake");
        }
        peer = this.#register(mux, hello, remote, settings, log);
        return;
      }
      if (frame.kind === FrameKind.AppAnnounce) {
        this.#announce(peer, decodeAppAnnounce(frame.payload), log);
      } else if (frame.kind === FrameKind.AppWithdraw) {
        this.#track(this.#withdraw(peer, decodeAppWithdraw(frame.payload), log));
      } else {
        throw new ProtocolError("malformed", "Cannot accept a second hello");
      }
    };

    const mux = new Mux(link, {
      role: "server",
      window: options.window,
      maxPayload: options.maxPayload,
      onControl,
      onGoAway: (reason) => log.info("peer is going away", { reason: reason.reason }),
    });
    this.#connections.add(mux);
    const stopKeepalive = startKeepalive(mux, options.keepaliveMs ?? 15_000, (silentMs) => {
      log.warn("closing connection: peer silent", { silentMs });
      mux.goAway(GoAwayCode.Timeout, `silent for ${silentMs} ms`);
    });
    const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    const helloTimer = setTimeout(() => {
      if (peer) return;
      log.warn("closing connection: no hello after the handshake", { timeoutMs: helloTimeoutMs });
      mux.goAway(GoAwayCode.Timeout, `no hello within ${helloTimeoutMs} ms`);
    }, helloTimeoutMs);
    const error = await mux.done;
    clearTimeout(helloTimer);
    stopKeepalive();
    this.#connections.delete(mux);
    if (error) log.warn("tunnel connection failed", { error });
    if (peer) await this.#removePeer(peer, error ? error.message : "disconnected");
  }

  #register(
    mux: Mux,
    hello: PeerHello,
    remote: string,
    settings: ReturnType<typeof decodeHello>,
    log: Logger,
  ): Peer {
    const previous = this.#peers.get(hello.name);
    if (previous) {
      log.info("replacing older connection of peer");
      previous.mux.goAway(GoAwayCode.Replaced, "replaced by a newer connection");
      // Its listeners close now, so the new connection can take the same ports.
      this.#peers.delete(previous.name);
      for (const listener of previous.apps.values()) {
        this.#track(listener.close());
        this.#notify((o) =>
          o.appWithdrawn?.({ ...this.#event(previous, listener), reason: "gone" })
        );
      }
      previous.apps.clear();
      this.#notify((o) => o.peerDisconnected?.(previous.name));
    }
    mux.setPeerSettings(settings);
    const peer = new Peer(hello.name, hello.fingerprint, remote, mux);
    this.#peers.set(peer.name, peer);
    mux.sendControl(
      FrameKind.Hello,
      encodeHello({
        name: "server",
        window: mux.window,
        maxPayload: mux.maxPayload,
        software: `wormhole/${VERSION}`,
      }),
    );
    log.info("peer connected", { fingerprint: hello.fingerprint, software: settings.software });
    this.#notify((o) => o.peerConnected?.(peer.name));
    return peer;
  }

  #announce(peer: Peer, app: AppInfo, log: Logger): void {
    const problem = nameProblem(app.name);
    if (problem) {
      log.warn("ignoring app: bad name", { peer: peer.name, app: app.name, problem });
      return;
    }
    if (peer.apps.has(app.name)) return;
    const maxApps = this.#options.maxApps ?? DEFAULT_MAX_APPS;
    if (peer.apps.size >= maxApps) {
      // The protocol has no way to tell the client; the peer stays connected
      // with the apps it has, and the operator reads why here.
      peer.appsRefused++;
      this.#accounting.appsRefused++;
      const fields = { peer: peer.name, app: app.name, maxApps, refused: peer.appsRefused };
      // Once per connection at warn: a client announcing 25,000 apps would flood the log.
      const level = peer.appsRefused === 1 ? "warn" : "debug";
      log[level]("refusing app: the peer exposes --max-apps apps", fields);
      return;
    }
    let listener: Deno.TcpListener;
    try {
      listener = this.#ports.listen(pairKey(peer.name, app.name));
    } catch (error) {
      log.error("cannot expose app", { peer: peer.name, app: app.name, error });
      return;
    }
    const appListener = new AppListener(
      app,
      listener,
      peer.mux,
      this.#accounting.ledger(peer.name, app.name),
      log.with({ peer: peer.name }),
      (work) => this.#track(work),
    );
    peer.apps.set(app.name, appListener);
    log.info("app exposed", { peer: peer.name, app: app.name, endpoint: appListener.endpoint });
    this.#notify((o) => o.appExposed?.(this.#event(peer, appListener)));
  }

  async #withdraw(peer: Peer, name: string, log: Logger): Promise<void> {
    const listener = peer.apps.get(name);
    if (!listener) return;
    peer.apps.delete(name);
    // Tell observers first, so a quick re-announce is seen after the withdrawal.
    log.info("app withdrawn", { peer: peer.name, app: name });
    this.#notify((o) => o.appWithdrawn?.({ ...this.#event(peer, listener), reason: "withdrawn" }));
    await listener.close();
  }

  async #removePeer(peer: Peer, reason: string): Promise<void> {
    if (this.#peers.get(peer.name) !== peer) return;
    this.#peers.delete(peer.name);
    const listeners = [...peer.apps.values()];
    peer.apps.clear();
    await Promise.all(listeners.map((listener) => listener.close()));
    peer.mux.close();
    this.#log.info("peer disconnected", {
      peer: peer.name,
      reason,
      appsClosed: listeners.map((listener) => listener.app.name),
    });
    for (const listener of listeners) {
      this.#notify((o) => o.appWithdrawn?.({ ...this.#event(peer, listener), reason: "gone" }));
    }
    this.#notify((o) => o.peerDisconnected?.(peer.name));
  }

  /** Stops accepting, tells every peer, closes every listener and connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      for (const mux of this.#connections) mux.goAway(GoAwayCode.Normal, "server shutting down");
      for (const link of this.#links) link.close("server shutting down");
      await Promise.all(
        [...this.#peers.values()].map((peer) => this.#removePeer(peer, "shutdown")),
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
          connections: this.#links.size,
        });
      }
      clearTimeout(timer);
      this.#log.info("server stopped");
    })();
    return this.#closing;
  }
}
