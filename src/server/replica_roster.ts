/**
 * Every replica's peers and apps (`--ha`): each replica publishes its
 * connected peers and their apps into the shared state (entry
 * `replica-peers.json` of the state Secret) whenever they change, and
 * renews the entry while it runs; {@linkcode ReplicaRoster.view} wraps the
 * server's admin view so that `/v1/peers` and `/v1/apps` on any replica
 * show every replica's, each with the replica that holds it. Traffic
 * counters stay per replica (the ones of other replicas' peers show 0).
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import { silentLogger } from "../log/mod.ts";
import type { StateStore } from "../state/mod.ts";
import type { PeerInfo } from "./admin.ts";
import type { ServerObserver } from "./observers.ts";
import { SharedEntry, type SharedEntryOptions } from "./shared_entry.ts";
import type { ExposedApp } from "./server.ts";

/** Entry of the server's state holding every replica's peers. */
export const ROSTER_ENTRY = "replica-peers.json";

/** Default lifetime of a replica's entry without renewal, in ms. */
export const DEFAULT_ROSTER_TTL_MS = 60_000;

/** A peer as another replica published it. */
interface RosterPeer {
  name: string;
  fingerprint: string;
  remote?: string;
  connectedSince?: string;
  lastSeen: string;
  apps: { app: string; endpoint: string }[];
}

/** One replica's entry. */
interface RosterReplica {
  expires: string;
  peers: RosterPeer[];
}

/** What the roster reads from the local server. */
export interface LocalView {
  /** The apps exposed here. */
  apps(): ExposedApp[];
  /** The peers known here (connected ones and approved ones). */
  peers(): PeerInfo[];
}

const NO_TRAFFIC = { streamsOpen: 0, streamsTotal: 0, bytesIn: 0, bytesOut: 0 };

/** Publishes this replica's peers and reads everyone's; plug it into the server's observers. */
export class ReplicaRoster implements ServerObserver {
  #entry: SharedEntry<Record<string, RosterReplica>>;
  #log: Logger;
  #local: LocalView | undefined;
  #queued = false;
  #publishing: Promise<void> = Promise.resolve();
  #renewal: number | undefined;
  #closed = false;

  /** A roster in `state`, written as `replica`. */
  constructor(state: StateStore, replica: string, options: SharedEntryOptions = {}) {
    this.#log = options.logger ?? silentLogger;
    this.#entry = new SharedEntry(state, replica, options, {
      key: ROSTER_ENTRY,
      empty: () => ({}),
      parse: parseRoster,
      isEmpty: (all) => Object.keys(all).length === 0,
      // Only ever a view: a damaged entry shows no other replica, and the next write rewrites it.
      unreadable: "cannot read the other replicas' peers",
      // Renewals are timed from when they arrive, not from the next listing.
      changed: () => this.#others(),
    }, DEFAULT_ROSTER_TTL_MS);
  }

  /** This replica's name. */
  get replica(): string {
    return this.#entry.replica;
  }

  /** Starts publishing `local` (now, on every change, and every third of the lifetime). */
  attach(local: LocalView): void {
    this.#local = local;
    this.#publishSoon();
    this.#renewal = setInterval(
      () => this.#publishSoon(),
      this.#entry.ttlMs / 3,
    ) as unknown as number;
  }

  /** Server hook. */
  peerConnected(): void {
    this.#publishSoon();
  }

  /** Server hook. */
  peerDisconnected(): void {
    this.#publishSoon();
  }

  /** Server hook. */
  appExposed(): void {
    this.#publishSoon();
  }

  /** Server hook. */
  appWithdrawn(): void {
    this.#publishSoon();
  }

  /** Resolves once every change so far is published (for tests). */
  async published(): Promise<void> {
    while (this.#queued) await this.#publishing;
    await this.#publishing;
  }

  /**
   * `local` with `apps()` and `peers()` merged with the other replicas'
   * (everything else is `local`'s own, bound to it).
   */
  view<T extends LocalView>(local: T): T {
    // A proxy rather than a copy of every method: whatever the server's view gains stays there.
    return new Proxy(local, {
      get: (target, property) => {
        if (property === "apps") return () => this.apps(target.apps());
        if (property === "peers") return () => this.peers(target.peers());
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  /** `local` apps (marked as this replica's) and the other replicas', by peer then app. */
  apps(local: ExposedApp[]): (ExposedApp & { replica: string })[] {
    const all = local.map((app) => ({ ...app, replica: this.replica }));
    for (const [replica, entry] of this.#others()) {
      for (const peer of entry.peers) {
        for (const app of peer.apps) all.push({ ...app, peer: peer.name, replica });
      }
    }
    return all.sort((a, b) => a.peer.localeCompare(b.peer) || a.app.localeCompare(b.app));
  }

  /**
   * `local` peers, where a peer offline here but connected to another
   * replica shows as connected there, plus peers only other replicas know.
   */
  peers(local: PeerInfo[]): (PeerInfo & { replica?: string })[] {
    const elsewhere = new Map<string, PeerInfo & { replica: string }>();
    for (const [replica, entry] of this.#others()) {
      for (const peer of entry.peers) {
        elsewhere.set(peer.name, {
          ...NO_TRAFFIC,
          name: peer.name,
          fingerprint: peer.fingerprint,
          connected: true,
          apps: peer.apps.map((a) => a.app),
          lastSeen: peer.lastSeen,
          ...(peer.remote === undefined ? {} : { remote: peer.remote }),
          ...(peer.connectedSince === undefined ? {} : { connectedSince: peer.connectedSince }),
          replica,
        });
      }
    }
    const merged = local.map((peer) =>
      peer.connected ? { ...peer, replica: this.replica } : elsewhere.get(peer.name) ?? peer
    );
    for (const [name, peer] of elsewhere) {
      if (!local.some((p) => p.name === name)) merged.push(peer);
    }
    return merged.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Stops publishing and removes this replica's entry (its peers move with it). */
  async close(): Promise<void> {
    this.#closed = true;
    this.#entry.close();
    clearInterval(this.#renewal);
    await this.published();
    await this.#write(undefined).catch((error) =>
      this.#log.warn("cannot remove this replica's peers from the shared state", { error })
    );
  }

  #others(): [string, RosterReplica][] {
    const entries = Object.entries(this.#entry.read());
    const lapses = this.#entry.lapses;
    lapses.keep(entries.map(([replica, entry]) => [replica, entry.expires]));
    return entries.filter(([replica, entry]) =>
      replica !== this.replica && lapses.live(replica, entry.expires)
    );
  }

  #publishSoon(): void {
    if (this.#queued || this.#closed || !this.#local) return;
    this.#queued = true;
    this.#publishing = this.#publishing.then(() => {
      this.#queued = false;
      if (this.#closed) return;
      return this.#write(this.#snapshot());
    }).catch((error) =>
      this.#log.warn("cannot publish this replica's peers to the others", { error })
    );
  }

  #snapshot(): RosterPeer[] {
    const local = this.#local!;
    const apps = local.apps();
    return local.peers().filter((peer) => peer.connected).map((peer) => ({
      name: peer.name,
      fingerprint: peer.fingerprint,
      ...(peer.remote === undefined ? {} : { remote: peer.remote }),
      ...(peer.connectedSince === undefined ? {} : { connectedSince: peer.connectedSince }),
      lastSeen: peer.lastSeen,
      apps: apps.filter((a) => a.peer === peer.name).map(({ app, endpoint }) => ({
        app,
        endpoint,
      })),
    }));
  }

  /** Sets this replica's entry (`undefined`: removes it) and drops expired ones. */
  async #write(peers: RosterPeer[] | undefined): Promise<void> {
    const expires = this.#entry.expiresFromNow();
    const lapses = this.#entry.lapses;
    await this.#entry.update((current) => {
      const all = Object.fromEntries(
        Object.entries(current).filter(([replica, entry]) =>
          replica !== this.replica && lapses.live(replica, entry.expires)
        ),
      );
      if (peers !== undefined) all[this.replica] = { expires, peers };
      return all;
    });
  }
}

/** The replicas' entries of a parsed roster with the right shape. */
function parseRoster(json: unknown): Record<string, RosterReplica> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new TypeError("not an object");
  }
  return Object.fromEntries(
    Object.entries(json as Record<string, RosterReplica>).filter(([, entry]) =>
      typeof entry?.expires === "string" && Array.isArray(entry.peers)
    ),
  );
}
