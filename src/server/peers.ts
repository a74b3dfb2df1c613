/**
 * The peer registry: the accepted peers connected now, their apps and their
 * listeners. It registers a peer (replacing an older connection of the same
 * name), exposes and withdraws its apps, and removes it; observers hear of
 * each change.
 *
 * @module
 */

import { ACCEPT_FAILED, AppListener, pairKey, type PortAllocator } from "../client/mod.ts";
import { type Logger, LogTally } from "../log/mod.ts";
import { Flow } from "../metrics/mod.ts";
import type { Mux } from "../mux/mod.ts";
import { type AppInfo, GoAwayCode, nameProblem } from "../protocol/mod.ts";
import type { ServerAccounting } from "./accounting.ts";
import type { AppEvent, Observers } from "./observers.ts";

/** A connected and accepted client. */
export class Peer {
  /** Its apps' listeners, by app name. */
  readonly apps = new Map<string, AppListener>();
  /** Announces refused because the peer had `maxApps` apps. */
  appsRefused = 0;
  /** When this connection was accepted. */
  readonly connectedAt = new Date();
  /** A peer on `mux`, authenticated as `name` with the key of `fingerprint`. */
  constructor(
    readonly name: string,
    readonly fingerprint: string,
    readonly remote: string,
    readonly mux: Mux,
  ) {}

  /** What observers are told about `listener` of this peer. */
  event(listener: AppListener): AppEvent {
    return { peer: this.name, app: listener.app, port: listener.port, endpoint: listener.endpoint };
  }
}

/** What the registry needs from the server. */
export interface PeerRegistryOptions {
  /** Ports for app listeners. */
  ports: PortAllocator;
  /** Where connections are counted. */
  accounting: ServerAccounting;
  /** Told about peers and apps. */
  observers: Observers;
  /** Apps one peer may expose at once. */
  maxApps: number;
  /** Registers work the server awaits on shutdown. */
  track(work: Promise<unknown>): void;
  /** Where to log. */
  log: Logger;
}

/** The accepted peers connected now, by name. */
export class PeerRegistry {
  #peers = new Map<string, Peer>();
  #options: PeerRegistryOptions;
  /** Failed accepts of every app listener: out of file descriptors they all fail at once. */
  #acceptFailures: LogTally;

  /** An empty registry. */
  constructor(options: PeerRegistryOptions) {
    this.#options = options;
    this.#acceptFailures = new LogTally(options.log, ACCEPT_FAILED);
  }

  /** The peer named `name`, if connected. */
  get(name: string): Peer | undefined {
    return this.#peers.get(name);
  }

  /** Every connected peer. */
  values(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /** Names of the connected peers, sorted. */
  names(): string[] {
    return [...this.#peers.keys()].sort();
  }

  /** Connected peers. */
  get size(): number {
    return this.#peers.size;
  }

  /** Apps exposed now, over all peers. */
  appsExposed(): number {
    let count = 0;
    for (const peer of this.#peers.values()) count += peer.apps.size;
    return count;
  }

  /**
   * Adds an authenticated peer on `mux`. An older connection of the same name
   * is told to go away and its listeners close now, so the new one can take
   * the same ports.
   */
  register(name: string, fingerprint: string, remote: string, mux: Mux, log: Logger): Peer {
    const previous = this.#peers.get(name);
    if (previous) {
      log.info("replacing older connection of peer");
      previous.mux.goAway(GoAwayCode.Replaced, "replaced by a newer connection");
      this.#peers.delete(name);
      const listeners = [...previous.apps.values()];
      previous.apps.clear();
      for (const listener of listeners) this.#options.track(listener.close());
      this.#gone(previous, listeners);
    }
    const peer = new Peer(name, fingerprint, remote, mux);
    this.#peers.set(name, peer);
    this.#options.observers.notify((o) => o.peerConnected?.(name));
    return peer;
  }

  /** Opens a listener for `app` of `peer`, unless its name is bad or the peer has `maxApps`. */
  announce(peer: Peer, app: AppInfo, log: Logger): void {
    const problem = nameProblem(app.name);
    if (problem) {
      log.warn("ignoring app: bad name", { app: app.name, problem });
      return;
    }
    if (peer.apps.has(app.name)) return;
    const { maxApps, accounting } = this.#options;
    if (peer.apps.size >= maxApps) {
      // The protocol has no way to tell the client; the peer stays connected
      // with the apps it has, and the operator reads why here.
      peer.appsRefused++;
      accounting.appsRefused++;
      const fields = { app: app.name, maxApps, refused: peer.appsRefused };
      // Once per connection at warn: a client announcing 25,000 apps would flood the log.
      const level = peer.appsRefused === 1 ? "warn" : "debug";
      log[level]("refusing app: the peer exposes --max-apps apps", fields);
      return;
    }
    let listener: Deno.TcpListener;
    try {
      listener = this.#options.ports.listen(pairKey(peer.name, app.name));
    } catch (error) {
      log.error("cannot expose app", { app: app.name, error });
      return;
    }
    const appListener = new AppListener(
      app,
      listener,
      peer.mux,
      accounting.ledger(peer.name, app.name),
      log.with({ flow: Flow.ToEdge }),
      this.#options.track,
      this.#acceptFailures,
    );
    peer.apps.set(app.name, appListener);
    log.info("app exposed", { app: app.name, endpoint: appListener.endpoint });
    this.#options.observers.notify((o) => o.appExposed?.(peer.event(appListener)));
  }

  /** Closes the listener of `name` of `peer`; its live connections keep going. */
  async withdraw(peer: Peer, name: string, log: Logger): Promise<void> {
    const listener = peer.apps.get(name);
    if (!listener) return;
    peer.apps.delete(name);
    // Tell observers first, so a quick re-announce is seen after the withdrawal.
    log.info("app withdrawn", { app: name });
    this.#options.observers.notify((o) =>
      o.appWithdrawn?.({ ...peer.event(listener), reason: "withdrawn" })
    );
    await listener.close();
  }

  /** Removes `peer` (unless a newer connection replaced it): closes its listeners and its mux. */
  async remove(peer: Peer, reason: string): Promise<void> {
    if (this.#peers.get(peer.name) !== peer) return;
    this.#peers.delete(peer.name);
    const listeners = [...peer.apps.values()];
    peer.apps.clear();
    await Promise.all(listeners.map((listener) => listener.close()));
    peer.mux.close();
    this.#options.log.info("peer disconnected", {
      peer: peer.name,
      reason,
      appsClosed: listeners.map((listener) => listener.app.name),
    });
    this.#gone(peer, listeners);
  }

  /** Tells observers that `listeners` of `peer` are gone, then the peer. */
  #gone(peer: Peer, listeners: AppListener[]): void {
    const { observers } = this.#options;
    for (const listener of listeners) {
      observers.notify((o) => o.appWithdrawn?.({ ...peer.event(listener), reason: "gone" }));
    }
    observers.notify((o) => o.peerDisconnected?.(peer.name));
  }
}
