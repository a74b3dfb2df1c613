/**
 * The TCP listener of one app carried through a tunnel: the server opens one
 * per app a client announces, a client one per app the server offers it.
 * Every accepted connection becomes a stream through the tunnel, whose far
 * end dials the upstream (`carryToUpstream`).
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import type { TrafficLedger } from "../metrics/mod.ts";
import { type Mux, type MuxStream, pipe, StreamResetError } from "../mux/mod.ts";
import { type AppInfo, ResetCode } from "../protocol/mod.ts";

/** Pause after an accept error that is not the listener closing, in ms. */
const ACCEPT_RETRY_MS = 100;

/** Listens for one app and carries each connection through the tunnel. */
export class AppListener {
  /** The app as announced by the peer. */
  readonly app: AppInfo;
  /** `host:port` callers connect to. */
  readonly endpoint: string;

  #listener: Deno.TcpListener;
  #mux: Mux;
  #ledger: TrafficLedger;
  #log: Logger;
  #track: (work: Promise<unknown>) => void;
  #closed = false;
  #loop: Promise<void>;
  /** Streams carried now, so that {@linkcode abort} can reset them. */
  #streams = new Set<MuxStream>();

  /**
   * Starts accepting on `listener`. Connections are counted in `ledger`,
   * which outlives the listener; `track` registers work the server awaits
   * on shutdown.
   */
  constructor(
    app: AppInfo,
    listener: Deno.TcpListener,
    mux: Mux,
    ledger: TrafficLedger,
    log: Logger,
    track: (work: Promise<unknown>) => void,
  ) {
    this.app = app;
    this.#listener = listener;
    this.#mux = mux;
    this.#ledger = ledger;
    const addr = listener.addr;
    const host = addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname;
    this.endpoint = `${host}:${addr.port}`;
    this.#log = log.with({ app: app.name, endpoint: this.endpoint });
    this.#track = track;
    this.#loop = this.#acceptLoop();
  }

  /** The bound port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        this.#log.warn("accept failed", { error });
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      this.#handle(conn);
    }
  }

  #handle(conn: Deno.TcpConn): void {
    try {
      conn.setNoDelay(true);
    } catch {
      // The caller already went away; the pipe will see it.
    }
    let stream;
    try {
      stream = this.#mux.open(this.app.name);
    } catch (error) {
      this.#log.warn("cannot open stream: tunnel is closed", { error });
      conn.close();
      return;
    }
    const remote = `${conn.remoteAddr.hostname}:${conn.remoteAddr.port}`;
    const log = this.#log.with({ stream: stream.id });
    log.debug("connection accepted", { remote });
    const counts = this.#ledger.open();
    this.#streams.add(stream);
    this.#track(
      pipe(stream, conn, counts).then((result) => {
        this.#streams.delete(stream);
        this.#ledger.close(counts);
        const fields = { remote, bytesIn: result.bytesIn, bytesOut: result.bytesOut };
        if (result.error instanceof StreamResetError && result.error.remote) {
          log.info("connection closed: the tunnel peer reset it", {
            ...fields,
            reason: result.error.message,
          });
        } else if (result.error) {
          log.debug("connection aborted", { ...fields, error: result.error });
        } else {
          log.debug("connection closed", fields);
        }
      }),
    );
  }

  /** Stops accepting. Connections already carried keep going until their stream ends. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // Already closed.
    }
    await this.#loop;
  }

  /**
   * Stops accepting and resets the connections carried now: the app is no
   * longer offered, so nothing may keep using it.
   */
  async abort(reason: string): Promise<void> {
    const closing = this.close();
    for (const stream of this.#streams) stream.reset(ResetCode.Aborted, reason);
    await closing;
  }
}
