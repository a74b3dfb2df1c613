/**
 * Helpers of every layer's tests (not exported by `mod.ts`): polling, and
 * ports a restarted listener can have back. It sits beside `version.ts`,
 * below every layer, so that tests of any folder may use it. (`src/mux/testing.ts`'s `waitFor` counts macrotask turns
 * instead, for in-memory tests that must not let time pass.)
 *
 * @module
 */

/**
 * Polls `predicate` every 5 ms, at most 2,000 times (10 s and more: real
 * sockets under load), yielding to timers in between; throws naming `what`.
 */
export async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}

/**
 * `count` consecutive free ports below the kernel's ephemeral range, for a
 * server that a test restarts on the same port (or its `--port-range`):
 * while it is down, an outgoing connection (a reconnecting client's) may
 * take any free port of the ephemeral range, but never one of these.
 */
export function quietPorts(count = 1): number {
  let low = 32768;
  try {
    low = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range").split(/\s+/)[0]);
  } catch {
    // Not Linux: the IANA range starts at 49152, Linux's default at 32768.
  }
  const floor = Math.max(1024, low - 12_000);
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = floor + Math.floor(Math.random() * (low - floor - count));
    const free = Array.from({ length: count }, (_, i) => base + i).every((port) => {
      try {
        Deno.listen({ hostname: "127.0.0.1", port }).close();
        return true;
      } catch {
        return false;
      }
    });
    if (free) return base;
  }
  throw new Error(`no ${count} free ports below ${low}`);
}
