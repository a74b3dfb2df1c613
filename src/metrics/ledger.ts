/**
 * The traffic ledger: how the server and the client count what they carry,
 * in one vocabulary, seen from the counting process:
 *
 * - `bytesIn`: bytes received from the tunnel peer (and written to a local
 *   socket: a caller's on the server, an upstream's on the client);
 * - `bytesOut`: bytes sent to the tunnel peer (read from a local socket);
 * - `streamsOpen`: tunnelled connections open now;
 * - `streamsTotal`: tunnelled connections carried so far.
 *
 * The byte counters and `streamsTotal` never decrease: a connection's bytes
 * are counted live while it runs and move to the closed total in the same
 * step as it ends, so a scrape never sees them twice or not at all.
 *
 * @module
 */

/** Traffic counters in the ledger's vocabulary (see the module doc). */
export interface Traffic {
  /** Tunnelled connections open now. */
  streamsOpen: number;
  /** Tunnelled connections carried so far. */
  streamsTotal: number;
  /** Bytes received from the tunnel peer. */
  bytesIn: number;
  /** Bytes sent to the tunnel peer. */
  bytesOut: number;
}

/** Counters of no traffic yet (a fresh object each call: sums add into it). */
export function noTraffic(): Traffic {
  return { streamsOpen: 0, streamsTotal: 0, bytesIn: 0, bytesOut: 0 };
}

/** Adds `more` into `sum` and returns `sum`. */
export function addTraffic(sum: Traffic, more: Traffic): Traffic {
  sum.streamsOpen += more.streamsOpen;
  sum.streamsTotal += more.streamsTotal;
  sum.bytesIn += more.bytesIn;
  sum.bytesOut += more.bytesOut;
  return sum;
}

/** Live byte counts of one connection; its pipe adds to them as bytes flow. */
export interface ByteCounts {
  /** Bytes received from the tunnel peer so far. */
  bytesIn: number;
  /** Bytes sent to the tunnel peer so far. */
  bytesOut: number;
}

/** The traffic of one app (of one peer, on the server): open connections and closed ones. */
export class TrafficLedger {
  #streamsTotal = 0;
  #closed: ByteCounts = { bytesIn: 0, bytesOut: 0 };
  #open = new Set<ByteCounts>();

  /** Counts a new connection; its pipe updates the returned counts. */
  open(): ByteCounts {
    const counts = { bytesIn: 0, bytesOut: 0 };
    this.#streamsTotal++;
    this.#open.add(counts);
    return counts;
  }

  /** The connection of `counts` ended: its bytes join the closed total. Once only. */
  close(counts: ByteCounts): void {
    if (!this.#open.delete(counts)) return;
    this.#closed.bytesIn += counts.bytesIn;
    this.#closed.bytesOut += counts.bytesOut;
  }

  /** The counters now, open connections included. */
  traffic(): Traffic {
    let { bytesIn, bytesOut } = this.#closed;
    for (const counts of this.#open) {
      bytesIn += counts.bytesIn;
      bytesOut += counts.bytesOut;
    }
    return { streamsOpen: this.#open.size, streamsTotal: this.#streamsTotal, bytesIn, bytesOut };
  }
}
