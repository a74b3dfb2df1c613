/**
 * Loopback helpers for end-to-end tests: upstream servers, admin polling,
 * reading and writing whole streams.
 *
 * @module
 */

export { quietPorts } from "../../src/testing.ts";

/** An app as `/v1/apps` lists it. */
export interface AppEntry {
  app: string;
  endpoint: string;
  peer: string;
}

/** Polls `GET /v1/apps` until `predicate` holds; returns the list. */
export async function waitForApps(
  admin: string,
  predicate: (apps: AppEntry[]) => boolean,
  timeoutMs = 20_000,
): Promise<AppEntry[]> {
  const deadline = Date.now() + timeoutMs;
  let last: AppEntry[] = [];
  while (Date.now() < deadline) {
    const response = await fetch(`${admin}/v1/apps`);
    last = await response.json();
    if (predicate(last)) return last;
    await sleep(50);
  }
  throw new Error(`Apps never matched; last: ${JSON.stringify(last)}`);
}

/** Waits until `app` is listed, returns its port. */
export async function appPort(admin: string, app: string, peer?: string): Promise<number> {
  const apps = await waitForApps(
    admin,
    (list) => list.some((a) => a.app === app && (!peer || a.peer === peer)),
  );
  const entry = apps.find((a) => a.app === app && (!peer || a.peer === peer))!;
  return Number(entry.endpoint.split(":").pop());
}

/**
 * Polls `check` every 50 ms until it returns something truthy (which it
 * resolves with) or `timeoutMs` passed; then throws naming `what`.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    await sleep(50);
  }
  throw new Error(`Gave up waiting for ${what}`);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads `conn` to EOF. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const buffer = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    size += n;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** Writes all of `data` to `conn`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}

/** SHA-256 hex of `data`. */
export async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", data));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `size` random bytes (getRandomValues fills at most 64 KiB per call). */
export function randomBytes(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(out.subarray(at, Math.min(size, at + 65536)));
  }
  return out;
}

/** A TCP server on 127.0.0.1 that runs `handle` per connection and closes it after. */
export class TcpUpstream {
  readonly listener: Deno.TcpListener;
  readonly connections = new Set<Promise<void>>();
  #loop: Promise<void>;
  accepted = 0;

  constructor(handle: (conn: Deno.TcpConn) => Promise<void>, port = 0) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port });
    this.listener = listener;
    this.#loop = (async () => {
      while (true) {
        let conn: Deno.TcpConn;
        try {
          conn = await listener.accept();
        } catch {
          return;
        }
        this.accepted++;
        const work = handle(conn).catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // Closed by the handler.
          }
          this.connections.delete(work);
        });
        this.connections.add(work);
      }
    })();
  }

  get port(): number {
    return this.listener.addr.port;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    await this.#loop;
    await Promise.all([...this.connections]);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** An upstream that echoes everything and half-closes when the caller does. */
export function echoUpstream(): TcpUpstream {
  return new TcpUpstream(async (conn) => {
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      await writeAll(conn, buffer.subarray(0, n));
    }
    await conn.closeWrite();
  });
}

/** A port nobody listens on (bound and released at once). */
export function unusedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * Connects to 127.0.0.1:`port`, sends `data` while reading, half-closes,
 * and returns everything read until the far side closed.
 */
export async function exchange(port: number, data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const conn = await connect(port);
  try {
    const [received] = await Promise.all([
      readAll(conn),
      writeAll(conn, data).then(() => conn.closeWrite()),
    ]);
    return received;
  } finally {
    conn.close();
  }
}

/** {@linkcode exchange} for text. */
export async function exchangeText(port: number, text: string): Promise<string> {
  return new TextDecoder().decode(await exchange(port, new TextEncoder().encode(text)));
}

/** Connects to 127.0.0.1:`port`. */
export function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}
