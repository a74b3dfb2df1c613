/**
 * The admin HTTP API: a small JSON API for operators and the CLI.
 *
 * @module
 */

/** An app as `GET /v1/apps` lists it (the original wormhole's shape). */
export interface AppEntry {
  /** App name. */
  app: string;
  /** `host:port` to connect to. */
  endpoint: string;
  /** The peer that offers it. */
  peer: string;
}

/** What the admin API reads from the running process. */
export interface AdminState {
  /** Exposed apps. */
  apps(): AppEntry[];
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

/** Builds the request handler of the admin API over `state`. */
export function adminHandler(state: AdminState): (request: Request) => Response {
  return (request) => {
    const { pathname } = new URL(request.url);
    const route = `${request.method} ${pathname}`;
    switch (route) {
      case "GET /healthz":
        return json(200, { status: "ok" });
      case "GET /v1/apps":
        return json(200, state.apps());
    }
    const known = ["/healthz", "/v1/apps"].includes(pathname);
    if (known) return json(405, { error: `Method ${request.method} not allowed on ${pathname}` });
    return json(404, { error: `Not found: ${pathname}` });
  };
}

/** A running admin API. */
export interface AdminEndpoint {
  /** Base URL, e.g. `http://127.0.0.1:8081`. */
  url: string;
  /** Bound address. */
  addr: Deno.NetAddr;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Serves the admin API until `signal` aborts. */
export function serveAdmin(options: {
  hostname: string;
  port: number;
  signal: AbortSignal;
  handler: (request: Request) => Response | Promise<Response>;
}): Promise<AdminEndpoint> {
  const { promise, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    signal: options.signal,
    onListen: resolve,
  }, options.handler);
  return promise.then((addr) => {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return { url: `http://${host}:${addr.port}`, addr, finished: server.finished };
  });
}
