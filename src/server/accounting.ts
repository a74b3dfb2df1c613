/**
 * The server's counters: traffic per (peer, app) in the ledger's vocabulary,
 * failed handshakes by reason, and refusals. A (peer, app) keeps one ledger
 * across withdrawals and reconnects: a connection that outlives its app's
 * listener keeps counting into it, so the counters never go back.
 *
 * A ledger whose app is gone is dropped once no connection is open on it
 * and its counters have not moved for {@linkcode IDLE_SERIES_MS}: otherwise
 * apps that come and go (5,000 churns made 20,000 metric series) would grow
 * the process and every scrape without end. Prometheus sees such a series
 * end (stale); if the app comes back it starts again from 0, which `rate()`
 * and `increase()` read as a counter reset, as after a restart.
 *
 * @module
 */

import { type AppTraffic, type Traffic, TrafficLedger } from "../metrics/mod.ts";
import { pairKey } from "../client/mod.ts";

/** How long the counters of a gone app must stay still before its ledger is dropped. */
export const IDLE_SERIES_MS = 15 * 60_000;

/**
 * At most this often a new ledger sweeps the others, so that a server nobody
 * scrapes drops gone apps' ledgers too.
 */
export const SWEEP_EVERY_MS = 60_000;

/** What a {@linkcode ServerAccounting} needs to sweep on its own. */
export interface AccountingOptions {
  /** Whether `app` of `peer` is exposed now. */
  exposed?: (peer: string, app: string) => boolean;
  /** Milliseconds on a monotonic clock (tests replace it). */
  now?: () => number;
}

interface Entry {
  peer: string;
  app: string;
  ledger: TrafficLedger;
  /** The counters when last looked at, and since when they are so. */
  seen: string;
  stillSince: number;
}

/** Counters of one server, read by its stats. */
export class ServerAccounting {
  #exposed?: (peer: string, app: string) => boolean;
  #now: () => number;
  #lastSweep = -Infinity;
  #traffic = new Map<string, Entry>();
  #retired = new Map<string, Traffic>();
  #handshakeFailures = new Map<string, number>();
  /** Connections closed as they were accepted because `maxHandshakes` were handshaking. */
  connectionsRefused = 0;
  /** App announces refused because their peer had `maxApps` apps. */
  appsRefused = 0;

  /**
   * Counters that, given `exposed`, also sweep when a new ledger is made (at
   * most every {@linkcode SWEEP_EVERY_MS}), not only before a scrape.
   */
  constructor(options: AccountingOptions = {}) {
    this.#exposed = options.exposed;
    this.#now = options.now ?? (() => performance.now());
  }

  /** The ledger of `app` of `peer`, the same one every time. */
  ledger(peer: string, app: string): TrafficLedger {
    const key = pairKey(peer, app);
    let entry = this.#traffic.get(key);
    if (!entry) {
      const now = this.#now();
      if (this.#exposed && now - this.#lastSweep >= SWEEP_EVERY_MS) {
        this.#lastSweep = now;
        this.sweep(this.#exposed, now);
      }
      entry = { peer, app, ledger: new TrafficLedger(), seen: "", stillSince: 0 };
      this.#traffic.set(key, entry);
    }
    return entry.ledger;
  }

  /** Traffic of every (peer, app) exposed now or recently. */
  traffic(): AppTraffic[] {
    return [...this.#traffic.values()].map(({ peer, app, ledger }) => ({
      peer,
      app,
      ...ledger.traffic(),
    }));
  }

  /**
   * The totals of each peer's dropped ledgers, so that a peer's own sums
   * (the admin API's) never go back when a gone app's ledger is dropped.
   */
  retired(peer: string): Traffic | undefined {
    return this.#retired.get(peer);
  }

  /**
   * Drops the ledgers of gone apps that have been still for
   * {@linkcode IDLE_SERIES_MS} (see the module doc); `exposed(peer, app)`
   * says which apps are exposed now. Run it before reading for metrics.
   */
  sweep(exposed: (peer: string, app: string) => boolean, now: number = performance.now()): void {
    for (const [key, entry] of this.#traffic) {
      const traffic = entry.ledger.traffic();
      const seen = `${traffic.streamsTotal}/${traffic.bytesIn}/${traffic.bytesOut}`;
      if (seen !== entry.seen || traffic.streamsOpen > 0 || exposed(entry.peer, entry.app)) {
        entry.seen = seen;
        entry.stillSince = now;
      } else if (now - entry.stillSince >= IDLE_SERIES_MS) {
        this.#traffic.delete(key);
        const sum = this.#retired.get(entry.peer) ??
          { streamsOpen: 0, streamsTotal: 0, bytesIn: 0, bytesOut: 0 };
        sum.streamsTotal += traffic.streamsTotal;
        sum.bytesIn += traffic.bytesIn;
        sum.bytesOut += traffic.bytesOut;
        this.#retired.set(entry.peer, sum);
      }
    }
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
