// Loopback-only port helpers.

import { sleep } from "./proc.ts";

/** A port that was free on 127.0.0.1 a moment ago (for tools that cannot take port 0). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Wait until something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number, alive?: () => boolean) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (alive && !alive()) throw new Error(`process died before 127.0.0.1:${port} opened`);
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await sleep(100);
  }
  throw new Error(`127.0.0.1:${port} not reachable after ${timeoutMs} ms (${last})`);
}
