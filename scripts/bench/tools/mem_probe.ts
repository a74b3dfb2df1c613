// Runs the wormhole CLI (same arguments as mod.ts) and samples Deno.memoryUsage() every 50 ms,
// appending one JSON line per sample (t ms, rss, heapUsed, heapTotal, external in MiB) to the file
// named by MEM_PROBE_OUT. Used to see whether a process's RSS is live JS heap, ArrayBuffers
// (external) or neither (allocator, runtime).
import { main } from "../../../src/cli/mod.ts";

const out = Deno.env.get("MEM_PROBE_OUT");
if (out) {
  const file = await Deno.open(out, { write: true, create: true, truncate: true });
  const start = performance.now();
  const mib = (n: number) => Math.round(n / 1048576 * 10) / 10;
  const timer = setInterval(() => {
    const m = Deno.memoryUsage();
    const line = JSON.stringify({
      t: Math.round(performance.now() - start),
      rss: mib(m.rss),
      heapUsed: mib(m.heapUsed),
      heapTotal: mib(m.heapTotal),
      external: mib(m.external),
    });
    file.writeSync(new TextEncoder().encode(line + "\n"));
  }, 50);
  Deno.unrefTimer(timer);
}
Deno.exit(await main(Deno.args));
