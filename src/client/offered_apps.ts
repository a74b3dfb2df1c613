/**
 * The apps the server offers this client (the other direction: central
 * upstreams reached from the edge). For each offer the client listens on its
 * listen host, a port from its range, and carries every connection to the
 * server through the tunnel; the server dials the upstream. A withdrawn
 * offer closes its listener and resets its live connections; so does the end
 * of the connection that offered it (the next connection offers again, and
 * gets the same port back while it is free). With a `ports` book kept in the
 * client's state, an offer gets its port back after a restart of the client
 * too; one that cannot (the port is taken) listens elsewhere and says so.
 *
 * @module
 */

import { type Logger, LogTally } from "../log/mod.ts";
import { type ClientAppTraffic, Flow, TrafficLedger } from "../metrics/mod.ts";
import type { Mux } from "../mux/mod.ts";
import type { AppInfo } from "../protocol/mod.ts";
import { ACCEPT_FAILED, AppListener } from "./app_listener.ts";
import { PortAllocator, type PortBook, type PortRange } from "./port_allocator.ts";
import { pairKey } from "./port_assignments.ts";

/** An app the server offers this client, as the client lists it. */
export interface ReceivedOffer {
  /** App name. */
  app: string;
  /** `host:port` of the client's listener for it. */
  endpoint: string;
  /** The peer that offers it: the server's name. */
  peer: string;
  /** The listener's port. */
  listenPort: number;
  /** The app's own port at the server (0 when unknown); shapes proxy Services. */
  port: number;
}

/** Configuration of {@linkcode OfferedApps}. */
export interface OfferedAppsOptions {
  /** Interface the listeners bind (default `127.0.0.1`). */
  listenHost?: string;
  /** Ports for the listeners; OS-chosen when absent. */
  portRange?: PortRange;
  /** The name offers are listed under (default `central`). */
  serverName?: string;
  /**
   * The port each offer had, by `pairKey(serverName, app)`; for the life of
   * the process when absent, a `PortAssignments` keeps them across restarts.
   */
  ports?: PortBook;
  /** Told after every change, with every offer now. Must not throw. */
  onChange?(offers: ReceivedOffer[]): void;
  /** Registers work the client awaits on close. */
  track(work: Promise<unknown>): void;
  /** Where to log. */
  log: Logger;
}

/** The listeners of the apps offered to this client. */
export class OfferedApps {
  #options: OfferedAppsOptions;
  #ports: PortAllocator;
  #book: PortBook;
  #log: Logger;
  /** Failed accepts of every offered app's listener (see {@linkcode AppListener}). */
  #acceptFailures: LogTally;
  #listeners = new Map<string, AppListener>();
  #traffic = new Map<string, TrafficLedger>();
  /** Changes run one at a time, in the order the server sent them. */
  #queue: Promise<void> = Promise.resolve();

  /** No offers yet. */
  constructor(options: OfferedAppsOptions) {
    this.#options = options;
    // Ports remembered per app: a reconnect (and with a stored book, a restart) gets them back.
    this.#book = options.ports ?? new Map();
    this.#ports = new PortAllocator(
      options.listenHost ?? "127.0.0.1",
      options.portRange,
      this.#book,
    );
    this.#log = options.log.with({ flow: Flow.ToCenter });
    this.#acceptFailures = new LogTally(this.#log, ACCEPT_FAILED);
  }

  /** The server's name, as offers are listed. */
  get serverName(): string {
    return this.#options.serverName ?? "central";
  }

  /** The server offered `app` on `mux`: listen for it (a repeated offer replaces the old one). */
  offer(mux: Mux, app: AppInfo): Promise<void> {
    return this.#enqueue(() => this.#offer(mux, app));
  }

  /** The server withdrew `name`: close its listener and reset its connections. */
  withdraw(name: string): Promise<void> {
    return this.#enqueue(() => this.#withdraw(name));
  }

  /** The connection ended: every listener closes (the next connection offers again). */
  clear(): Promise<void> {
    return this.#enqueue(() => this.#clear());
  }

  #enqueue(change: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(change);
    // A failed change must not stop the ones after it (the tracker logs it).
    this.#queue = next.catch(() => {});
    this.#options.track(next);
    return next;
  }

  async #offer(mux: Mux, app: AppInfo): Promise<void> {
    const old = this.#listeners.get(app.name);
    if (old) {
      this.#listeners.delete(app.name);
      await old.abort("offer replaced");
    }
    const key = pairKey(this.serverName, app.name);
    const previous = this.#book.get(key);
    let listener: Deno.TcpListener;
    try {
      listener = this.#ports.listen(key);
    } catch (error) {
      this.#log.error("cannot listen for an offered app", { app: app.name, error });
      return;
    }
    if (this.#book.flush) this.#options.track(this.#book.flush());
    if (previous !== undefined && previous !== listener.addr.port) {
      // Whoever used the old port (a local configuration, a proxy Service) must follow.
      this.#log.warn("offered app's previous port is not available: listening on another", {
        app: app.name,
        previous,
        port: listener.addr.port,
      });
    }
    let ledger = this.#traffic.get(app.name);
    if (!ledger) this.#traffic.set(app.name, ledger = new TrafficLedger());
    const appListener = new AppListener(
      app,
      listener,
      mux,
      ledger,
      this.#log,
      this.#options.track,
      this.#acceptFailures,
    );
    this.#listeners.set(app.name, appListener);
    this.#log.info("offered app listening", { app: app.name, endpoint: appListener.endpoint });
    this.#changed();
  }

  async #withdraw(name: string): Promise<void> {
    const listener = this.#listeners.get(name);
    if (!listener) return;
    this.#listeners.delete(name);
    this.#log.info("offer withdrawn", { app: name });
    this.#changed();
    await listener.abort(`app "${name}" withdrawn by the server`);
  }

  async #clear(): Promise<void> {
    const listeners = [...this.#listeners.values()];
    if (listeners.length === 0) return;
    this.#listeners.clear();
    this.#changed();
    await Promise.all(listeners.map((listener) => listener.abort("disconnected from the server")));
  }

  /** The offers listened for now, sorted by name. */
  list(): ReceivedOffer[] {
    return [...this.#listeners.values()]
      .map((listener) => ({
        app: listener.app.name,
        endpoint: listener.endpoint,
        peer: this.serverName,
        listenPort: listener.port,
        port: listener.app.port,
      }))
      .sort((a, b) => a.app.localeCompare(b.app));
  }

  /** Traffic to offered apps, per app, for the life of the client. */
  traffic(): ClientAppTraffic[] {
    return [...this.#traffic].map(([app, ledger]) => ({ app, ...ledger.traffic() }));
  }

  #changed(): void {
    this.#options.onChange?.(this.list());
  }
}
