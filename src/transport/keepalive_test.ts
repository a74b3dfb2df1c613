import assert from "node:assert/strict";
import { type KeepaliveClock, startKeepalive } from "./keepalive.ts";

/** A clock whose time moves only when told; timers fire in order as it passes them. */
class ManualClock implements KeepaliveClock {
  time = 0;
  #next = 1;
  #timers = new Map<number, { at: number; callback: () => void }>();
  now(): number {
    return this.time;
  }
  setTimeout(callback: () => void, ms: number): number {
    this.#timers.set(this.#next, { at: this.time + ms, callback });
    return this.#next++;
  }
  clearTimeout(handle: number): void {
    this.#timers.delete(handle);
  }
  /** Moves to `to`, firing every timer due on the way, in time order. */
  advance(to: number): void {
    for (;;) {
      const due = [...this.#timers].filter(([, t]) => t.at <= to).sort((a, b) => a[1].at - b[1].at);
      if (due.length === 0) break;
      const [handle, timer] = due[0];
      this.#timers.delete(handle);
      this.time = timer.at;
      timer.callback();
    }
    this.time = to;
  }
  get pending(): number {
    return this.#timers.size;
  }
}

Deno.test("keepalive: regression: a peer silent since mid-interval is dead three intervals later, not four", () => {
  const clock = new ManualClock();
  // The last record arrived 400 ms into the first 1 s interval, then silence.
  const peer = {
    lastReceived: 400,
    pings: 0,
    ping() {
      this.pings++;
    },
  };
  const dead: number[] = [];
  startKeepalive(peer, 1000, () => void dead.push(clock.now()), clock);
  clock.advance(3399);
  assert.deepEqual(dead, [], "not before three silent intervals");
  clock.advance(10_000);
  // Checked only at each ping, it was declared dead at 4,000 ms: silent 3.6 intervals.
  assert.deepEqual(dead, [3400]);
  assert.equal(peer.pings, 3, "pinged every interval until then");
  assert.equal(clock.pending, 0, "nothing scheduled after death");
});

Deno.test("keepalive: a peer that answers is pinged every interval and never dead; stop() stops", () => {
  const clock = new ManualClock();
  const peer = {
    lastReceived: 0,
    pings: 0,
    ping() {
      this.pings++;
      this.lastReceived = clock.now() + 5; // its pong, 5 ms later
    },
  };
  let dead = false;
  const stop = startKeepalive(peer, 1000, () => dead = true, clock);
  clock.advance(60_500);
  assert.equal(dead, false);
  assert.equal(peer.pings, 60);
  stop();
  assert.equal(clock.pending, 0);
});
