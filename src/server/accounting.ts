/**
 * The server's counters: traffic per (peer, app) in the ledger's vocabulary,
 * failed handshakes by reason, and refusals. A (peer, app) keeps one ledger
 * for the life of the process, across withdrawals and reconnects: a
 * connection that outlives its app's listener keeps counting into it, so the
 * counters never go back.
 *
 * @module
 */

import { type AppTraffic, TrafficLedger } from "../metrics/mod.ts";
import { pairKey } from "./port_assignments.ts";

/** Counters of one server, read by its stats. */
export class ServerAccounting {
  #traffic = new Map<string, { peer: string; app: string; ledger: TrafficLedger }>();
  #handshakeFailures = new Map<string, number>();
  /** Connections closed as they were accepted because `maxHandshakes` were handshaking. */
  connectionsRefused = 0;
  /** App announces refused because their peer had `maxApps` apps. */
  appsRefused = 0;

  /** The ledger of `app` of `peer`, the same one every time. */
  ledger(peer: string, app: string): TrafficLedger {
    const key = pairKey(peer, app);
    let entry = this.#traffic.get(key);
    if (!entry) {
      entry = { peer, app, ledger: new TrafficLedger() };
      this.#traffic.set(key, entry);
    }
    return entry.ledger;
  }

  /** Traffic of every (peer, app) ever exposed. */
  traffic(): AppTraffic[] {
    return [...this.#traffic.values()].map(({ peer, app, ledger }) => ({
      peer,
      app,
      ...ledger.traffic(),
    }));
  }

  /** Counts a failed handshake under `code`. */
  handshakeFailed(code: string): void {
    this.#handshakeFailures.set(code, (this.#handshakeFailures.get(code) ?? 0) + 1);
  }

  /** Failed handshakes by code. */
  handshakeFailures(): Record<string, number> {
    return Object.fromEntries(this.#handshakeFailures);
  }
}
