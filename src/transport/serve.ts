/**
 * The server side of the transport: a TCP (or TLS) listener whose accept
 * loop, HTTP upgrade and WebSocket framing are this process's own, so that
 * each of them is bounded:
 *
 * - at most `maxHandshakes` connections are between accept and admission
 *   (authentication) at once; more are closed as they are accepted, which
 *   costs no file descriptor (OpenSSH's `MaxStartups`);
 * - the upgrade request must be complete within `headerTimeoutMs` and
 *   8 KiB, and a connection that is not admitted may send messages of
 *   `maxHandshakeMessage` bytes only;
 * - a failed accept (e.g. `EMFILE`, "Too many open files") is retried after
 *   a pause instead of ending the listener, and the process with it.
 *
 * Every path but the tunnel's is answered 404, a request there that is not
 * a WebSocket upgrade 426, and an upgrade its owner does not `admit` 429.
 *
 * @module
 */

import { type WatermarkOptions, WebSocketLink } from "./websocket_link.ts";

/** Connections between accept and admission allowed at once, by default. */
export const DEFAULT_MAX_HANDSHAKES = 64;
/** Largest message before admission, by default: handshake messages are ~2.4 KB. */
export const DEFAULT_MAX_HANDSHAKE_MESSAGE = 8 * 1024;
/** Largest upgrade request head. */
const MAX_REQUEST_HEAD = 8 * 1024;
/** Pauses after a failed accept: from the first to the longest. */
const ACCEPT_RETRY_MS = [50, 1000] as const;

/** Seconds a throttled client is asked to wait (`Retry-After`). */
const RETRY_AFTER_S = 1;

const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** Something the endpoint did on its own that its owner may want to log. */
export type ServeEvent =
  | { kind: "accept-failed"; error: Error; retryMs: number }
  | { kind: "refused"; remote: string; reason: string }
  | { kind: "upgrade-failed"; remote: string; error: Error };

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
  /** Time from accept to a complete upgrade request, in ms (default 10 000). */
  headerTimeoutMs?: number;
  /** Connections between accept and admission at once (default {@linkcode DEFAULT_MAX_HANDSHAKES}). */
  maxHandshakes?: number;
  /** Largest message before admission (default {@linkcode DEFAULT_MAX_HANDSHAKE_MESSAGE}). */
  maxHandshakeMessage?: number;
  /**
   * Asked once per valid upgrade request, before the upgrade and so before
   * any handshake work: false answers `429 Too Many Requests` (with
   * `Retry-After`) and closes. Lets the owner rate-limit by remote address
   * at the cost of one parsed request head.
   */
  admit?(remote: string): boolean;
  /** Silence after which a link pings its peer, and after twice which it hangs up, in ms. */
  idleTimeoutMs?: number;
  /** Aborting stops accepting; open tunnels are closed by their owners. */
  signal?: AbortSignal;
  /**
   * A WebSocket was upgraded and is open. It may send messages of
   * `maxHandshakeMessage` bytes only, and holds a handshake slot, until
   * {@linkcode WebSocketLink.admit} is called.
   */
  onConnection(link: WebSocketLink, info: { remote: string }): void;
  /** The endpoint refused or dropped something, or could not accept. */
  onEvent?(event: ServeEvent): void;
}

/** A running tunnel endpoint. */
export interface TunnelEndpoint {
  /** The bound address. */
  addr: Deno.NetAddr;
  /** The URL clients dial, with the bound port. */
  url: string;
  /** Resolves when the listener has stopped and no upgrade is left running. */
  finished: Promise<void>;
  /** Connections between accept and admission now. */
  handshakes(): number;
}

/** Starts the tunnel endpoint. Resolves once it is listening. */
export function serveTunnel(options: ServeTunnelOptions): Promise<TunnelEndpoint> {
  let listener: Deno.Listener;
  try {
    listener = options.tls
      ? Deno.listenTls({
        hostname: options.hostname,
        port: options.port,
        cert: options.tls.cert,
        key: options.tls.key,
      })
      : Deno.listen({ hostname: options.hostname, port: options.port });
  } catch (error) {
    return Promise.reject(error);
  }
  const endpoint = new Endpoint(listener, options);
  const addr = listener.addr as Deno.NetAddr;
  const scheme = options.tls ? "wss" : "ws";
  const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
  return Promise.resolve({
    addr,
    url: `${scheme}://${host}:${addr.port}${options.path}`,
    finished: endpoint.finished,
    handshakes: () => endpoint.handshakes,
  });
}

class Endpoint {
  handshakes = 0;
  readonly finished: Promise<void>;
  #listener: Deno.Listener;
  #options: ServeTunnelOptions;
  #upgrading = new Set<Deno.Conn>();
  #upgrades = new Set<Promise<void>>();
  /** Ends the accept loop's pause after a failed accept (set while it lasts). */
  #wake: (() => void) | undefined;
  #stopped = false;

  constructor(listener: Deno.Listener, options: ServeTunnelOptions) {
    this.#listener = listener;
    this.#options = options;
    const stop = () => {
      this.#stopped = true;
      this.#wake?.();
      try {
        listener.close();
      } catch {
        // Already closed.
      }
      for (const conn of this.#upgrading) closeQuietly(conn);
    };
    if (options.signal?.aborted) stop();
    else options.signal?.addEventListener("abort", stop, { once: true });
    this.finished = this.#acceptLoop().then(async () => {
      while (this.#upgrades.size > 0) await Promise.all([...this.#upgrades]);
    });
  }

  async #acceptLoop(): Promise<void> {
    let retryMs: number = ACCEPT_RETRY_MS[0];
    while (!this.#stopped) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#stopped) return;
        // Out of file descriptors (or another passing failure): the listener
        // still works, and connections wait in the backlog meanwhile.
        this.#options.onEvent?.({ kind: "accept-failed", error: error as Error, retryMs });
        await this.#pause(retryMs);
        retryMs = Math.min(retryMs * 2, ACCEPT_RETRY_MS[1]);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS[0];
      this.#admitConn(conn);
    }
  }

  /** Resolves after `ms`, or at once when the endpoint stops. */
  #pause(ms: number): Promise<void> {
    // Through a resolver the stop calls, not a reaction on a promise as old as
    // the endpoint, which every pause would add to and none would remove.
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wake?.(), ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
  }

  #admitConn(conn: Deno.Conn): void {
    const remote = remoteOf(conn);
    const max = this.#options.maxHandshakes ?? DEFAULT_MAX_HANDSHAKES;
    if (this.handshakes >= max) {
      closeQuietly(conn);
      this.#options.onEvent?.({
        kind: "refused",
        remote,
        reason: `${max} connections are already handshaking`,
      });
      return;
    }
    this.handshakes++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.handshakes--;
    };
    if ("setNoDelay" in conn) (conn as Deno.TcpConn).setNoDelay(true);
    const work = this.#upgrade(conn, remote, release).finally(() => this.#upgrades.delete(work));
    this.#upgrades.add(work);
  }

  async #upgrade(conn: Deno.Conn, remote: string, release: () => void): Promise<void> {
    this.#upgrading.add(conn);
    const timeoutMs = this.#options.headerTimeoutMs ?? 10_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      closeQuietly(conn);
    }, timeoutMs);
    let leftover: Uint8Array;
    try {
      const head = await readHead(conn);
      if (!head) throw new Error("Connection closed before its upgrade request was complete");
      const answer = await this.#answer(head.text, remote);
      await writeAll(conn, answer.response);
      if (!answer.upgrade) {
        closeQuietly(conn);
        release();
        return;
      }
      leftover = head.rest;
    } catch (error) {
      closeQuietly(conn);
      release();
      if (!this.#stopped) {
        const why = timedOut
          ? new Error(`No complete upgrade request within ${timeoutMs} ms`, { cause: error })
          : error as Error;
        this.#options.onEvent?.({ kind: "upgrade-failed", remote, error: why });
      }
      return;
    } finally {
      clearTimeout(timer);
      this.#upgrading.delete(conn);
    }
    if (this.#stopped) {
      closeQuietly(conn);
      release();
      return;
    }
    const link = new WebSocketLink(conn, leftover, {
      role: "server",
      maxMessage: this.#options.maxHandshakeMessage ?? DEFAULT_MAX_HANDSHAKE_MESSAGE,
      idleTimeoutMs: this.#options.idleTimeoutMs,
      highWater: this.#options.highWater,
      lowWater: this.#options.lowWater,
      onAdmit: release,
    });
    link.finished.then(release);
    this.#options.onConnection(link, { remote });
  }

  /** The response to an upgrade request head, and whether it upgrades. */
  async #answer(
    text: string,
    remote: string,
  ): Promise<{ response: Uint8Array; upgrade: boolean }> {
    const [requestLine, ...lines] = text.split("\r\n");
    const [method, target, version] = requestLine.split(" ");
    const headers = new Map<string, string>();
    for (const line of lines) {
      const colon = line.indexOf(":");
      if (colon > 0) {
        headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
      }
    }
    if (!target || !/^HTTP\/1\.[01]$/.test(version ?? "")) {
      return { response: reply(400, "Cannot parse the request line"), upgrade: false };
    }
    let path: string;
    try {
      path = new URL(target, "http://tunnel").pathname;
    } catch {
      return { response: reply(400, "Cannot parse the request target"), upgrade: false };
    }
    if (path !== this.#options.path) {
      return { response: reply(404, `Not found: ${path}`), upgrade: false };
    }
    if (method !== "GET" || headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return { response: reply(426, "This path only accepts WebSocket upgrades"), upgrade: false };
    }
    if (headers.get("sec-websocket-version") !== "13") {
      return {
        response: reply(426, "Only WebSocket version 13 is spoken here", [
          "Sec-WebSocket-Version: 13",
        ]),
        upgrade: false,
      };
    }
    const key = headers.get("sec-websocket-key") ?? "";
    if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) {
      return {
        response: reply(400, "Sec-WebSocket-Key is not 16 bytes of base64"),
        upgrade: false,
      };
    }
    if (this.#options.admit && !this.#options.admit(remote)) {
      return {
        response: reply(429, "Too many handshakes from this address; try again later", [
          `Retry-After: ${RETRY_AFTER_S}`,
        ]),
        upgrade: false,
      };
    }
    const digest = await crypto.subtle.digest("SHA-1", new TextEncoder().encode(key + GUID));
    const accept = btoa(String.fromCharCode(...new Uint8Array(digest)));
    const response = [
      "HTTP/1.1 101 Switching Protocols",
      "Upgrade: websocket",
      "Connection: Upgrade",
      `Sec-WebSocket-Accept: ${accept}`,
      "",
      "",
    ].join("\r\n");
    return { response: new TextEncoder().encode(response), upgrade: true };
  }
}

/** An HTTP response with a JSON error body; the connection closes after it. */
function reply(status: number, error: string, extra: string[] = []): Uint8Array {
  const reasons: Record<number, string> = {
    400: "Bad Request",
    404: "Not Found",
    426: "Upgrade Required",
    429: "Too Many Requests",
  };
  const body = JSON.stringify({ error }) + "\n";
  const head = [
    `HTTP/1.1 ${status} ${reasons[status]}`,
    "content-type: application/json",
    `content-length: ${new TextEncoder().encode(body).length}`,
    "connection: close",
    ...extra,
    "",
    "",
  ].join("\r\n");
  return new TextEncoder().encode(head + body);
}

/** Reads up to the end of the request head; null if the peer closed or sent too much. */
async function readHead(conn: Deno.Conn): Promise<{ text: string; rest: Uint8Array } | null> {
  const buffer = new Uint8Array(MAX_REQUEST_HEAD);
  let filled = 0;
  while (filled < buffer.length) {
    const n = await conn.read(buffer.subarray(filled));
    if (n === null) return null;
    const from = Math.max(0, filled - 3);
    filled += n;
    const end = headEnd(buffer, from, filled);
    if (end >= 0) {
      return {
        text: new TextDecoder().decode(buffer.subarray(0, end)),
        rest: buffer.slice(end + 4, filled),
      };
    }
  }
  throw new Error(`Cannot accept an upgrade request head over ${MAX_REQUEST_HEAD} bytes`);
}

function headEnd(bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

function remoteOf(conn: Deno.Conn): string {
  const addr = conn.remoteAddr as Deno.NetAddr;
  return `${addr.hostname}:${addr.port}`;
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Already closed.
  }
}
