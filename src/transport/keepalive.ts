/**
 * Keepalive: ping a peer at an interval and declare it dead after three
 * silent intervals.
 *
 * @module
 */

/** What keepalive needs from a connection. */
export interface Pingable {
  /** `performance.now()` of the last record received. */
  readonly lastReceived: number;
  /** Sends a ping. */
  ping(): void;
}

/** Intervals of silence after which a peer is dead. */
export const DEAD_AFTER_INTERVALS = 3;

/**
 * Pings `peer` every `intervalMs`; calls `onDead` once when nothing arrived
 * for three intervals. Returns a function that stops it.
 */
export function startKeepalive(
  peer: Pingable,
  intervalMs: number,
  onDead: (silentMs: number) => void,
): () => void {
  const timer = setInterval(() => {
    const silent = performance.now() - peer.lastReceived;
    if (silent > DEAD_AFTER_INTERVALS * intervalMs) {
      clearInterval(timer);
      onDead(Math.round(silent));
      return;
    }
    peer.ping();
  }, intervalMs);
  return () => clearInterval(timer);
}
