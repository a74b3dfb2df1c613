/**
 * Hostile load against a wormhole server, one kind per process, bounded in
 * time. Prints JSON lines on stdout: `{"approve": FP}` when the suite must
 * approve this tool's key (modes that need an approved peer), `{"ready": …}`
 * when the flood starts, and `{"done": …}` with its counts when it ends.
 *
 * Usage: flood.ts MODE TUNNEL_PORT SECONDS [COUNT_OR_RATE]
 * - `idle N`: N TCP connections to the tunnel port that never send a byte;
 * - `handshakes R`: R handshakes per second with keys the server never saw
 *   (a pool of fresh keys, each left pending);
 * - `replay R`: R copies per second of an approved peer's recorded ClientHello
 *   (each makes the server sign a ServerHello nobody can finish);
 * - `pings`: an approved peer that sends Pings as fast as it can and never
 *   reads (its own proxy stops reading the server's side).
 *
 * @module
 */

import {
  clientHandshake,
  generateIdentity,
  type HandshakeChannel,
  type Identity,
  linkChannel,
  SealedLink,
} from "../../../src/crypto/mod.ts";
import { Mux } from "../../../src/mux/mod.ts";
import { encodeHello, FrameKind } from "../../../src/protocol/mod.ts";
import { dialTunnel } from "../../../src/transport/mod.ts";
import { ChaosProxy } from "../proxy.ts";

const [mode, portText, secondsText, amountText = "0"] = Deno.args;
const port = Number(portText);
const seconds = Number(secondsText);
const amount = Number(amountText);
// Set when the flood starts (after keys are made and approved), so that it lasts `seconds`.
let deadline = Infinity;
const errors: Record<string, number> = {};
const url = (p: number) => `ws://127.0.0.1:${p}/wh/tunnel`;

function say(value: Record<string, unknown>): void {
  console.log(JSON.stringify(value));
}

/** Says the flood starts now and starts its clock. */
function ready(value: Record<string, unknown>): void {
  deadline = performance.now() + seconds * 1000;
  say({ ready: value });
}

function count(error: unknown): void {
  const key = error instanceof Error ? error.message.slice(0, 80) : String(error);
  errors[key] = (errors[key] ?? 0) + 1;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `attempt` `rate` times a second until the deadline; returns how many were started. */
async function paced(rate: number, attempt: () => Promise<void>): Promise<number> {
  const running = new Set<Promise<void>>();
  const start = performance.now();
  let started = 0;
  while (performance.now() < deadline) {
    const due = Math.floor(((performance.now() - start) / 1000) * rate);
    // Bounded concurrency: a server that stops answering must slow us, not grow us.
    while (started < due && running.size < 256) {
      started++;
      const work = attempt().catch(count).finally(() => running.delete(work));
      running.add(work);
    }
    await sleep(5);
  }
  await Promise.all(running);
  return started;
}

/** An approved session: prints the key for the suite to approve, waits for the approval. */
async function approvedHandshake(
  name: string,
  targetPort: number,
  record?: (hello: Uint8Array) => void,
) {
  const identity = await generateIdentity();
  const link = await dialTunnel(url(targetPort));
  const inner = linkChannel(link);
  let first = true;
  const channel: HandshakeChannel = {
    send(message) {
      if (first) record?.(message.slice());
      first = false;
      inner.send(message);
    },
    receive: () => inner.receive(),
  };
  say({ approve: identity.fingerprint });
  const result = await clientHandshake(channel, { identity, name, timeoutMs: 60_000 });
  inner.release();
  return { link, result };
}

async function idle(total: number): Promise<Record<string, unknown>> {
  const conns: Deno.TcpConn[] = [];
  let closedByServer = 0;
  const readers: Promise<void>[] = [];
  deadline = performance.now() + seconds * 1000;
  for (let i = 0; i < total && performance.now() < deadline; i++) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conns.push(conn);
      readers.push((async () => {
        try {
          while (await conn.read(new Uint8Array(1024)) !== null) { /* discard */ }
          closedByServer++;
        } catch {
          closedByServer++;
        }
      })());
    } catch (error) {
      count(error);
    }
  }
  say({ ready: { opened: conns.length } });
  while (performance.now() < deadline) await sleep(50);
  const stillOpen = conns.length - closedByServer;
  for (const conn of conns) {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  await Promise.all(readers);
  return { opened: conns.length, closedByServer: conns.length - stillOpen, stillOpen };
}

async function handshakes(rate: number): Promise<Record<string, unknown>> {
  // Making an RSA key takes ~50 ms; a pool keeps the rate up. None is ever approved.
  const pool: Identity[] = await Promise.all(Array.from({ length: 8 }, generateIdentity));
  ready({ pool: pool.length });
  let answered = 0;
  const started = await paced(rate, async () => {
    const identity = pool[Math.floor(Math.random() * pool.length)];
    const link = await dialTunnel(url(port), { timeoutMs: 5000 });
    const abort = new AbortController();
    try {
      await clientHandshake(linkChannel(link), {
        identity,
        name: `flood-${identity.fingerprint.slice(0, 8)}`,
        timeoutMs: 5000,
        signal: abort.signal,
        onPending: () => {
          answered++;
          abort.abort(new Error("pending (expected)"));
        },
      });
    } catch (error) {
      if (!abort.signal.aborted) throw error;
    } finally {
      link.close("flood");
      await link.finished;
    }
  });
  return { started, answered };
}

async function replay(rate: number): Promise<Record<string, unknown>> {
  let hello: Uint8Array | null = null;
  const { link } = await approvedHandshake("replayed", port, (m) => hello = m);
  link.close("recorded");
  await link.finished;
  ready({ helloBytes: hello!.length });
  let answered = 0;
  const started = await paced(rate, async () => {
    const copy = await dialTunnel(url(port), { timeoutMs: 5000 });
    const channel = linkChannel(copy);
    try {
      channel.send(hello!);
      const timer = sleep(5000).then(() => {
        throw new Error("no answer within 5 s");
      });
      await Promise.race([channel.receive(), timer]);
      answered++;
    } finally {
      copy.close("replay");
      await copy.finished;
    }
  });
  return { started, answered };
}

async function pings(): Promise<Record<string, unknown>> {
  await using proxy = new ChaosProxy(port);
  const { link, result } = await approvedHandshake("pinger", proxy.port);
  const welcomed = Promise.withResolvers<void>();
  const mux = new Mux(new SealedLink(link, result.keys, "client"), {
    role: "client",
    onControl: (frame) => {
      if (frame.kind === FrameKind.Hello) welcomed.resolve();
    },
  });
  mux.sendControl(
    FrameKind.Hello,
    encodeHello({
      name: "pinger",
      window: mux.window,
      maxPayload: mux.maxPayload,
      software: "flood",
    }),
  );
  await welcomed.promise;
  proxy.pause("down", true);
  ready({});
  let sent = 0;
  let closed = false;
  link.finished.then(() => closed = true);
  while (performance.now() < deadline && !closed) {
    for (let i = 0; i < 500; i++) mux.ping();
    sent += 500;
    await sleep(1);
  }
  while (performance.now() < deadline && !closed) await sleep(50);
  proxy.pause("down", false);
  mux.close();
  link.close("done");
  await link.finished;
  return { sent, closedByServer: closed };
}

let result: Record<string, unknown>;
switch (mode) {
  case "idle":
    result = await idle(amount);
    break;
  case "handshakes":
    result = await handshakes(amount);
    break;
  case "replay":
    result = await replay(amount);
    break;
  case "pings":
    result = await pings();
    break;
  default:
    console.error(`Unknown flood mode "${mode}": idle, handshakes, replay or pings`);
    Deno.exit(2);
}
say({ done: { mode, ...result, errors } });
Deno.exit(0);
