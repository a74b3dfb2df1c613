/**
 * The detailed views of `GET /v1/requests|peers|apps?detail=1`: the plain
 * lists joined with the traffic counters the server keeps.
 *
 * Traffic uses one vocabulary everywhere (API, CLI, dashboard): `bytesIn`
 * and `bytesOut` from the server's point of view (in: received from the
 * peer, i.e. the app's answers; out: sent to the peer, the callers'
 * requests), `streamsOpen` (tunnelled connections open now) and
 * `streamsTotal` (carried so far).
 *
 * @module
 */

import type { AdminState, TrafficEntry } from "./state.ts";

/** Rates over the last second, as the event hub samples them (`peer\0app` → rates). */
export type RateTable = ReadonlyMap<string, Partial<TrafficRates>>;

/** Rates of one app or one peer (the sum of its apps) over the last second. */
export interface TrafficRates {
  /** Bytes per second received from the peer. */
  bytesInPerSecond: number;
  /** Bytes per second sent to the peer. */
  bytesOutPerSecond: number;
  /** New tunnelled connections per second. */
  connectionsPerSecond: number;
}

/** Traffic counters of one app or one peer (the sum of its apps). */
export interface TrafficCounters {
  /** Bytes received from the peer. */
  bytesIn: number;
  /** Bytes sent to the peer. */
  bytesOut: number;
  /** Tunnelled connections open now. */
  streamsOpen: number;
  /** Tunnelled connections carried so far. */
  streamsTotal: number;
}

/** A join request as `GET /v1/requests?detail=1` shows it. */
export interface RequestDetail {
  /** Key fingerprint. */
  fingerprint: string;
  /** The peer name it asks for. */
  name: string;
  /** Where it connects from (`host:port`). */
  remote: string;
  /** ISO time it started waiting. */
  waitingSince: string;
  /** `--ha`: the server replica holding its connection. */
  replica?: string;
  /** `--ha`: when its entry lapses unless its replica renews it (ISO time). */
  expires?: string;
}

/** A peer as `GET /v1/peers?detail=1` shows it. */
export interface PeerDetail extends TrafficCounters, TrafficRates {
  /** Peer name. */
  name: string;
  /** Key fingerprint (empty when the acceptor does not check keys). */
  fingerprint: string;
  /** `connected` or `offline` (approved, not connected). */
  status: "connected" | "offline";
  /** Where its connection comes from; null when offline. */
  remote: string | null;
  /** ISO time its current connection was accepted; null when offline. */
  connectedSince: string | null;
  /** ISO time it was last seen connecting. */
  lastSeen: string;
  /** Names of the apps it exposes now. */
  apps: string[];
  /** `--ha`: the server replica that holds it. */
  replica?: string;
}

/** An app as `GET /v1/apps?detail=1` shows it. */
export interface AppDetail extends TrafficCounters, TrafficRates {
  /** The peer that offers it. */
  peer: string;
  /** App name. */
  app: string;
  /** `host:port` to connect to. */
  endpoint: string;
  /** `--ha`: the server replica that holds its peer. */
  replica?: string;
}

const ZERO: TrafficCounters = { bytesIn: 0, bytesOut: 0, streamsOpen: 0, streamsTotal: 0 };

function counters(entry: TrafficCounters | undefined): TrafficCounters {
  if (!entry) return { ...ZERO };
  const { bytesIn, bytesOut, streamsOpen, streamsTotal } = entry;
  return { bytesIn, bytesOut, streamsOpen, streamsTotal };
}

function add(sum: TrafficCounters, entry: TrafficCounters): TrafficCounters {
  return {
    bytesIn: sum.bytesIn + entry.bytesIn,
    bytesOut: sum.bytesOut + entry.bytesOut,
    streamsOpen: sum.streamsOpen + entry.streamsOpen,
    streamsTotal: sum.streamsTotal + entry.streamsTotal,
  };
}

function rates(entry: Partial<TrafficRates> | undefined): TrafficRates {
  return {
    bytesInPerSecond: entry?.bytesInPerSecond ?? 0,
    bytesOutPerSecond: entry?.bytesOutPerSecond ?? 0,
    connectionsPerSecond: entry?.connectionsPerSecond ?? 0,
  };
}

function addRates(sum: TrafficRates, entry: TrafficRates): TrafficRates {
  return {
    bytesInPerSecond: sum.bytesInPerSecond + entry.bytesInPerSecond,
    bytesOutPerSecond: sum.bytesOutPerSecond + entry.bytesOutPerSecond,
    connectionsPerSecond: sum.connectionsPerSecond + entry.connectionsPerSecond,
  };
}

function traffic(state: AdminState): TrafficEntry[] {
  return state.stats?.().traffic ?? [];
}

/** Pending requests, oldest first. */
export function requestDetails(state: AdminState): RequestDetail[] {
  return (state.requests?.() ?? []).map((r) => ({
    fingerprint: r.fingerprint,
    name: r.name,
    remote: r.remote,
    waitingSince: r.since,
    ...(r.replica === undefined ? {} : { replica: r.replica }),
    ...(r.expires === undefined ? {} : { expires: r.expires }),
  }));
}

/**
 * Peers with their traffic summed over their apps (past ones included) and
 * the rates of their exposed apps (`table`: 0 without a sample).
 */
export function peerDetails(state: AdminState, table: RateTable = new Map()): PeerDetail[] {
  const byPeer = new Map<string, TrafficCounters>();
  for (const entry of traffic(state)) {
    byPeer.set(entry.peer, add(byPeer.get(entry.peer) ?? { ...ZERO }, counters(entry)));
  }
  const ratesByPeer = new Map<string, TrafficRates>();
  for (const [key, entry] of table) {
    const peer = key.slice(0, key.indexOf("\0"));
    ratesByPeer.set(peer, addRates(ratesByPeer.get(peer) ?? rates(undefined), rates(entry)));
  }
  return (state.peers?.() ?? []).map((p) => ({
    name: p.name,
    fingerprint: p.fingerprint,
    status: p.connected ? "connected" : "offline",
    remote: p.connected ? p.remote ?? null : null,
    connectedSince: p.connected ? p.connectedSince ?? null : null,
    lastSeen: p.lastSeen,
    apps: p.apps,
    ...counters(byPeer.get(p.name)),
    ...rates(ratesByPeer.get(p.name)),
    ...(p.replica === undefined ? {} : { replica: p.replica }),
  }));
}

/** Exposed apps with their traffic and rates (`table`: 0 without a sample). */
export function appDetails(state: AdminState, table: RateTable = new Map()): AppDetail[] {
  const byApp = new Map(traffic(state).map((t) => [`${t.peer}\0${t.app}`, t]));
  return state.apps().map((a) => ({
    peer: a.peer,
    app: a.app,
    endpoint: a.endpoint,
    ...counters(byApp.get(`${a.peer}\0${a.app}`)),
    ...rates(table.get(`${a.peer}\0${a.app}`)),
    ...(a.replica === undefined ? {} : { replica: a.replica }),
  }));
}
