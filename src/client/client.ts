/**
 * The wormhole client: dials the server, says who it is, announces its apps,
 * and connects every stream the server opens to the app's upstream. It
 * reconnects forever, with backoff, until closed.
 *
 * @module
 */

import {
  clientHandshake,
  HandshakeError,
  type Identity,
  linkChannel,
  SealedLink,
  type SessionOptions,
} from "../crypto/mod.ts";
import { type Logger, silentLogger } from "../log/mod.ts";
import { type ClientStats, Flow, TrafficLedger } from "../metrics/mod.ts";
import { Mux, type MuxStream } from "../mux/mod.ts";
import {
  decodeAppAnnounce,
  decodeAppWithdraw,
  decodeHello,
  encodeAppAnnounce,
  encodeAppWithdraw,
  encodeHello,
  type Frame,
  FrameKind,
  GoAwayCode,
  HelloFeature,
  ProtocolError,
  ResetCode,
} from "../protocol/mod.ts";
import {
  Backoff,
  type BackoffOptions,
  type ClientWebSocketLink,
  dialTunnel,
  startKeepalive,
} from "../transport/mod.ts";
import { VERSION } from "../version.ts";
import type { AppSpec } from "../protocol/mod.ts";
import type { ServerPin } from "./server_pin.ts";
import { carryToUpstream } from "./upstream.ts";
import { OfferedApps, type OfferedAppsOptions, type ReceivedOffer } from "./offered_apps.ts";

/** Configuration of {@linkcode WormholeClient}. */
export interface ClientOptions {
  /** Tunnel URL, ws:// or wss://. */
  server: string;
  /** Peer name (default `default`). */
  name?: string;
  /** This client's key; the server's operator approves its fingerprint. */
  identity: Identity;
  /**
   * The server keys to expect (any of them: several during a key rotation).
   * When absent, the key pinned in `pin` is expected, and the first server
   * seen is pinned (trust on first use).
   */
  serverFingerprints?: readonly string[];
  /**
   * Stop for good when the server's key is not the expected one. Without it
   * the client logs both fingerprints and how to re-pin, and keeps retrying
   * with backoff (a crash-looping pod helps nobody; the pin may be fixed
   * while it waits).
   */
  exitOnMismatch?: boolean;
  /** Where the server's fingerprint is pinned; nothing is pinned without it. */
  pin?: ServerPin;
  /** Rekey and pipelining settings of the encrypted session. */
  session?: SessionOptions;
  /** Apps offered at start; {@linkcode WormholeClient.setApps} changes them later. */
  apps?: AppSpec[];
  /** Keepalive ping interval in ms (default 15 000). */
  keepaliveMs?: number;
  /** Reconnect backoff: bounds in ms (default 500 to 30 000), and the randomness for tests. */
  reconnect?: BackoffOptions;
  /** PEM CA certificates to trust for wss:// (default: the system's). */
  caCerts?: string[];
  /** Dial timeout in ms (default 10 000). */
  dialTimeoutMs?: number;
  /** Per-stream receive window (default 2 MiB). */
  window?: number;
  /** Size a per-stream receive window may grow to (default 16 MiB). */
  maxWindow?: number;
  /** Budget of one connection's receive windows (default 64 MiB). */
  connectionBuffer?: number;
  /** Largest frame payload (default 64 KiB). */
  maxPayload?: number;
  /** Where to log. */
  logger?: Logger;
  /** Where the apps the server offers are listened for, and who hears of changes. */
  offered?: Omit<OfferedAppsOptions, "track" | "log">;
}

/** Connection state, for health checks and tests. */
export type ClientState = "connecting" | "pending" | "connected" | "waiting" | "closed";

/**
 * The client stopped for good: retrying cannot help (e.g. the pin cannot be
 * read, or the server key changed and `exitOnMismatch` is set).
 */
export class ClientFatalError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ClientFatalError";
  }
}

/**
 * A running client: dials the server, authenticates, offers its apps and
 * carries the server's connections to their upstreams; reconnects forever.
 *
 * @example
 * ```ts ignore
 * const client = new WormholeClient({
 *   server: "wss://tunnel.example.com/wh/tunnel",
 *   name: "laptop",
 *   identity: await loadOrCreateIdentityIn(store, "client-key.pem"),
 *   pin: new ServerPin(store),
 *   apps: [{ name: "web", host: "127.0.0.1", port: 3000 }],
 * });
 * client.start();
 * await client.ready(); // connected and approved by the operator
 * ```
 */
export class WormholeClient {
  #options: ClientOptions;
  #log: Logger;
  #name: string;
  #apps = new Map<string, AppSpec>();
  #backoff: Backoff;
  #abort = new AbortController();
  #mux: Mux | null = null;
  #announced = new Map<string, number>();
  #established = false;
  #work = new Set<Promise<unknown>>();
  #loop: Promise<void> | null = null;
  #wake: (() => void) | null = null;
  #state: ClientState = "connecting";
  #fatal: ClientFatalError | null = null;
  #dials = 0;
  /** The server refused the last attempt: wait the longest delay before the next. */
  #refused = false;
  /** Callers of {@linkcode ready} waiting for the next acceptance. */
  #readyWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** Traffic per app, for the life of the client: counters never go back. */
  #traffic = new Map<string, TrafficLedger>();
  /** Listeners of the apps the server offers this client. */
  #offered: OfferedApps;

  /** Creates a client; {@linkcode start} connects it. */
  constructor(options: ClientOptions) {
    this.#options = options;
    this.#name = options.name ?? "default";
    this.#log = (options.logger ?? silentLogger).with({ peer: this.#name });
    this.#backoff = new Backoff(options.reconnect);
    for (const app of options.apps ?? []) this.#apps.set(app.name, app);
    this.#offered = new OfferedApps({
      ...options.offered,
      track: (work) => this.#track(work),
      log: this.#log,
    });
  }

  /** Current connection state. */
  get state(): ClientState {
    return this.#state;
  }

  /** Set when the client stopped for good; {@linkcode done} resolves then too. */
  get fatal(): ClientFatalError | null {
    return this.#fatal;
  }

  /** Resolves when the connect loop has ended (closed, or a fatal error). */
  get done(): Promise<void> {
    return this.#loop ?? Promise.resolve();
  }

  /**
   * Resolves once the client is connected and accepted by the server (at
   * once when it is now); rejects when the client stops first.
   *
   * @example
   * ```ts ignore
   * const client = new WormholeClient({ server: "ws://127.0.0.1:8080/wh/tunnel", identity, apps });
   * client.start();
   * await client.ready();
   * ```
   */
  ready(): Promise<void> {
    if (this.#state === "connected") return Promise.resolve();
    if (this.#state === "closed" || this.#fatal) {
      return Promise.reject(this.#fatal ?? new ClientFatalError("The client is closed"));
    }
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  #settleReady(error?: Error): void {
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const waiter of waiters) error ? waiter.reject(error) : waiter.resolve();
  }

  /** Counters for metrics. */
  stats(): ClientStats {
    const traffic = [...this.#traffic].map(([app, ledger]) => ({ app, ...ledger.traffic() }));
    return {
      connected: this.#state === "connected",
      reconnects: Math.max(0, this.#dials - 1),
      apps: this.#apps.size,
      traffic,
      offeredTraffic: this.#offered.traffic(),
    };
  }

  /** Apps currently offered. */
  get apps(): AppSpec[] {
    return [...this.#apps.values()];
  }

  /** Apps the server offers this client now, with the endpoints they are listened on. */
  offered(): ReceivedOffer[] {
    return this.#offered.list();
  }

  /** Starts the connect loop. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Replaces the offered apps; the server is told of the difference at once. */
  setApps(apps: AppSpec[]): void {
    this.#apps = new Map(apps.map((app) => [app.name, app]));
    this.#syncApps();
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    while (!signal.aborted) {
      this.#state = "connecting";
      let link: ClientWebSocketLink | null = null;
      try {
        link = await dialTunnel(this.#options.server, {
          timeoutMs: this.#options.dialTimeoutMs,
          caCerts: this.#options.caCerts,
          signal,
        });
      } catch (error) {
        if (signal.aborted) break;
        this.#log.warn("cannot connect to server", { error });
      }
      if (link) {
        this.#dials++;
        this.#established = false;
        const ended = await this.#connection(link);
        await link.finished;
        if (this.#fatal || signal.aborted) break;
        if (this.#established) this.#backoff.reset();
        this.#log.warn("disconnected from server", { reason: ended });
      }
      this.#state = "waiting";
      const delay = this.#refused ? this.#options.reconnect?.maxMs ?? 30_000 : this.#backoff.next();
      this.#refused = false;
      this.#log.info("reconnecting", { inMs: delay, attempt: this.#backoff.attempt });
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
    this.#state = "closed";
    this.#settleReady(this.#fatal ?? new ClientFatalError("The client is closed"));
  }

  /** Authenticates over a fresh link, then runs the session; resolves with why it ended. */
  async #connection(link: ClientWebSocketLink): Promise<string> {
    const expected = await this.#expectedServer(link);
    if (typeof expected === "string") return expected;
    const pinned = expected.fingerprints;
    const authenticated = await this.#handshake(link, pinned);
    if (typeof authenticated === "string") return authenticated;
    const { result, session } = authenticated;
    if (!pinned) {
      const failed = await this.#pinServer(link, result.serverFingerprint);
      if (failed) return failed;
    }
    if (this.#abort.signal.aborted) {
      link.close("client shutting down");
      return "client shutting down";
    }
    return await this.#session(
      new SealedLink(session, result.keys, "client", this.#options.session),
    );
  }

  /**
   * The server keys to expect: the flag's, else the pinned one (undefined:
   * none pinned yet). An unreadable pin stops the client for good: resolves
   * with why, then.
   */
  async #expectedServer(
    link: ClientWebSocketLink,
  ): Promise<{ fingerprints: string | readonly string[] | undefined } | string> {
    try {
      return { fingerprints: this.#options.serverFingerprints ?? await this.#options.pin?.read() };
    } catch (error) {
      link.close("cannot read the server pin");
      this.#log.error("cannot read the server pin: stopping", { error });
      this.#fatal = new ClientFatalError(
        `Cannot read the pinned server fingerprint: ${(error as Error).message}`,
        { cause: error },
      );
      return "cannot read the server pin";
    }
  }

  /** Runs the handshake; resolves with its result and the session's link, or why it failed. */
  async #handshake(link: ClientWebSocketLink, pinned: string | readonly string[] | undefined) {
    const { identity } = this.#options;
    const log = this.#log;
    log.info(
      `Sending public key to the server, please make sure, that the fingerprint matches: ${identity.fingerprint}`,
      { fingerprint: identity.fingerprint },
    );
    const channel = linkChannel(link);
    const gone = new AbortController();
    link.finished.then(() => gone.abort());
    const closeOnAbort = () => link.close("client shutting down");
    this.#abort.signal.addEventListener("abort", closeOnAbort);
    try {
      const result = await clientHandshake(channel, {
        identity,
        name: this.#name,
        serverFingerprint: pinned,
        // The server repeats Pending every keepalive interval while it waits
        // for the operator; three silent intervals mean it is gone.
        timeoutMs: 3 * (this.#options.keepaliveMs ?? 15_000),
        onPending: (message) => {
          this.#state = "pending";
          log.info("waiting for the operator to approve this key", {
            fingerprint: identity.fingerprint,
            server: message,
          });
        },
        signal: AbortSignal.any([gone.signal, this.#abort.signal]),
      });
      return { result, session: channel.release() };
    } catch (error) {
      link.close("handshake failed");
      return this.#handshakeFailed(error);
    } finally {
      this.#abort.signal.removeEventListener("abort", closeOnAbort);
    }
  }

  /** Why a handshake failed, and what that means for the next attempt (or whether there is one). */
  #handshakeFailed(error: unknown): string {
    if (error instanceof HandshakeError && error.code === "server-key-mismatch") {
      return this.#keyMismatch(error);
    }
    if (error instanceof HandshakeError && error.code === "rejected") {
      // Asking again soon will not change the operator's mind.
      this.#refused = true;
      this.#log.warn("the server refused this client", {
        reason: error.message,
        retryInMs: this.#options.reconnect?.maxMs ?? 30_000,
      });
      return `refused: ${error.message}`;
    }
    return (error as Error).message;
  }

  /**
   * Pins the server's key on first use; resolves with why the client stops
   * when it cannot (without the pin the next connection would trust any
   * server again), else undefined.
   */
  async #pinServer(link: ClientWebSocketLink, fingerprint: string): Promise<string | undefined> {
    const pin = this.#options.pin;
    if (!pin) return undefined;
    try {
      await pin.write(fingerprint);
    } catch (error) {
      link.close("cannot pin the server key");
      this.#log.error("cannot pin the server key: stopping", { error });
      this.#fatal = new ClientFatalError(
        `Cannot write ${pin.path}: ${(error as Error).message}`,
        { cause: error },
      );
      return "cannot pin the server key";
    }
    this.#log.info("pinned the server's key (trust on first use)", {
      serverFingerprint: fingerprint,
      file: pin.path,
    });
    return undefined;
  }

  /**
   * The server's key is not the expected one: logs both fingerprints and how
   * to re-pin, once per attempt; stops for good only with `exitOnMismatch`.
   */
  #keyMismatch(error: HandshakeError): string {
    const pin = this.#options.pin?.path ?? "the pin file";
    const byFlag = this.#options.serverFingerprints !== undefined;
    const fix = `If the server's key was changed on purpose, check the new fingerprint with its ` +
      `operator (wormhole keys fingerprint --key server), then ` +
      (byFlag
        ? `put it in --server-fingerprint (a comma list accepts the old and the new key)`
        : `delete ${pin} (the next connection pins the server's key again) or pass it with ` +
          `--server-fingerprint`);
    const fields = {
      expected: error.expected,
      actual: error.actual,
      expectedFrom: byFlag ? "--server-fingerprint" : pin,
      fix,
    };
    if (this.#options.exitOnMismatch) {
      this.#fatal = new ClientFatalError(
        `The server's key ${error.actual} is not the expected ${error.expected}. ${fix}.`,
        { cause: error },
      );
      this.#log.error("server key mismatch: stopping (--exit-on-mismatch)", fields);
    } else {
      this.#log.error("server key mismatch: retrying", fields);
    }
    return "server key mismatch";
  }

  /** Runs one multiplexed session until it ends; resolves with why it ended. */
  #session(link: SealedLink): Promise<string> {
    const log = this.#log;
    let goAway = "";
    const mux = new Mux(link, {
      role: "client",
      window: this.#options.window,
      maxPayload: this.#options.maxPayload,
      maxWindow: this.#options.maxWindow,
      connectionBuffer: this.#options.connectionBuffer,
      onStream: (stream) => this.#onStream(stream),
      onControl: (frame, mux) => this.#onControl(mux, frame),
      onGoAway: (reason) => {
        goAway = reason.reason;
        const level = reason.code === GoAwayCode.Normal ? "info" : "warn";
        log[level]("server is closing the connection", { reason: reason.reason });
      },
    });
    this.#mux = mux;
    this.#announced.clear();
    mux.sendControl(
      FrameKind.Hello,
      encodeHello({
        name: this.#name,
        window: mux.window,
        maxPayload: mux.maxPayload,
        software: `wormhole/${VERSION}`,
        features: HelloFeature.Offers,
      }),
    );
    const stopKeepalive = startKeepalive(mux, this.#options.keepaliveMs ?? 15_000, (silentMs) => {
      log.warn("server silent, closing connection", { silentMs });
      mux.goAway(GoAwayCode.Timeout, `silent for ${silentMs} ms`);
    });
    return mux.done.then(async (error) => {
      stopKeepalive();
      this.#mux = null;
      this.#announced.clear();
      await this.#offered.clear();
      // close() waits for this: Web Crypto calls still running must not outlive the client.
      await mux.linkEnded;
      return goAway || error?.message || "connection closed";
    });
  }

  #onControl(mux: Mux, frame: Frame): void {
    if (this.#established && frame.kind === FrameKind.AppOffer) {
      this.#offered.offer(mux, decodeAppAnnounce(frame.payload));
      return;
    }
    if (this.#established && frame.kind === FrameKind.AppOfferWithdraw) {
      this.#offered.withdraw(decodeAppWithdraw(frame.payload));
      return;
    }
    if (frame.kind !== FrameKind.Hello || this.#established) {
      throw new ProtocolError("malformed", "Cannot accept this control frame from the server");
    }
    const hello = decodeHello(frame.payload);
    mux.setPeerSettings(hello);
    this.#established = true;
    this.#state = "connected";
    this.#log.info("accepted by server", { software: hello.software });
    this.#syncApps();
    this.#settleReady();
  }

  /** Tells the server about apps added, removed or changed since the last sync. */
  #syncApps(): void {
    const mux = this.#mux;
    if (!mux || !this.#established) return;
    for (const [name, port] of this.#announced) {
      const app = this.#apps.get(name);
      if (app && app.port === port) continue;
      mux.sendControl(FrameKind.AppWithdraw, encodeAppWithdraw(name));
      this.#announced.delete(name);
      this.#log.info("app withdrawn", { app: name });
    }
    for (const app of this.#apps.values()) {
      if (this.#announced.has(app.name)) continue;
      mux.sendControl(FrameKind.AppAnnounce, encodeAppAnnounce(app));
      this.#announced.set(app.name, app.port);
      this.#log.info("app announced", { app: app.name, upstream: `${app.host}:${app.port}` });
    }
  }

  #onStream(stream: MuxStream): void {
    const app = this.#apps.get(stream.app);
    if (!app) {
      this.#log.warn("server asked for an unknown app", { app: stream.app });
      stream.reset(ResetCode.UnknownApp, `no app named "${stream.app}" here`);
      return;
    }
    this.#track(this.#connect(stream, app));
  }

  /** Registers work {@linkcode close} waits for. */
  #track(work: Promise<unknown>): void {
    this.#work.add(work);
    work.finally(() => this.#work.delete(work))
      .catch((error) => this.#log.error("background task failed", { error }));
  }

  #connect(stream: MuxStream, app: AppSpec): Promise<void> {
    let ledger = this.#traffic.get(app.name);
    if (!ledger) this.#traffic.set(app.name, ledger = new TrafficLedger());
    return carryToUpstream(
      stream,
      app,
      ledger,
      this.#log.with({ app: app.name, stream: stream.id, flow: Flow.ToEdge }),
    );
  }

  /** Disconnects, stops reconnecting, and waits until every socket is closed. */
  async close(): Promise<void> {
    this.#abort.abort();
    this.#mux?.goAway(GoAwayCode.Normal, "client shutting down");
    this.#wake?.();
    await this.#loop;
    while (this.#work.size > 0) await Promise.all([...this.#work]);
    this.#state = "closed";
  }
}
