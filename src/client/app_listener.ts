/**
 * The TCP listener of one app carried through a tunnel: the server opens one
 * per app a client announces, a client one per app the server offers it.
 * Every accepted connection becomes a stream through the tunnel, whose far
 * end dials the upstream (`carryToUpstream`).
 *
 * @module
 */

import { type Logger, LogTally } from "../log/mod.ts";
import type { TrafficLedger } from "../metrics/mod.ts";
import { type Mux, type MuxStream, pipe, StreamResetError } from "../mux/mod.ts";
import { type AppInfo, ResetCode } from "../protocol/mod.ts";

/**
 * Pause after an accept error that is not the listener closing (e.g. out of
 * file descriptors), in ms: the first, and the most it doubles to.
 */
const ACCEPT_RETRY_MS = [100, 2000] as const;

/** The message of a failed accept of an app listener (with `count`, see {@linkcode LogTally}). */
export const ACCEPT_FAILED = "cannot accept connections for an app, retrying";

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
  #acceptFailures: LogTally;
  #closed = false;
  #loop: Promise<void>;
  /** Ends the pause after a failed accept (set while it lasts). */
  #wake: (() => void) | undefined;
  /** Streams carried now, so that {@linkcode abort} can reset them. */
  #streams = new Set<MuxStream>();

  /**
   * Starts accepting on `listener`. Connections are counted in `ledger`,
   * which outlives the listener; `track` registers work the server awaits
   * on shutdown. Failed accepts are counted in `acceptFailures`, which the
   * listeners of one owner share: out of file descriptors, every listener
   * fails at once, and the log gets one line per interval, not one per app.
   */
  constructor(
    app: AppInfo,
    listener: Deno.TcpListener,
    mux: Mux,
    ledger: TrafficLedger,
    log: Logger,
    track: (work: Promise<unknown>) => void,
    acceptFailures: LogTally = new LogTally(log, ACCEPT_FAILED),
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
    this.#acceptFailures = acceptFailures;
    this.#loop = this.#acceptLoop();
  }

  /** The bound port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  async #acceptLoop(): Promise<void> {
    let retryMs: number = ACCEPT_RETRY_MS[0];
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) return;
        // Connections wait in the backlog meanwhile.
        this.#acceptFailures.add({ app: this.app.name, endpoint: this.endpoint, error, retryMs });
        await this.#pause(retryMs);
        retryMs = Math.min(retryMs * 2, ACCEPT_RETRY_MS[1]);
        continue;
      }
      retryMs = ACCEPT_RETRY_MS[0];
      this.#handle(conn);
    }
  }

  /** Resolves after `ms`, or at once when the listener closes. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wake?.(), ms);
      this.#wake = () => {
        clearTimeout(timer);
        this.#wake = undefined;
        resolve();
      };
    });
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
    this.#wake?.();
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
