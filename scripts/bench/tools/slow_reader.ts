// Slow reader: asks the upstream (through the entry point) for BYTES bytes, which it sends as fast
// as it can, and reads them in small chunks paced to RATE MiB/s. Gives up after LIMIT seconds.
// Prints one JSON line. Usage: slow_reader.ts PORT BYTES RATE_MIB_S [CHUNK_BYTES] [LIMIT_S]

const [port, bytes, rateMiB, chunk = 16 * 1024, limitS = 60] = Deno.args.map(Number);
const rate = rateMiB * 1024 * 1024; // bytes per second
const conn = await Deno.connect({ hostname: "127.0.0.1", port });
await conn.write(new TextEncoder().encode(`BLAST ${bytes}\n`));
const buf = new Uint8Array(chunk);
let got = 0;
let error: string | null = null;
const t0 = performance.now();
const hardStop = t0 + limitS * 1000;
try {
  while (got < bytes) {
    const now = performance.now();
    if (now > hardStop) {
      error = `time limit ${limitS}s reached`;
      break;
    }
    const due = t0 + (got / rate) * 1000; // when we are allowed to read the next chunk
    if (due - now >= 2) await new Promise((r) => setTimeout(r, due - now));
    const n = await conn.read(buf);
    if (n === null) break;
    got += n;
  }
} catch (e) {
  error = e instanceof Error ? e.message : String(e);
}
const seconds = (performance.now() - t0) / 1000;
try {
  conn.close();
} catch {
  // already closed
}
console.log(JSON.stringify({
  bytes: got,
  requested: bytes,
  complete: got === bytes,
  seconds,
  MiBps: got / seconds / 1024 / 1024,
  targetMiBps: rateMiB,
  chunkBytes: chunk,
  error,
}));
