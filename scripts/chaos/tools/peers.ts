/**
 * Many approved wormhole clients in one process (a process each would cost
 * ~50 MiB apiece; the server cannot tell the difference). Prints JSON lines:
 * `{"approve": [FP, …]}` once the keys exist, `{"connected": N}` once every
 * client is connected and accepted, then, with CYCLES > 0, disconnects and
 * reconnects the first client CYCLES times and prints `{"cycles": N, "ms": …}`.
 * Exits when stdin closes or after HOLD_SECONDS.
 *
 * Usage: peers.ts TUNNEL_PORT COUNT PREFIX ECHO_PORT CYCLES HOLD_SECONDS
 *
 * @module
 */

import { WormholeClient } from "../../../src/client/mod.ts";
import type { AppSpec } from "../../../src/protocol/mod.ts";
import { generateIdentity, type Identity } from "../../../src/crypto/mod.ts";

const [port, count, prefix, echoPort, cycles, holdSeconds] = [
  Number(Deno.args[0]),
  Number(Deno.args[1]),
  Deno.args[2],
  Number(Deno.args[3]),
  Number(Deno.args[4]),
  Number(Deno.args[5]),
];
const server = `ws://127.0.0.1:${port}/wh/tunnel`;
const apps: AppSpec[] = [{ name: "echo", host: "127.0.0.1", port: echoPort }];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (value: Record<string, unknown>) => console.log(JSON.stringify(value));

function client(identity: Identity, name: string): WormholeClient {
  const c = new WormholeClient({
    server,
    name,
    identity,
    apps,
    keepaliveMs: 5000,
    reconnect: { minMs: 100, maxMs: 1000 },
  });
  c.start();
  return c;
}

/** Waits until every client is connected and accepted, at most `ms`. */
async function allConnected(clients: WormholeClient[], ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (clients.every((c) => c.state === "connected")) return true;
    await sleep(20);
  }
  return false;
}

const identities: Identity[] = [];
for (let i = 0; i < count; i++) identities.push(await generateIdentity());
say({ approve: identities.map((id) => id.fingerprint) });
const clients = identities.map((id, i) => client(id, `${prefix}-${i}`));
const ok = await allConnected(clients, 120_000);
say({ connected: clients.filter((c) => c.state === "connected").length, all: ok });

if (ok && cycles > 0) {
  const started = performance.now();
  let done = 0;
  for (; done < cycles; done++) {
    await clients[0].close();
    clients[0] = client(identities[0], `${prefix}-0`);
    if (!await allConnected([clients[0]], 30_000)) break;
  }
  say({ cycles: done, ms: Math.round(performance.now() - started) });
}

// Hold until the suite closes stdin (or the hold ends), then leave cleanly.
const stdinClosed = (async () => {
  for await (const _ of Deno.stdin.readable) { /* wait for EOF */ }
})();
await Promise.race([stdinClosed, sleep(holdSeconds * 1000)]);
await Promise.all(clients.map((c) => c.close()));
Deno.exit(0);
