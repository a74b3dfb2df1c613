/**
 * Tunnel connections on the server: the handshake (deny list, acceptor),
 * then the multiplexed session of an authenticated peer (its hello, its app
 * announces and withdrawals, keepalive) until it ends.
 *
 * @module
 */

import {
  type Decision,
  type Identity,
  linkChannel,
  type PeerHello,
  SealedLink,
  serverHandshake,
  type SessionOptions,
} from "../crypto/mod.ts";
import { type Logger, LogTally } from "../log/mod.ts";
import { DEFAULT_MAX_RECORD, Mux } from "../mux/mod.ts";
import {
  decodeAppAnnounce,
  decodeAppWithdraw,
  decodeHello,
  DEFAULT_MAX_PAYLOAD,
  encodeHello,
  type Frame,
  FrameKind,
  GoAwayCode,
  HEADER_SIZE,
  HelloFeature,
  nameProblem,
  ProtocolError,
} from "../protocol/mod.ts";
import { startKeepalive, type WebSocketLink } from "../transport/mod.ts";
import { VERSION } from "../version.ts";
import type { ServerAccounting } from "./accounting.ts";
import type { Acceptor } from "./acceptor.ts";
import type { ApprovalStore } from "./approvals.ts";
import { DEFAULT_HANDSHAKE_LIMITS, hostOf, TokenBuckets } from "./handshake_limits.ts";
import { handshakeFailureCode } from "./failure_code.ts";
import type { DenyList } from "./deny_list.ts";
import type { ServerOffers } from "./offers.ts";
import type { Peer, PeerRegistry } from "./peers.ts";

/** Bytes a sealed record adds to the mux record it carries (header, tag), rounded up. */
const SEAL_OVERHEAD = 1024;

/** What connection handling needs from the server. */
export interface ConnectionOptions {
  /** The server's long-term key. */
  identity: Identity;
  /** Decides who may join. */
  acceptor: Acceptor;
  /** Approved peers, whose "last seen" moves once a handshake completes. */
  approvals?: ApprovalStore;
  /** Keys refused before any RSA work. */
  denied: DenyList;
  /** Where authenticated peers go. */
  peers: PeerRegistry;
  /** Where failed handshakes are counted. */
  accounting: ServerAccounting;
  /** Rekey and pipelining settings of the encrypted session. */
  session?: SessionOptions;
  /** Keepalive ping interval in ms. */
  keepaliveMs: number;
  /** Time for the handshake's hello, and again for the mux hello, in ms. */
  helloTimeoutMs: number;
  /** Per-stream receive window. */
  window?: number;
  /** Size a per-stream receive window may grow to. */
  maxWindow?: number;
  /** Budget of one connection's receive windows. */
  connectionBuffer?: number;
  /** Largest frame payload. */
  maxPayload?: number;
  /** Registers work the server awaits on shutdown. */
  track(work: Promise<unknown>): void;
  /** The apps the server offers, told to peers that ask; their streams are dialled here. */
  offers?: ServerOffers;
  /** Where floods of refusals are tallied (one line per interval). */
  log: Logger;
}

/** The server's tunnel connections, from accept to close. */
export class TunnelConnections {
  #options: ConnectionOptions;
  #links = new Set<WebSocketLink>();
  #muxes = new Set<Mux>();
  #keyBuckets = new TokenBuckets(DEFAULT_HANDSHAKE_LIMITS.key);
  #addressBuckets = new TokenBuckets(DEFAULT_HANDSHAKE_LIMITS.address);
  #keyLimited: LogTally;
  #addressLimited: LogTally;

  /** No connections yet. */
  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#keyLimited = new LogTally(options.log, "rejecting peers: too many handshakes per key");
    this.#addressLimited = new LogTally(
      options.log,
      "refusing upgrades: too many handshakes per address",
    );
  }

  /**
   * Whether `remote` may start a handshake now: its address's bucket, taken
   * before the WebSocket upgrade, so that a flood from one address costs a
   * parsed request head each, not a key exchange.
   */
  admit(remote: string): boolean {
    const host = hostOf(remote);
    if (this.#addressBuckets.take(host)) return true;
    this.#addressLimited.add({ remote: host });
    this.#options.accounting.handshakeFailed("throttled");
    return false;
  }

  /** Links open now. */
  get size(): number {
    return this.#links.size;
  }

  /** Tells every session to go away and closes every link (shutdown). */
  closeAll(reason: string): void {
    for (const mux of this.#muxes) mux.goAway(GoAwayCode.Normal, reason);
    for (const link of this.#links) link.close(reason);
  }

  /** Runs a new tunnel connection from `remote` until it ends. */
  accept(link: WebSocketLink, remote: string, log: Logger): void {
    const gone = new AbortController();
    this.#links.add(link);
    link.finished.then(() => {
      gone.abort();
      this.#links.delete(link);
    });
    log.debug("tunnel connection opened");
    this.#options.track(this.#run(link, remote, gone.signal, log));
  }

  async #run(link: WebSocketLink, remote: string, gone: AbortSignal, log: Logger): Promise<void> {
    const options = this.#options;
    const channel = linkChannel(link);
    let result;
    try {
      result = await serverHandshake(channel, {
        identity: options.identity,
        name: "server",
        helloTimeoutMs: options.helloTimeoutMs,
        pendingIntervalMs: options.keepaliveMs,
        screen: (hello) => this.#screen(hello.fingerprint),
        decide: (hello, signal) =>
          this.#decide(hello, remote, AbortSignal.any([signal, gone]), log),
        signal: gone,
      });
    } catch (error) {
      this.#failed(link, error, gone, log);
      link.close(`handshake failed: ${(error as Error).message}`);
      await link.finished;
      return;
    }
    const session = channel.release();
    // Key confirmed: now, and only now, the approval's "last seen" moves (batched).
    options.approvals?.seen(result.peer.fingerprint);
    // Authenticated: records up to one batch of frames from now on.
    const maxPayload = options.maxPayload ?? DEFAULT_MAX_PAYLOAD;
    link.admit(DEFAULT_MAX_RECORD + HEADER_SIZE + maxPayload + SEAL_OVERHEAD);
    await this.#serve(
      new SealedLink(session, result.keys, "server", options.session),
      result.peer,
      remote,
      log.with({ peer: result.peer.name }),
    );
    await link.finished;
  }

  /** Logs and counts a failed handshake, labelled by meaning. */
  #failed(link: WebSocketLink, error: unknown, gone: AbortSignal, log: Logger): void {
    const code = handshakeFailureCode(error, link.error, gone.aborted);
    const cause = code === "websocket" ? link.error : error;
    if (code === "closed") log.debug("peer left during the handshake");
    else if (code === "denied") log.info("refused a denied key", { error });
    else log.warn("handshake failed", { code, error: cause });
    this.#options.accounting.handshakeFailed(code);
  }

  /** The refusal of a denied key, shown to its client; undefined for other keys. */
  #screen(fingerprint: string): string | undefined {
    const denial = this.#options.denied.check(fingerprint);
    if (!denial) return undefined;
    const until = denial.until ? `until ${denial.until}` : "for good";
    return `this key was ${denial.reason} by the operator and is denied ${until}`;
  }

  async #decide(
    hello: PeerHello,
    remote: string,
    signal: AbortSignal,
    log: Logger,
  ): Promise<Decision> {
    const problem = nameProblem(hello.name);
    if (problem) {
      log.warn("rejecting peer: bad name", { peer: hello.name, problem });
      return { accepted: false, reason: `peer name ${problem}` };
    }
    // Before the decision, and so before any signature: replayed hellos cost
    // little (their address was limited before the upgrade).
    if (!this.#keyBuckets.take(hello.fingerprint)) {
      this.#keyLimited.add({ peer: hello.name, fingerprint: hello.fingerprint, remote });
      return { accepted: false, reason: "too many handshakes; try again later" };
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
    const { peers } = options;
    let peer: Peer | null = null;
    const onControl = (frame: Frame, mux: Mux) => {
      if (!peer) {
        peer = this.#hello(mux, frame, hello, remote, log);
      } else if (frame.kind === FrameKind.AppAnnounce) {
        peers.announce(peer, decodeAppAnnounce(frame.payload), log);
      } else if (frame.kind === FrameKind.AppWithdraw) {
        options.track(peers.withdraw(peer, decodeAppWithdraw(frame.payload), log));
      } else {
        throw new ProtocolError("malformed", "Cannot accept a second hello");
      }
    };
    const mux = new Mux(link, {
      role: "server",
      window: options.window,
      maxPayload: options.maxPayload,
      maxWindow: options.maxWindow,
      connectionBuffer: options.connectionBuffer,
      onControl,
      onStream: options.offers && ((stream) => options.offers!.accept(mux, stream)),
      onGoAway: (reason) => log.info("peer is going away", { reason: reason.reason }),
    });
    const error = await this.#watch(mux, () => peer !== null, log);
    options.offers?.detach(mux);
    if (error) log.warn("tunnel connection failed", { error });
    // At once: a silent peer's link may take its close deadline (1 s) to end.
    if (peer) await peers.remove(peer, error ? error.message : "disconnected");
    // Shutdown waits for this: Web Crypto calls still running must not outlive the server.
    await mux.linkEnded;
  }

  /** The peer's first control frame: its hello. Registers the peer and answers. */
  #hello(mux: Mux, frame: Frame, hello: PeerHello, remote: string, log: Logger): Peer {
    if (frame.kind !== FrameKind.Hello) {
      throw new ProtocolError("malformed", "Expected hello");
    }
    const settings = decodeHello(frame.payload);
    if (settings.name !== hello.name) {
      throw new ProtocolError("malformed", "Hello names another peer than the handshake");
    }
    mux.setPeerSettings(settings);
    const peer = this.#options.peers.register(hello.name, hello.fingerprint, remote, mux, log);
    mux.sendControl(
      FrameKind.Hello,
      encodeHello({
        name: "server",
        window: mux.window,
        maxPayload: mux.maxPayload,
        software: `wormhole/${VERSION}`,
        features: HelloFeature.Offers,
      }),
    );
    log.info("peer connected", { fingerprint: hello.fingerprint, software: settings.software });
    this.#options.offers?.attach(hello.name, mux, settings.features ?? 0, log);
    return peer;
  }

  /**
   * Keeps `mux` alive (keepalive, and a hello within `helloTimeoutMs`) until
   * it ends; resolves with its error, if any (its link may still be ending).
   */
  async #watch(mux: Mux, greeted: () => boolean, log: Logger): Promise<Error | undefined> {
    const { keepaliveMs, helloTimeoutMs } = this.#options;
    this.#muxes.add(mux);
    const stopKeepalive = startKeepalive(mux, keepaliveMs, (silentMs) => {
      log.warn("closing connection: peer silent", { silentMs });
      mux.goAway(GoAwayCode.Timeout, `silent for ${silentMs} ms`);
    });
    const helloTimer = setTimeout(() => {
      if (greeted()) return;
      log.warn("closing connection: no hello after the handshake", { timeoutMs: helloTimeoutMs });
      mux.goAway(GoAwayCode.Timeout, `no hello within ${helloTimeoutMs} ms`);
    }, helloTimeoutMs);
    const error = await mux.done;
    clearTimeout(helloTimer);
    stopKeepalive();
    this.#muxes.delete(mux);
    return error ?? undefined;
  }
}
