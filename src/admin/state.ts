/**
 * What the admin API serves, as types: the entries of its lists and
 * {@linkcode AdminState}, what it reads from and does to the running
 * process (a server or a client).
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
  /** `--ha`: the server replica that holds the peer. */
  replica?: string;
}

/** A peer as `GET /v1/peers` lists it. */
export interface PeerEntry {
  /** Peer name. */
  name: string;
  /** Key fingerprint (empty when the acceptor does not check keys). */
  fingerprint: string;
  /** Whether it is connected now. */
  connected: boolean;
  /** Names of the apps it exposes now. */
  apps: string[];
  /** ISO time it was last seen connecting. */
  lastSeen: string;
  /** Where its connection comes from (connected peers; shown with `?detail=1`). */
  remote?: string;
  /** ISO time its connection was accepted (connected peers; shown with `?detail=1`). */
  connectedSince?: string;
  /** `--ha`: the server replica that holds it (connected peers). */
  replica?: string;
}

/** Traffic counters of one (peer, app), past connections of the peer included. */
export interface TrafficEntry {
  /** The peer. */
  peer: string;
  /** The app. */
  app: string;
  /** Bytes received from the peer (the app's answers). */
  bytesIn: number;
  /** Bytes sent to the peer (the callers' requests). */
  bytesOut: number;
  /** Tunnelled connections open now. */
  streamsOpen: number;
  /** Tunnelled connections carried so far. */
  streamsTotal: number;
}

/** A join request waiting for approval (`GET /v1/requests` lists their fingerprints). */
export interface RequestEntry {
  /** Key fingerprint. */
  fingerprint: string;
  /** Requested peer name. */
  name: string;
  /** Remote address. */
  remote: string;
  /** ISO time it started waiting. */
  since: string;
  /** `--ha`: the server replica holding its connection. */
  replica?: string;
  /** `--ha`: when its entry lapses unless its replica renews it. */
  expires?: string;
}

/** An app the server offers its clients, as `GET /v1/offers` lists it. */
export interface OfferEntry {
  /** App name. */
  app: string;
  /** `host:port` the server dials for it. */
  upstream: string;
  /** The peers it is offered to; absent: every approved peer. */
  peers?: readonly string[];
  /** Connections to it open now, all peers'. */
  streamsOpen: number;
  /** Connections to it carried so far. */
  streamsTotal: number;
  /** Bytes received from the peers for it (the callers' requests). */
  bytesIn: number;
  /** Bytes sent to the peers for it (the upstream's answers). */
  bytesOut: number;
}

/** A key the server refuses, as `GET /v1/denied` lists it. */
export interface DeniedEntry {
  /** Key fingerprint. */
  fingerprint: string;
  /** The peer name it used. */
  name: string;
  /** `declined` or `revoked`. */
  reason: string;
  /** ISO time it was denied. */
  since: string;
  /** ISO time the denial ends; null: never. */
  until: string | null;
}

/**
 * What the admin API reads from and does to the running process. A client
 * has no requests or peers: routes whose methods are missing answer 404.
 */
export interface AdminState {
  /** Exposed (server) or offered (client) apps. */
  apps(): AppEntry[];
  /**
   * Ready for traffic (server: tunnel listening and, in Kubernetes mode, the
   * first sync of its Services done; client: connected and approved).
   */
  ready(): boolean;
  /** Pending join requests. */
  requests?(): RequestEntry[];
  /** Accepts a pending request; false when unknown. */
  accept?(fingerprint: string): Promise<boolean>;
  /** Declines a pending request (and denies its key); false when unknown. */
  decline?(fingerprint: string): boolean | Promise<boolean>;
  /** Known peers. */
  peers?(): PeerEntry[];
  /** Revokes a peer's approval and disconnects it; false when unknown. */
  revoke?(name: string): Promise<boolean>;
  /** Keys denied now. */
  denied?(): DeniedEntry[];
  /** Lifts a denial; false when the key is not denied. */
  removeDenied?(fingerprint: string): Promise<boolean>;
  /** Apps offered to clients (server). */
  offers?(): OfferEntry[];
  /** Traffic counters (the server's `stats()`). */
  stats?(): { traffic: TrafficEntry[] };
}
