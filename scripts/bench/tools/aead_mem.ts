// Web Crypto's own garbage, without wormhole: decrypts 1 GiB as 256 KiB AES-256-GCM calls, 4 in
// flight (the session's default on 2 cores), and prints MB/s and the peaks of `external`
// (ArrayBuffers) and RSS. `fresh` (default) gives each call a fresh copy of the ciphertext, as the
// receive path does; `reuse` passes the same buffer each time, so that only Web Crypto allocates.
//
//   npx deno run --v8-flags=--max-semi-space-size=1,--initial-heap-size=64 scripts/bench/tools/aead_mem.ts [fresh|reuse]
const RECORD = 256 * 1024;
const CALLS = 4096;
const mode = Deno.args[0] ?? "fresh";
const key = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, false, [
  "encrypt",
  "decrypt",
]);
const iv = new Uint8Array(12);
const sealed = new Uint8Array(
  await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new Uint8Array(RECORD)),
);
let external = 0;
let rss = 0;
const timer = setInterval(() => {
  const m = Deno.memoryUsage();
  external = Math.max(external, m.external);
  rss = Math.max(rss, m.rss);
}, 20);
const start = performance.now();
let started = 0;
async function worker(): Promise<void> {
  while (started < CALLS) {
    started++;
    const record = mode === "reuse" ? sealed : sealed.slice();
    const plain = await crypto.subtle.decrypt({ name: "AES-GCM", iv }, key, record);
    if (plain.byteLength !== RECORD) {
      throw new Error(`Cannot check plaintext: ${plain.byteLength} bytes`);
    }
  }
}
await Promise.all([worker(), worker(), worker(), worker()]);
clearInterval(timer);
const seconds = (performance.now() - start) / 1000;
const mib = (n: number) => Math.round(n / 1048576);
console.log(JSON.stringify({
  mode,
  MBps: Math.round(CALLS * RECORD / 1e6 / seconds),
  externalMiB: mib(external),
  rssMiB: mib(rss),
}));
