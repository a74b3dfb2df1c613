import assert from "node:assert/strict";
import { Logger, LogTally } from "../log/mod.ts";
import { TrafficLedger } from "../metrics/mod.ts";
import type { Mux } from "../mux/mod.ts";
import { waitFor } from "../mux/testing.ts";
import { ACCEPT_FAILED, AppListener } from "./app_listener.ts";

/** A listener whose every accept fails as it does out of file descriptors. */
class ExhaustedListener {
  readonly addr: Deno.NetAddr;
  accepts = 0;
  closed = false;
  constructor(port: number) {
    this.addr = { transport: "tcp", hostname: "127.0.0.1", port };
  }
  accept(): Promise<Deno.TcpConn> {
    this.accepts++;
    if (this.closed) return Promise.reject(new Deno.errors.BadResource("Listener has been closed"));
    return Promise.reject(new Error("Too many open files (os error 24)"));
  }
  close(): void {
    this.closed = true;
  }
}

Deno.test("app listener: regression: out of file descriptors, 50 listeners log one line, not one per failed accept", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({ format: "json", sink: (line) => lines.push(JSON.parse(line)) });
  const failures = new LogTally(log, ACCEPT_FAILED);
  const fakes = Array.from({ length: 50 }, (_, i) => new ExhaustedListener(40_000 + i));
  const listeners = fakes.map((fake, i) =>
    new AppListener(
      { name: `app-${i}`, port: 80 },
      fake as unknown as Deno.TcpListener,
      {} as Mux,
      new TrafficLedger(),
      log,
      () => {},
      failures,
    )
  );
  // Every listener has failed and retried at least once (the first pause is 100 ms).
  await waitFor(
    () => fakes.every((fake) => fake.accepts >= 2),
    "a retry of every listener",
    100_000,
  );
  assert.equal(lines.length, 1, JSON.stringify(lines));
  assert.equal(lines[0].msg, ACCEPT_FAILED);
  assert.equal(lines[0].count, 1);
  assert.match(String(lines[0].error), /Too many open files/);
  // Closing ends the pause at once and the loop with it: no accept after close returns.
  await Promise.all(listeners.map((listener) => listener.close()));
  const after = fakes.map((fake) => fake.accepts);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.deepEqual(fakes.map((fake) => fake.accepts), after);
});
