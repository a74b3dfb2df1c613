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

/** The time and timers keepalive uses (tests replace them). */
export interface KeepaliveClock {
  /** Milliseconds, on the clock of {@linkcode Pingable.lastReceived}. */
  now(): number;
  /** Calls `callback` after `ms`. */
  setTimeout(callback: () => void, ms: number): number;
  /** Cancels a timer. */
  clearTimeout(handle: number): void;
}

const REAL_CLOCK: KeepaliveClock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms) as unknown as number,
  clearTimeout: (handle) => clearTimeout(handle),
};

/** Intervals of silence after which a peer is dead. */
export const DEAD_AFTER_INTERVALS = 3;

/**
 * Pings `peer` every `intervalMs`; calls `onDead` once when nothing arrived
 * for three intervals. Returns a function that stops it.
 *
 * It wakes for the next ping or for the moment the silence reaches three
 * intervals, whichever is first: checking only at each ping would declare
 * the peer dead up to a fourth interval late.
 *
 * @example
 * ```ts ignore
 * const stop = startKeepalive(mux, 15_000, (silentMs) => link.close(`silent for ${silentMs} ms`));
 * ```
 */
export function startKeepalive(
  peer: Pingable,
  intervalMs: number,
  onDead: (silentMs: number) => void,
  clock: KeepaliveClock = REAL_CLOCK,
): () => void {
  const deadAfter = DEAD_AFTER_INTERVALS * intervalMs;
  let nextPing = clock.now() + intervalMs;
  let timer: number;
  const wake = () => {
    const now = clock.now();
    const silent = now - peer.lastReceived;
    if (silent >= deadAfter) {
      onDead(Math.round(silent));
      return;
    }
    if (now >= nextPing) {
      peer.ping();
      nextPing = now + intervalMs;
    }
    const next = Math.min(nextPing, peer.lastReceived + deadAfter);
    timer = clock.setTimeout(wake, Math.max(1, next - now));
  };
  timer = clock.setTimeout(wake, intervalMs);
  return () => clock.clearTimeout(timer);
}
