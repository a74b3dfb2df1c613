/**
 * WormholeServer and WormholeClient in this process, on port 0, as a library
 * user runs them (chisel's e2e setup), a bare authenticated peer that sends
 * what a test tells it to (an older client, or a forging one), and a bare
 * server that predates offers.
 */

import {
  type AppSpec,
  type BackoffOptions,
  clientHandshake,
  type ClientOptions,
  dialTunnel,
  DummyAcceptor,
  encodeHello,
  FieldWriter,
  type Frame,
  FrameKind,
  linkChannel,
  Mux,
  SealedLink,
  serverHandshake,
  type ServerOptions,
  serveTunnel,
  WormholeClient,
  WormholeServer,
} from "../../mod.ts";
import type { Identity } from "../../src/crypto/mod.ts";
import { until } from "../../src/testing.ts";

/**
 * A server on 127.0.0.1, port 0, and the clients of a test; disposing it
 * closes the clients, then the server (chisel's teardown).
 */
export class Setup implements AsyncDisposable {
  readonly clients: WormholeClient[] = [];
  private constructor(readonly server: WormholeServer) {}

  /** Starts the server with `options` over the defaults; resolves once it listens. */
  static async start(identity: Identity, options: Partial<ServerOptions> = {}): Promise<Setup> {
    return new Setup(
      await WormholeServer.start({
        host: "127.0.0.1",
        port: 0,
        acceptor: new DummyAcceptor(),
        identity,
        keepaliveMs: 60_000,
        ...options,
      }),
    );
  }

  /** Starts a client named `name` offering `apps`; `await client.ready()` waits for it. */
  client(
    identity: Identity,
    name: string,
    apps: AppSpec[],
    reconnect: BackoffOptions = { minMs: 10, maxMs: 50 },
    options: Partial<ClientOptions> = {},
  ): WormholeClient {
    const client = new WormholeClient({
      ...options,
      server: this.server.url,
      name,
      identity,
      serverFingerprints: [this.server.fingerprint],
      apps,
      keepaliveMs: 60_000,
      reconnect,
    });
    this.clients.push(client);
    client.start();
    return client;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const client of this.clients.reverse()) await client.close();
    await this.server.close();
  }
}

/** The listener port of `app` of `peer`, once the server exposes it. */
export async function portOf(server: WormholeServer, peer: string, app: string): Promise<number> {
  await until(() => server.apps().some((a) => a.peer === peer && a.app === app), `${app} exposed`);
  const entry = server.apps().find((a) => a.peer === peer && a.app === app)!;
  return Number(entry.endpoint.split(":").pop());
}

/** A bare authenticated peer: the control frames it got, and its mux to open streams on. */
export interface RawPeer extends AsyncDisposable {
  /** Control frames the server sent after its hello, in order. */
  readonly controls: Frame[];
  /** The session; `mux.open(app)` opens a stream as any client could. */
  readonly mux: Mux;
}

/**
 * Connects to `server` as `name` with `identity` (the server must accept it
 * without asking an operator), says hello with `features`, and waits for the
 * server's hello. An older client is one with `features` 0.
 */
export async function rawPeer(
  server: WormholeServer,
  identity: Identity,
  name: string,
  features: number,
): Promise<RawPeer> {
  const link = await dialTunnel(server.url);
  const channel = linkChannel(link);
  const result = await clientHandshake(channel, {
    identity,
    name,
    serverFingerprint: server.fingerprint,
  });
  const controls: Frame[] = [];
  let greeted = false;
  const mux = new Mux(new SealedLink(channel.release(), result.keys, "client"), {
    role: "client",
    onControl: (frame) => {
      if (greeted) controls.push({ ...frame, payload: frame.payload.slice() });
      greeted = true;
    },
  });
  mux.sendControl(
    FrameKind.Hello,
    encodeHello({
      name,
      window: mux.window,
      maxPayload: mux.maxPayload,
      software: "raw",
      features,
    }),
  );
  await until(() => greeted || mux.isClosed, "the server's hello");
  return {
    controls,
    mux,
    async [Symbol.asyncDispose]() {
      mux.close();
      await mux.linkEnded;
      await link.finished;
    },
  };
}

/** A server that predates offers: what its clients sent, and where they dial it. */
export interface OlderServer extends AsyncDisposable {
  /** Tunnel URL. */
  readonly url: string;
  /** Control frames clients sent (their hello first), in order. */
  readonly controls: Frame[];
}

/**
 * A server as builds before offers were: it accepts every key, answers the
 * hello with the fields of protocol v1's first release (no features) and
 * never offers anything.
 */
export async function olderServer(identity: Identity): Promise<OlderServer> {
  const abort = new AbortController();
  const controls: Frame[] = [];
  const muxes = new Set<Mux>();
  const sessions = new Set<Promise<void>>();
  const serve = async (link: Parameters<Parameters<typeof serveTunnel>[0]["onConnection"]>[0]) => {
    const channel = linkChannel(link);
    const result = await serverHandshake(channel, {
      identity,
      name: "server",
      helloTimeoutMs: 10_000,
      pendingIntervalMs: 60_000,
      decide: () => Promise.resolve({ accepted: true }),
    });
    const mux = new Mux(new SealedLink(channel.release(), result.keys, "server"), {
      role: "server",
      onControl: (frame, mux) => {
        controls.push({ ...frame, payload: frame.payload.slice() });
        if (controls.length > 1) return;
        // The hello's first release: window, max payload, name, software; nothing after.
        const hello = new FieldWriter().u32(mux.window).u32(mux.maxPayload)
          .var(new TextEncoder().encode("server")).var(new TextEncoder().encode("wormhole/0.0.9"));
        mux.sendControl(FrameKind.Hello, hello.bytes());
      },
    });
    muxes.add(mux);
    await mux.linkEnded;
  };
  const endpoint = await serveTunnel({
    hostname: "127.0.0.1",
    port: 0,
    path: "/wh/tunnel",
    signal: abort.signal,
    onConnection: (link) => {
      const session = serve(link).catch(() => link.close("handshake failed"))
        .then(() => link.finished);
      sessions.add(session);
    },
  });
  return {
    url: endpoint.url,
    controls,
    async [Symbol.asyncDispose]() {
      abort.abort();
      for (const mux of muxes) mux.close();
      await Promise.all(sessions);
      await endpoint.finished;
    },
  };
}
