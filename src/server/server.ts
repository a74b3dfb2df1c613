/**
 * The wormhole server: accepts tunnel connections from clients, checks who
 * they are, and opens a TCP listener for every app they announce.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { Mux, type RecordLink } from "../mux/mod.ts";
import {
  type AppInfo,
  decodeAppAnnounce,
  decodeAppWithdraw,
  decodeHello,
  encodeHello,
  type Frame,
  FrameKind,
  GoAwayCode,
  nameProblem,
  ProtocolError,
} from "../protocol/mod.ts";
import { serveTunnel, startKeepalive, type TunnelEndpoint } from "../transport/mod.ts";
import type { Acceptor } from "./acceptor.ts";
import { AppListener } from "./app_listener.ts";
import { PortAllocator, type PortRange } from "./port_allocator.ts";
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
  /** Decides who may join. */
  acceptor: Acceptor;
  /** Keepalive ping interval in ms (default 15 000). */
  keepaliveMs?: number;
  /** Time a new connection has to say hello, in ms (default 10 000). */
  helloTimeoutMs?: number;
  /** Per-stream receive window (default 512 KiB). */
  window?: number;
  /** Largest frame payload (default 64 KiB). */
  maxPayload?: number;
  /** PEM certificate and key to serve wss://. */
  tls?: { cert: string; key: string };
  /** Where to log. */
  logger?: Logger;
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

/** A connected and accepted client. */
class Peer {
  readonly apps = new Map<string, AppListener>();
  readonly connectedAt = new Date();
  constructor(readonly name: string, readonly remote: string, readonly mux: Mux) {}
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
  #work = new Set<Promise<unknown>>();
  #closing: Promise<void> | null = null;

  private constructor(options: ServerOptions) {
    this.#options = options;
    this.#log = options.logger ?? silentLogger;
    this.#ports = new PortAllocator(options.listenHost ?? "127.0.0.1", options.portRange);
  }

  /** Starts listening; resolves once the tunnel endpoint is bound. */
  static async start(options: ServerOptions): Promise<WormholeServer> {
    const server = new WormholeServer(options);
    server.#endpoint = await serveTunnel({
      hostname: options.host ?? "0.0.0.0",
      port: options.port ?? 8080,
      path: options.path ?? "/wh/tunnel",
      tls: options.tls,
      signal: server.#abort.signal,
      onConnection: (link, info) => server.#onConnection(link, info.remote),
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
        out.push({ app: listener.app.name, endpoint: listener.endpoint, peer: peer.name });
      }
    }
    return out.sort((a, b) => a.peer.localeCompare(b.peer) || a.app.localeCompare(b.app));
  }

  /** Names of the connected, accepted peers. */
  peerNames(): string[] {
    return [...this.#peers.keys()].sort();
  }

  #track(work: Promise<unknown>): void {
    this.#work.add(work);
    work.finally(() => this.#work.delete(work));
  }

  #onConnection(link: RecordLink & { finished?: Promise<void> }, remote: string): void {
    if (this.#closing) {
      link.close("server shutting down");
      return;
    }
    const log = this.#log.with({ remote });
    const options = this.#options;
    const keepaliveMs = options.keepaliveMs ?? 15_000;
    const helloTimeoutMs = options.helloTimeoutMs ?? 10_000;
    const decided = new AbortController();
    let peer: Peer | null = null;
    let helloSeen = false;

    const onControl = (frame: Frame) => {
      if (!peer) {
        if (frame.kind !== FrameKind.Hello || helloSeen) {
          throw new ProtocolError(
            "malformed",
            helloSeen ? "Cannot accept control frame before being accepted" : "Expected hello",
          );
        }
        helloSeen = true;
        clearTimeout(helloTimer);
        this.#onHello(mux, decodeHello(frame.payload), remote, log, decided.signal)
          .then((accepted) => peer = accepted, (error) => {
            log.error("cannot decide on peer", { error });
            mux.goAway(GoAwayCode.Internal, "internal error while deciding on the peer");
          });
        return;
      }
      if (frame.kind === FrameKind.AppAnnounce) {
        this.#announce(peer, decodeAppAnnounce(frame.payload), log);
      } else if (frame.kind === FrameKind.AppWithdraw) {
        void this.#withdraw(peer, decodeAppWithdraw(frame.payload), log);
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
    log.debug("tunnel connection opened");
    const helloTimer = setTimeout(() => {
      log.warn("closing connection: no hello", { timeoutMs: helloTimeoutMs });
      mux.goAway(GoAwayCode.Protocol, `no hello within ${helloTimeoutMs} ms`);
    }, helloTimeoutMs);
    const stopKeepalive = startKeepalive(mux, keepaliveMs, (silentMs) => {
      log.warn("closing connection: peer silent", { silentMs });
      mux.goAway(GoAwayCode.Timeout, `silent for ${silentMs} ms`);
    });

    this.#track(mux.done.then(async (error) => {
      clearTimeout(helloTimer);
      stopKeepalive();
      decided.abort();
      this.#connections.delete(mux);
      if (error) log.warn("tunnel connection failed", { error });
      const accepted = peer ?? [...this.#peers.values()].find((p) => p.mux === mux);
      if (accepted) await this.#removePeer(accepted, error ? error.message : "disconnected");
      await link.finished;
    }));
  }

  async #onHello(
    mux: Mux,
    hello: ReturnType<typeof decodeHello>,
    remote: string,
    log: Logger,
    signal: AbortSignal,
  ): Promise<Peer | null> {
    const problem = nameProblem(hello.name);
    if (problem) {
      log.warn("rejecting peer: bad name", { peer: hello.name, problem });
      mux.goAway(GoAwayCode.Rejected, `peer name ${problem}`);
      return null;
    }
    const decision = await this.#options.acceptor.decide({ name: hello.name, remote, signal });
    if (mux.isClosed) return null;
    if (!decision.accepted) {
      log.warn("rejecting peer", { peer: hello.name, reason: decision.reason });
      mux.goAway(GoAwayCode.Rejected, decision.reason);
      return null;
    }
    const previous = this.#peers.get(hello.name);
    if (previous) {
      log.info("replacing older connection of peer", { peer: hello.name });
      previous.mux.goAway(GoAwayCode.Replaced, "replaced by a newer connection");
      await this.#removePeer(previous, "replaced");
      if (mux.isClosed) return null;
    }
    mux.setPeerSettings(hello);
    const peer = new Peer(hello.name, remote, mux);
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
    log.info("peer connected", { peer: peer.name, software: hello.software });
    return peer;
  }

  #announce(peer: Peer, app: AppInfo, log: Logger): void {
    const problem = nameProblem(app.name);
    if (problem) {
      log.warn("ignoring app: bad name", { peer: peer.name, app: app.name, problem });
      return;
    }
    if (peer.apps.has(app.name)) return;
    let listener: Deno.TcpListener;
    try {
      listener = this.#ports.listen(`${peer.name}\0${app.name}`);
    } catch (error) {
      log.error("cannot expose app", { peer: peer.name, app: app.name, error });
      return;
    }
    const appListener = new AppListener(
      app,
      listener,
      peer.mux,
      log.with({ peer: peer.name }),
      (work) => this.#track(work),
    );
    peer.apps.set(app.name, appListener);
    log.info("app exposed", { peer: peer.name, app: app.name, endpoint: appListener.endpoint });
  }

  async #withdraw(peer: Peer, name: string, log: Logger): Promise<void> {
    const listener = peer.apps.get(name);
    if (!listener) return;
    peer.apps.delete(name);
    await listener.close();
    log.info("app withdrawn", { peer: peer.name, app: name });
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
  }

  /** Stops accepting, tells every peer, closes every listener and connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      for (const mux of this.#connections) mux.goAway(GoAwayCode.Normal, "server shutting down");
      await Promise.all(
        [...this.#peers.values()].map((peer) => this.#removePeer(peer, "shutdown")),
      );
      while (this.#work.size > 0) await Promise.all([...this.#work]);
      await this.#endpoint.finished;
      this.#log.info("server stopped");
    })();
    return this.#closing;
  }
}
