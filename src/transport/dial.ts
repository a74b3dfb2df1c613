/**
 * The client side of the transport: dial a ws:// or wss:// URL with
 * `TCP_NODELAY` on, over TLS when asked (trusting a private CA if given).
 *
 * @module
 */

import { VERSION } from "../version.ts";
import { type WatermarkOptions, WebSocketLink } from "./websocket_link.ts";

/** The link {@linkcode dialTunnel} returns: the client end of a {@linkcode WebSocketLink}. */
export type ClientWebSocketLink = WebSocketLink;

/** Options of {@linkcode dialTunnel}. */
export interface DialOptions extends WatermarkOptions {
  /** Give up after this many milliseconds (default 10 s). */
  timeoutMs?: number;
  /** Aborting cancels the dial. */
  signal?: AbortSignal;
  /** PEM CA certificates to trust for wss:// (default: the system's). */
  caCerts?: string[];
}

/** The dial did not produce an open WebSocket. */
export class DialError extends Error {
  /** Creates a dial error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "DialError";
  }
}

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const MAX_RESPONSE_HEAD = 16 * 1024;

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

/** Opens a WebSocket to `url` and wraps it as a link. */
export async function dialTunnel(url: string, options?: DialOptions): Promise<ClientWebSocketLink> {
  const target = new URL(url);
  if (target.protocol !== "ws:" && target.protocol !== "wss:") {
    throw new DialError(`Cannot dial ${url}: the scheme must be ws: or wss:`);
  }
  const tls = target.protocol === "wss:";
  const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(target.port || (tls ? 443 : 80));
  const timeoutMs = options?.timeoutMs ?? 10_000;
  const signals = [AbortSignal.timeout(timeoutMs)];
  if (options?.signal) signals.push(options.signal);
  const signal = AbortSignal.any(signals);

  let conn: Deno.Conn | null = null;
  const abort = () => {
    try {
      conn?.close();
    } catch {
      // Already closed.
    }
  };
  signal.addEventListener("abort", abort, { once: true });
  try {
    const tcp = await Deno.connect({ hostname, port });
    conn = tcp;
    if (signal.aborted) throw signal.reason;
    tcp.setNoDelay(true);
    if (tls) conn = await Deno.startTls(tcp, { hostname, caCerts: options?.caCerts });
    const leftover = await handshake(conn, target);
    signal.removeEventListener("abort", abort);
    return new WebSocketLink(conn, leftover, {
      role: "client",
      highWater: options?.highWater,
      lowWater: options?.lowWater,
    });
  } catch (error) {
    signal.removeEventListener("abort", abort);
    abort();
    const why = signal.aborted
      ? (options?.signal?.aborted ? "aborted" : `no answer within ${timeoutMs} ms`)
      : (error as Error).message;
    if (error instanceof DialError) throw error;
    throw new DialError(`Cannot dial ${url}: ${why}`, { cause: error });
  }
}

/** Sends the upgrade request, checks the answer; returns bytes read past it. */
async function handshake(conn: Deno.Conn, url: URL): Promise<Uint8Array> {
  const key = base64(crypto.getRandomValues(new Uint8Array(16)));
  const request = [
    `GET ${url.pathname}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    `Sec-WebSocket-Key: ${key}`,
    "Sec-WebSocket-Version: 13",
    `User-Agent: wormhole/${VERSION}`,
    "",
    "",
  ].join("\r\n");
  const bytes = new TextEncoder().encode(request);
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));

  let head = new Uint8Array(0);
  let end = -1;
  while (end < 0) {
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    if (n === null) {
      throw new DialError(`Cannot dial ${url.href}: the server closed the connection`);
    }
    const joined = new Uint8Array(head.length + n);
    joined.set(head);
    joined.set(buffer.subarray(0, n), head.length);
    head = joined;
    end = findHeadEnd(head);
    if (end < 0 && head.length > MAX_RESPONSE_HEAD) {
      throw new DialError(`Cannot dial ${url.href}: the answer is not HTTP`);
    }
  }
  const text = new TextDecoder().decode(head.subarray(0, end));
  const [status, ...lines] = text.split("\r\n");
  const code = Number(/^HTTP\/1\.[01] (\d{3})/.exec(status)?.[1]);
  if (code !== 101) {
    // The usual mistake: --server names the admin port (404, or 401 with a token).
    const hint = code === 404 || code === 401
      ? " (is --server the tunnel's port, 8080 by default, not the admin API's 8081, and its path" +
        " right, /wh/tunnel by default?)"
      : "";
    throw new DialError(`Cannot dial ${url.href}: the server answered ${status.slice(9)}${hint}`);
  }
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
  }
  const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
  if (headers.get("sec-websocket-accept") !== base64(new Uint8Array(digest))) {
    throw new DialError(`Cannot dial ${url.href}: the server's Sec-WebSocket-Accept is wrong`);
  }
  if (headers.get("upgrade")?.toLowerCase() !== "websocket") {
    throw new DialError(`Cannot dial ${url.href}: the server did not upgrade to WebSocket`);
  }
  return head.slice(end + 4);
}

function findHeadEnd(bytes: Uint8Array): number {
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}
