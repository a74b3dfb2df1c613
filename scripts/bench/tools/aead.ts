// AEAD ceiling: how fast Web Crypto AES-256-GCM can encrypt then decrypt FRAME_BYTES frames
// (default 64 KiB) with navigator.hardwareConcurrency calls in flight.
// Usage: aead.ts SECONDS [FRAME_BYTES] -> one JSON line.

import process from "node:process";

const seconds = Number(Deno.args[0] ?? "5");
const FRAME = Number(Deno.args[1] ?? 64 * 1024);
const concurrency = navigator.hardwareConcurrency;

const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
]);
const frame = new Uint8Array(FRAME);
// getRandomValues fills at most 64 KiB per call.
for (let at = 0; at < FRAME; at += 65536) {
  crypto.getRandomValues(frame.subarray(at, Math.min(FRAME, at + 65536)));
}

// sanity: one round trip must give the frame back
{
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, frame);
  const pt = new Uint8Array(await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, ct));
  if (pt.length !== FRAME || pt.some((b, i) => b !== frame[i])) throw new Error("AES-GCM mismatch");
}

let frames = 0;
let measuring = false;
let stop = false;

async function worker(id: number) {
  const iv = new Uint8Array(12);
  const view = new DataView(iv.buffer);
  view.setUint32(0, id);
  let counter = 0;
  while (!stop) {
    view.setUint32(8, counter++); // unique nonce per (worker, frame)
    const ct = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, frame);
    await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, ct);
    if (measuring) frames++;
  }
}

const workers = Array.from({ length: concurrency }, (_, i) => worker(i));
await new Promise((r) => setTimeout(r, 300)); // warm-up, not counted
measuring = true;
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, seconds * 1000));
const elapsed = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
measuring = false;
const counted = frames;
stop = true;
await Promise.all(workers);

const bytes = counted * FRAME;
console.log(JSON.stringify({
  concurrency,
  frameBytes: FRAME,
  frames: counted,
  seconds: elapsed,
  MBps: bytes / elapsed / 1e6,
  Gbps: (bytes * 8) / elapsed / 1e9,
  cpuSecondsPerGiB: (cpu.user + cpu.system) / 1e6 / (bytes / 2 ** 30),
}));
