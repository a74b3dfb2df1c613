/**
 * The wormhole client: dials the server, says who it is, announces its apps,
 * and connects every stream the server opens to the app's upstream. It
 * reconnects forever, with backoff, until closed.
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import { Mux, type MuxStream, pipe, StreamResetError } from "../mux/mod.ts";
import {
  decodeHello,
  encodeAppAnnounce,
  encodeAppWithdraw,
  encodeHello,
  type Frame,
  FrameKind,
  GoAwayCode,
  ProtocolError,
  ResetCode,
} from "../protocol/mod.ts";
import { Backoff, dialTunnel, startKeepalive, type WebSocketLink } from "../transport/mod.ts";
import { VERSION } from "../version.ts";
import type { AppSpec } from "./apps.ts";

/** Configuration of {@linkcode WormholeClient}. */
export interface ClientOptions {
  /** Tunnel URL, ws:// or wss://. */
  server: string;
  /** Peer name (default `default`). */
  name?: string;
  /** Apps offered at start; {@linkcode WormholeClient.setApps} changes them later. */
  apps?: AppSpec[];
  /** Keepalive ping interval in ms (default 15 000). */
  keepaliveMs?: number;
  /** Reconnect backoff bounds in ms (default 500 to 30 000). */
  reconnect?: { minMs?: number; maxMs?: number };
  /** Dial timeout in ms (default 10 000). */
  dialTimeoutMs?: number;
  /** Per-stream receive window (default 512 KiB). */
  window?: number;
  /** Largest frame payload (default 64 KiB). */
  maxPayload?: number;
  /** Where to log. */
  logger?: Logger;
}

/** Connection state, for health checks and tests. */
export type ClientState = "connecting" | "connected" | "waiting" | "closed";

/** A running client. */
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

  /** Creates a client; {@linkcode start} connects it. */
  constructor(options: ClientOptions) {
    this.#options = options;
    this.#name = options.name ?? "default";
    this.#log = (options.logger ?? silentLogger).with({ peer: this.#name });
    this.#backoff = new Backoff(options.reconnect);
    for (const app of options.apps ?? []) this.#apps.set(app.name, app);
  }

  /** Current connection state. */
  get state(): ClientState {
    return this.#state;
  }

  /** Apps currently offered. */
  get apps(): AppSpec[] {
    return [...this.#apps.values()];
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
      let link: WebSocketLink | null = null;
      try {
        link = await dialTunnel(this.#options.server, {
          timeoutMs: this.#options.dialTimeoutMs,
          signal,
        });
      } catch (error) {
        if (signal.aborted) break;
        this.#log.warn("cannot connect to server", { error });
      }
      if (link) {
        this.#established = false;
        const ended = await this.#session(link);
        await link.finished;
        if (this.#established) this.#backoff.reset();
        if (signal.aborted) break;
        this.#log.warn("disconnected from server", { reason: ended });
      }
      this.#state = "waiting";
      const delay = this.#backoff.next();
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
  }

  /** Runs one connection until it ends; resolves with why it ended. */
  #session(link: WebSocketLink): Promise<string> {
    const log = this.#log;
    let goAway = "";
    const mux = new Mux(link, {
      role: "client",
      window: this.#options.window,
      maxPayload: this.#options.maxPayload,
      onStream: (stream) => this.#onStream(stream),
      onControl: (frame) => this.#onControl(mux, frame),
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
      }),
    );
    log.info("connected, saying hello", { server: this.#options.server });
    const stopKeepalive = startKeepalive(mux, this.#options.keepaliveMs ?? 15_000, (silentMs) => {
      log.warn("server silent, closing connection", { silentMs });
      mux.goAway(GoAwayCode.Timeout, `silent for ${silentMs} ms`);
    });
    return mux.done.then((error) => {
      stopKeepalive();
      this.#mux = null;
      this.#announced.clear();
      return goAway || error?.message || "connection closed";
    });
  }

  #onControl(mux: Mux, frame: Frame): void {
    if (frame.kind !== FrameKind.Hello || this.#established) {
      throw new ProtocolError("malformed", "Cannot accept this control frame from the server");
    }
    const hello = decodeHello(frame.payload);
    mux.setPeerSettings(hello);
    this.#established = true;
    this.#state = "connected";
    this.#log.info("accepted by server", { software: hello.software });
    this.#syncApps();
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
    const work = this.#connect(stream, app);
    this.#work.add(work);
    work.finally(() => this.#work.delete(work));
  }

  async #connect(stream: MuxStream, app: AppSpec): Promise<void> {
    const upstream = `${app.host}:${app.port}`;
    const log = this.#log.with({ app: app.name, stream: stream.id });
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({ hostname: app.host, port: app.port });
    } catch (error) {
      log.warn("upstream refused the connection", { upstream, error });
      stream.reset(ResetCode.Refused, `${upstream}: ${(error as Error).message}`);
      return;
    }
    if (stream.error) {
      conn.close();
      return;
    }
    try {
      conn.setNoDelay(true);
    } catch {
      // The upstream already went away; the pipe will see it.
    }
    const result = await pipe(stream, conn);
    const fields = { upstream, bytesUp: result.bytesUp, bytesDown: result.bytesDown };
    if (result.error instanceof StreamResetError && result.error.remote) {
      log.debug("stream reset by the server", { ...fields, reason: result.error.message });
    } else if (result.error) {
      log.info("upstream connection ended abruptly", { ...fields, error: result.error });
    } else {
      log.debug("upstream connection closed", fields);
    }
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
