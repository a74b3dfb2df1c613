/**
 * The shapes the metrics render: snapshots the server and the client hand
 * over at scrape time. They are defined here, below both, so that this
 * layer needs nothing from the layers above it.
 *
 * @module
 */

import type { Traffic } from "./ledger.ts";

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
}
