// What one Web Crypto AES-256-GCM call costs, apart from the cipher: for each size, the latency
// of one call at a time (what a request/response through the tunnel waits for: one seal and one
// open per direction), the CPU of the whole process per call, and, with IN_FLIGHT calls running,
// how long the calling (JavaScript) thread spends inside encrypt()/decrypt() against the CPU that
// thread actually used: the rest is time it waited, not work (see
// bench/results/profile-notes.md, "LAN targets").
// Usage: webcrypto_calls.ts [SIZES (bytes, comma-separated; default 100,65536,262144)]
//                           [IN_FLIGHT (default 2)] -> one JSON line per size.

import process from "node:process";

const sizes = (Deno.args[0] ?? "100,65536,262144").split(",").map(Number);
const inFlight = Number(Deno.args[1] ?? 2);
if (sizes.some((n) => !Number.isInteger(n) || n < 1) || !(inFlight >= 1)) {
  console.error("usage: webcrypto_calls.ts [SIZES] [IN_FLIGHT]");
  Deno.exit(2);
}

const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
]);
// A fixed nonce is fine here: nothing is kept or sent, only timed.
const iv = new Uint8Array(12);

/** CPU ticks (1/100 s on Linux) of the main thread, whose task id is the process id. */
function mainThreadTicks(): number {
  const fields = Deno.readTextFileSync(`/proc/self/task/${Deno.pid}/stat`).split(") ")[1]
    .split(" ");
  return Number(fields[11]) + Number(fields[12]);
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

for (const size of sizes) {
  const plain = new Uint8Array(size);
  const sealed = new Uint8Array(await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain));
  // About 0.25 s of work per measurement whatever the size.
  const calls = Math.max(200, Math.min(20_000, Math.floor(2 ** 26 / size)));
  const call = (i: number) =>
    i % 2 === 0
      ? crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, plain)
      : crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, sealed);

  for (let i = 0; i < 50; i++) await call(i); // warm-up

  // One call at a time.
  const latencies: number[] = [];
  let cpu0 = process.cpuUsage();
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    await call(i);
    latencies.push((performance.now() - t) * 1000);
  }
  const cpuPerCall = cpuMicros(cpu0) / calls;
  latencies.sort((a, b) => a - b);

  // IN_FLIGHT at a time: time spent inside the call on this thread, and this thread's CPU.
  let inside = 0;
  let started = 0;
  const ticks0 = mainThreadTicks();
  cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (started < calls) {
      const i = started++;
      const t = performance.now();
      const pending = call(i);
      inside += performance.now() - t;
      await pending;
    }
  }));
  const wallMs = performance.now() - t0;

  console.log(JSON.stringify({
    size,
    calls,
    latencyP50Us: latencies[Math.floor(calls / 2)],
    latencyP90Us: latencies[Math.floor(calls * 0.9)],
    cpuPerCallUs: cpuPerCall,
    inFlight,
    MBps: (calls * size) / wallMs / 1000,
    insideCallUs: (inside * 1000) / calls,
    mainThreadCpuUs: ((mainThreadTicks() - ticks0) * 10_000) / calls,
    processCpuPerCallUs: cpuMicros(cpu0) / calls,
  }));
}
