// New-connection rate: every request uses a fresh TCP connection
// ("GET / HTTP/1.1" + "Connection: close", read to EOF, check for a 200 status line).
// Bounded by both a duration and a maximum count. Prints one JSON line.
// Usage: conn_rate.ts PORT SECONDS [CONCURRENCY] [MAX_COUNT]

const [port, seconds, concurrency = 16, maxCount = 500_000] = Deno.args.map(Number);
const request = new TextEncoder().encode(
  "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
);
const OK = "HTTP/1.1 200";
let ok = 0;
let started = 0;
const errors: Record<string, number> = {};
const latencies: number[] = [];
const deadline = performance.now() + seconds * 1000;

function fail(key: string) {
  errors[key] = (errors[key] ?? 0) + 1;
}

async function once() {
  const t = performance.now();
  let conn: Deno.Conn | null = null;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port });
    let off = 0;
    while (off < request.length) off += await conn.write(request.subarray(off));
    const buf = new Uint8Array(4096);
    let head = "";
    let n: number | null;
    while ((n = await conn.read(buf)) !== null) {
      if (head.length < OK.length) head += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (head.startsWith(OK)) {
      ok++;
      if (latencies.length < 200_000) latencies.push(performance.now() - t);
    } else fail(head ? "bad status" : "empty reply");
  } catch (e) {
    fail(e instanceof Error ? e.name : String(e));
  } finally {
    try {
      conn?.close();
    } catch {
      // already closed
    }
  }
}

async function worker() {
  while (performance.now() < deadline && started < maxCount) {
    started++;
    await once();
  }
}

const t0 = performance.now();
await Promise.all(Array.from({ length: concurrency }, worker));
const elapsed = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p: number) =>
  latencies.length
    ? latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]
    : 0;
const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
console.log(JSON.stringify({
  ok,
  errors: errorCount,
  errorKinds: errors,
  seconds: elapsed,
  connPerSec: ok / elapsed,
  p50ms: pct(0.5),
  p99ms: pct(0.99),
  concurrency,
}));
