// Opens N TCP connections to 127.0.0.1:PORT, sends "PING\n" on each and waits for the one-byte
// reply (so each connection is known to reach the upstream), then keeps them all idle.
// Prints one JSON line {"ready":true,...} when done opening, then waits until stdin closes
// (or MAX_HOLD seconds pass), closes everything and exits.
// Usage: idle_clients.ts PORT N [CONCURRENCY] [OPEN_TIMEOUT_S] [MAX_HOLD_S]

const [port, total, concurrency = 128, openTimeoutS = 90, maxHoldS = 300] = Deno.args.map(Number);
const ping = new TextEncoder().encode("PING\n");
const conns: Deno.Conn[] = [];
const errors: Record<string, number> = {};
let next = 0;
const t0 = performance.now();
const deadline = Date.now() + openTimeoutS * 1000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, rej) => {
      timer = setTimeout(() => rej(new Error("timeout")), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function openOne(): Promise<void> {
  let conn: Deno.Conn | null = null;
  try {
    conn = await withTimeout(Deno.connect({ hostname: "127.0.0.1", port }), 20_000);
    await withTimeout(conn.write(ping), 20_000);
    const buf = new Uint8Array(1);
    const n = await withTimeout(conn.read(buf), 20_000);
    if (n !== 1 || buf[0] !== 0x50) throw new Error("bad reply");
    conns.push(conn);
    if (conns.length % 1000 === 0) {
      const s = ((performance.now() - t0) / 1000).toFixed(1);
      console.error(`idle_clients: ${conns.length} open after ${s} s`);
    }
  } catch (e) {
    const key = e instanceof Error ? e.name === "Error" ? e.message : e.name : String(e);
    errors[key] = (errors[key] ?? 0) + 1;
    try {
      conn?.close();
    } catch {
      // ignore
    }
  }
}

async function worker() {
  while (next < total && Date.now() < deadline) {
    next++;
    await openOne();
  }
}

await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
const openSeconds = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({ ready: true, open: conns.length, attempted: next, errors, openSeconds }),
);

// hold until told to stop (stdin EOF) or the hold limit passes
const stdinDone = (async () => {
  const buf = new Uint8Array(64);
  try {
    while ((await Deno.stdin.read(buf)) !== null) { /* wait */ }
  } catch {
    // ignore
  }
})();
let holdTimer: ReturnType<typeof setTimeout> | undefined;
await Promise.race([
  stdinDone,
  new Promise((r) => {
    holdTimer = setTimeout(r, maxHoldS * 1000);
  }),
]);
clearTimeout(holdTimer);
for (const c of conns) {
  try {
    c.close();
  } catch {
    // ignore
  }
}
console.log(JSON.stringify({ closed: conns.length }));
Deno.exit(0);
