/**
 * The shapes the metrics render: snapshots the server and the client hand
 * over at scrape time. They are defined here, below both, so that this
 * layer needs nothing from the layers above it.
 *
 * @module
 */

import type { Traffic } from "./ledger.ts";

/**
 * Which way a tunnelled connection goes, as the `flow` label of the traffic
 * metrics and the `flow` field of logs: `to-edge` reaches a client's app
 * (the caller is at the server), `to-center` an app the server offers (the
 * caller is at a client). (`direction` already names in/out of the bytes.)
 */
export const Flow = {
  /** To an app of a client, through the server's listener. */
  ToEdge: "to-edge",
  /** To an app the server offers, through a client's listener. */
  ToCenter: "to-center",
} as const;
/** A {@linkcode Flow} value. */
export type Flow = typeof Flow[keyof typeof Flow];

/** Traffic of one (peer, app) on the server. */
export interface AppTraffic extends Traffic {
  /** The peer. */
  peer: string;
  /** The app. */
  app: string;
}

/** A snapshot of the server's state for metrics. */
export interface ServerStats {
  /** Accepted peers connected now. */
  peersConnected: number;
  /** Join requests waiting for the operator. */
  pendingRequests: number;
  /** Apps exposed now. */
  appsExposed: number;
  /** Traffic per (peer, app), including apps no longer exposed. */
  traffic: AppTraffic[];
  /** Traffic to the apps the server offers, per (peer, app) (flow `to-center`). */
  offeredTraffic?: AppTraffic[];
  /** Failed handshakes by reason. */
  handshakeFailures: Record<string, number>;
  /** Connections between accept and authentication now. */
  handshakes: number;
  /** Connections closed as they were accepted because `maxHandshakes` were handshaking. */
  connectionsRefused: number;
  /** App announces refused because their peer had `maxApps` apps. */
  appsRefused: number;
}

/** Traffic of one app on the client. */
export interface ClientAppTraffic extends Traffic {
  /** App name. */
  app: string;
}

/** A snapshot of the client's state for metrics and health checks. */
export interface ClientStats {
  /** Connected and accepted by the server. */
  connected: boolean;
  /** Connections made after the first one. */
  reconnects: number;
  /** Apps offered. */
  apps: number;
  /** Traffic per app. */
  traffic: ClientAppTraffic[];
  /** Traffic to the apps the server offers this client, per app (flow `to-center`). */
  offeredTraffic?: ClientAppTraffic[];
}
