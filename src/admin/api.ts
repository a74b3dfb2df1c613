/**
 * The admin HTTP API: a small JSON API for operators and the CLI.
 *
 * | route | answer |
 * | --- | --- |
 * | `GET /healthz` | 200 while the process runs (never needs the token) |
 * | `GET /readyz` | 200 when ready, else 503 (never needs the token) |
 * | `GET /` | the dashboard (server only; its files need no token, its API calls do) |
 * | `GET /v1/apps` | exposed apps; `?detail=1`: with traffic (`detail.ts`) |
 * | `GET /v1/requests` | fingerprints waiting for approval; `?detail=1`: name, address, waiting since |
 * | `POST /v1/requests/{fp}` | accept → 204; unknown → 404 |
 * | `DELETE /v1/requests/{fp}` | decline (and deny the key) → 204; unknown → 404 |
 * | `GET /v1/peers` | approved and connected peers; `?detail=1`: status, address, traffic |
 * | `DELETE /v1/peers/{name}` | revoke (and deny the key) → 204; unknown → 404 |
 * | `GET /v1/denied` | keys denied now |
 * | `DELETE /v1/denied/{fp}` | lift a denial → 204; not denied → 404 |
 * | `GET /v1/offers` | apps the server offers its clients, with traffic |
 * | `GET /v1/events` | Server-Sent Events of changes and traffic (`events.ts`) |
 *
 * The probes answer without the token because the kubelet sends no headers,
 * and so they say nothing but `ok`, `ready` or `not ready`: no names, keys
 * or counts. What "ready" means is the state's ({@linkcode AdminState.ready}).
 * Every other route needs the token (when one is set), then passes the
 * cross-site guard (`guard.ts`: Host, Origin and, for writes,
 * `Content-Type: application/json`).
 *
 * @module
 */

import { parseFingerprint } from "../crypto/mod.ts";
import { dashboardAsset } from "./dashboard/mod.ts";
import { appDetails, peerDetails, type RateTable, requestDetails } from "./detail.ts";
import { EventHub } from "./events.ts";
import { refusal } from "./guard.ts";
import { serveRestarting } from "./serve.ts";
import type { AdminState } from "./state.ts";

export { isLoopback } from "./guard.ts";

/** Options of {@linkcode adminHandler}. */
export interface AdminOptions {
  /** When set, every route but the probes (`/healthz`, `/readyz`) needs `Authorization: Bearer <token>`. */
  token?: string;
  /** Renders `/metrics`; absent: 404. */
  metrics?: { metrics(): Promise<string> };
  /** Names (lower case, no port) the API is reached by besides IP addresses and `localhost`. */
  hosts?: readonly string[];
  /** Serve the dashboard at `/`. */
  dashboard?: boolean;
  /**
   * The API's lifetime: while it runs, traffic is sampled every interval (for
   * the rates of `?detail=1`); when it aborts, the `/v1/events` streams end (a
   * server waits for open responses). Without it rates are 0 (tests).
   */
  signal?: AbortSignal;
  /** Interval of `/v1/events` traffic samples (default 1000 ms). */
  eventsIntervalMs?: number;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json" },
  });
}

const noContent = () => new Response(null, { status: 204 });

const notAllowed = (method: string, pathname: string) =>
  json(405, { error: `Method ${method} not allowed on ${pathname}` });

/** Compares without leaking, through timing, how much of the token matched. */
function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/** Status codes errors thrown by the state map to. */
function errorResponse(error: unknown): Response {
  const err = error instanceof Error ? error : new Error(String(error));
  if (err.name === "ApprovalConflictError") return json(409, { error: err.message });
  if (err instanceof RangeError || err instanceof URIError) {
    return json(400, { error: err.message });
  }
  return json(500, { error: err.message });
}

/**
 * The routes that answer without the token: the kubelet's probes carry no
 * headers. Their bodies reveal nothing but the status.
 */
const PROBES = new Map<string, (state: AdminState) => Response>([
  ["/healthz", () => json(200, { status: "ok" })],
  [
    "/readyz",
    (state) => state.ready() ? json(200, { status: "ready" }) : json(503, { status: "not ready" }),
  ],
]);

/** Builds the request handler of the admin API over `state`. */
export function adminHandler(
  state: AdminState,
  options: AdminOptions = {},
): (request: Request) => Promise<Response> {
  const events = new EventHub(state, { intervalMs: options.eventsIntervalMs });
  if (options.signal) {
    // A long-lived API: sample all along, so that `?detail=1` has rates.
    events.keepSampling();
    options.signal.addEventListener("abort", () => events.close(), { once: true });
  }
  return async (request) => {
    const url = new URL(request.url);
    const { pathname } = url;
    const probe = PROBES.get(pathname);
    if (probe) {
      return request.method === "GET" ? probe(state) : notAllowed(request.method, pathname);
    }
    // The dashboard's files hold no data: the page asks for the token itself.
    const asset = options.dashboard ? dashboardAsset(pathname) : undefined;
    if (asset) {
      return request.method === "GET" ? asset() : notAllowed(request.method, pathname);
    }
    if (options.token) {
      const header = request.headers.get("authorization") ?? "";
      const match = /^Bearer\s+(.+)$/i.exec(header);
      if (!match || !sameSecret(match[1].trim(), options.token)) {
        const response = json(401, { error: "Missing or wrong bearer token" });
        response.headers.set("www-authenticate", 'Bearer realm="wormhole"');
        return response;
      }
    }
    // After the token: a caller without it learns only that it lacks it.
    const refused = refusal(request, options.hosts ?? []);
    if (refused) return json(refused.status, { error: refused.error });
    try {
      if (pathname === "/v1/events") {
        if (request.method !== "GET") {
          return notAllowed(request.method, pathname);
        }
        return events.subscribe();
      }
      const detail = ["1", "true"].includes(url.searchParams.get("detail") ?? "");
      const response = await route(state, options, request.method, pathname, {
        detail,
        rates: events.rates(),
      });
      if (request.method !== "GET" && response.ok) events.changed();
      return response;
    } catch (error) {
      return errorResponse(error);
    }
  };
}

async function route(
  state: AdminState,
  options: AdminOptions,
  method: string,
  pathname: string,
  { detail, rates }: { detail: boolean; rates: RateTable },
): Promise<Response> {
  const missing = () => json(404, { error: `Not available here: ${pathname}` });
  switch (pathname) {
    case "/metrics":
      if (method !== "GET") return notAllowed(method, pathname);
      if (!options.metrics) return missing();
      return new Response(await options.metrics.metrics(), {
        headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" },
      });
    case "/v1/apps":
      if (method !== "GET") return notAllowed(method, pathname);
      return json(200, detail ? appDetails(state, rates) : state.apps());
    case "/v1/requests":
      if (!state.requests) return missing();
      if (method !== "GET") return notAllowed(method, pathname);
      return json(
        200,
        detail ? requestDetails(state) : state.requests().map((request) => request.fingerprint),
      );
    case "/v1/peers":
      if (!state.peers) return missing();
      if (method !== "GET") return notAllowed(method, pathname);
      return json(
        200,
        detail ? peerDetails(state, rates) : state.peers().map((p) => ({
          name: p.name,
          fingerprint: p.fingerprint,
          connected: p.connected,
          apps: p.apps,
          lastSeen: p.lastSeen,
        })),
      );
    case "/v1/denied":
      if (!state.denied) return missing();
      return method === "GET" ? json(200, state.denied()) : notAllowed(method, pathname);
    case "/v1/offers":
      if (!state.offers) return missing();
      return method === "GET" ? json(200, state.offers()) : notAllowed(method, pathname);
  }
  const denied = /^\/v1\/denied\/([^/]+)$/.exec(pathname);
  if (denied) {
    if (!state.removeDenied) return missing();
    if (method !== "DELETE") return notAllowed(method, pathname);
    const fingerprint = parseFingerprint(decodeURIComponent(denied[1]));
    return await state.removeDenied(fingerprint)
      ? noContent()
      : json(404, { error: `${fingerprint} is not denied` });
  }
  const request = /^\/v1\/requests\/([^/]+)$/.exec(pathname);
  if (request) {
    if (!state.accept || !state.decline) return missing();
    const fingerprint = parseFingerprint(decodeURIComponent(request[1]));
    if (method === "POST") {
      return await state.accept(fingerprint)
        ? noContent()
        : json(404, { error: `No pending request for ${fingerprint}` });
    }
    if (method === "DELETE") {
      return await state.decline(fingerprint)
        ? noContent()
        : json(404, { error: `No pending request for ${fingerprint}` });
    }
    return notAllowed(method, pathname);
  }
  const peer = /^\/v1\/peers\/([^/]+)$/.exec(pathname);
  if (peer) {
    if (!state.revoke) return missing();
    const name = decodeURIComponent(peer[1]);
    if (method !== "DELETE") return notAllowed(method, pathname);
    return await state.revoke(name) ? noContent() : json(404, { error: `No peer named ${name}` });
  }
  return json(404, { error: `Not found: ${pathname}` });
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
  /** The HTTP server failed (e.g. out of file descriptors) and starts again. */
  onRestart?: (error: Error, retryMs: number) => void;
}): Promise<AdminEndpoint> {
  return serveRestarting(options).then(({ addr, finished }) => {
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    return { url: `http://${host}:${addr.port}`, addr, finished };
  });
}
