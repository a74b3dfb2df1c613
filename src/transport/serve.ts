/**
 * The server side of the transport: an HTTP server that upgrades WebSocket
 * requests on one path and answers everything else with 404.
 *
 * @module
 */

import { type WatermarkOptions, WebSocketLink } from "./websocket_link.ts";

/** Options of {@linkcode serveTunnel}. */
export interface ServeTunnelOptions extends WatermarkOptions {
  /** Interface to bind, e.g. `0.0.0.0`. */
  hostname: string;
  /** Port to bind; 0 lets the OS choose. */
  port: number;
  /** The only path that upgrades, e.g. `/wh/tunnel`. */
  path: string;
  /** PEM certificate and key: serve wss:// instead of ws://. */
  tls?: { cert: string; key: string };
  /** Seconds without an answer to a WebSocket ping before the runtime drops the socket (60). */
  idleTimeoutSec?: number;
  /** Aborting stops accepting; open tunnels are closed by their owners. */
  signal?: AbortSignal;
  /** A WebSocket was upgraded and is open. */
  onConnection(link: WebSocketLink, info: { remote: string }): void;
}

/** A running tunnel endpoint. */
export interface TunnelEndpoint {
  /** The bound address. */
  addr: Deno.NetAddr;
  /** The URL clients dial, with the bound port. */
  url: string;
  /** Resolves when the HTTP server has stopped. */
  finished: Promise<void>;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Starts the tunnel endpoint. Resolves once it is listening. */
export function serveTunnel(options: ServeTunnelOptions): Promise<TunnelEndpoint> {
  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
    const url = new URL(request.url);
    if (url.pathname !== options.path) {
      return json(404, { error: `Not found: ${url.pathname}` });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return json(426, { error: "This path only accepts WebSocket upgrades" });
    }
    const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
    // Our keepalive decides when a peer is dead; the runtime's WebSocket pings
    // (answered by every client) only make sure that a peer which never
    // answers our close, or vanished silently, does not keep its socket.
    const { socket, response } = Deno.upgradeWebSocket(request, {
      idleTimeout: options.idleTimeoutSec ?? 60,
    });
    socket.addEventListener("open", () => {
      options.onConnection(new WebSocketLink(socket, options), { remote });
    }, { once: true });
    return response;
  };
  const common = {
    hostname: options.hostname,
    port: options.port,
    signal: options.signal,
    onListen: (addr: Deno.NetAddr) => resolve(addr),
  };
  const server = options.tls
    ? Deno.serve({ ...common, cert: options.tls.cert, key: options.tls.key }, handler)
    : Deno.serve(common, handler);
  return promise.then((addr) => {
    const scheme = options.tls ? "wss" : "ws";
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return {
      addr,
      url: `${scheme}://${host}:${addr.port}${options.path}`,
      finished: server.finished,
    };
  });
}
