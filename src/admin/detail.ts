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

import type { AdminState, TrafficEntry } from "./api.ts";

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
}

/** A peer as `GET /v1/peers?detail=1` shows it. */
export interface PeerDetail extends TrafficCounters {
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
}

/** An app as `GET /v1/apps?detail=1` shows it. */
export interface AppDetail extends TrafficCounters {
  /** The peer that offers it. */
  peer: string;
  /** App name. */
  app: string;
  /** `host:port` to connect to. */
  endpoint: string;
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
  }));
}

/** Peers with their traffic summed over their apps (past ones included). */
export function peerDetails(state: AdminState): PeerDetail[] {
  const byPeer = new Map<string, TrafficCounters>();
  for (const entry of traffic(state)) {
    byPeer.set(entry.peer, add(byPeer.get(entry.peer) ?? { ...ZERO }, counters(entry)));
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
  }));
}

/** Exposed apps with their traffic. */
export function appDetails(state: AdminState): AppDetail[] {
  const byApp = new Map(traffic(state).map((t) => [`${t.peer}\0${t.app}`, t]));
  return state.apps().map((a) => ({
    peer: a.peer,
    app: a.app,
    endpoint: a.endpoint,
    ...counters(byApp.get(`${a.peer}\0${a.app}`)),
  }));
}
