// Where a receiving process's memory goes: starts `iperf3 -s`, a wormhole server and a wormhole
// client (the client through mem_probe.ts), sends `iperf3 -c -n SIZE -P STREAMS` from the server's
// entry port (so the client receives and decrypts), and prints one JSON line: Gbit/s, CPU seconds
// and peak RSS (VmHWM) of both processes, and the client's peak heap/external/RSS as it saw them.
//
//   npx deno run -A scripts/bench/tools/mem_ab.ts [CHECKOUT] [--size 1G] [--streams 1]
//       [--v8 FLAGS] [--client-v8 EXTRA] [--gc-log FILE] [--samples FILE] [--label L] [--rtt MS]
//       [--seconds N] [--env NAME=VALUE]… [-- ARGS…]
//
// CHECKOUT (default: this one) is the repository whose mod.ts and mem_probe.ts run, so that two
// builds can be run alternately (interleaved A/B). --v8 replaces the V8 flags of both processes
// (default: the project's), --client-v8 adds flags to the client only (e.g. --trace-gc-nvp, whose
// output goes to --gc-log), --samples keeps the probe's samples. ARGS go to server and client.
// --rtt puts this checkout's delay proxy (tools/delay_proxy.ts) between client and server, each
// direction delayed by half of it, as in the bench's WAN rows. --seconds N runs iperf3 for N
// seconds after a first one left out (the steady state) instead of sending --size. Both wormhole
// processes get the project's RUNTIME_ENV; --env adds to or replaces it (MALLOC_ARENA_MAX=0 is
// glibc's default).
import { RUNTIME_ENV, V8_FLAGS } from "../../lib/wormhole_process.ts";

const argv = [...Deno.args];
const rest = argv.includes("--") ? argv.splice(argv.indexOf("--")).slice(1) : [];
const flag = (name: string, fallback: string): string => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv.splice(i, 2)[1] : fallback;
};
const size = flag("--size", "1G");
const streams = flag("--streams", "1");
const v8 = flag("--v8", V8_FLAGS.slice("--v8-flags=".length));
const clientV8 = flag("--client-v8", "");
const gcLog = flag("--gc-log", "/dev/null");
const keepSamples = flag("--samples", "");
const label = flag("--label", "");
const rtt = Number(flag("--rtt", "-1"));
const seconds = flag("--seconds", "");
const env: Record<string, string> = { ...RUNTIME_ENV };
for (let i = argv.indexOf("--env"); i >= 0; i = argv.indexOf("--env")) {
  const [, pair = ""] = argv.splice(i, 2);
  const eq = pair.indexOf("=");
  if (eq <= 0) throw new Error(`--env needs NAME=VALUE, not "${pair}"`);
  env[pair.slice(0, eq)] = pair.slice(eq + 1);
}
const root = argv[0] ?? new URL("../../../", import.meta.url).pathname;

const dir = await Deno.makeTempDir({ prefix: "mem_ab" });
const procs: Deno.ChildProcess[] = [];
const start = (cmd: string, args: string[], env: Record<string, string> = {}) => {
  const child = new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" }).spawn();
  procs.push(child);
  return child;
};
const lines = (stream: ReadableStream<Uint8Array>, into: string[]) =>
  (async () => {
    let buffered = "";
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      buffered += text;
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        into.push(buffered.slice(0, i));
        buffered = buffered.slice(i + 1);
      }
    }
  })();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const iperfPort = (probe.addr as Deno.NetAddr).port;
  probe.close();
  start("iperf3", ["-s", "-p", String(iperfPort)]);
  await Deno.mkdir(`${dir}/server`);
  await Deno.mkdir(`${dir}/client`);
  const server = start(Deno.execPath(), [
    "run",
    `--v8-flags=${v8}`,
    "-A",
    `${root}/mod.ts`,
    "server",
    ...["--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--log-format", "json"],
    ...["--state-dir", `${dir}/server`, "--listen-host", "127.0.0.1", "--acceptor", "dummy"],
    ...rest,
  ], env);
  const log: string[] = [];
  void lines(server.stdout, log);
  void lines(server.stderr, log);
  const urlOf = async (msg: string): Promise<string> => {
    for (let i = 0; i < 300; i++) {
      const line = log.find((l) => l.includes(`"msg":"${msg}"`));
      if (line) return JSON.parse(line.slice(line.indexOf("{"))).url;
      await sleep(100);
    }
    throw new Error(`Cannot start the server: no "${msg}" in ${log.join("\n").slice(-2000)}`);
  };
  let tunnel = await urlOf("tunnel listening");
  /** What the delay proxy printed (with --rtt). */
  const said: string[] = [];
  if (rtt >= 0) {
    const proxy = start(Deno.execPath(), [
      "run",
      "-A",
      new URL("./delay_proxy.ts", import.meta.url).pathname,
      new URL(tunnel).port,
      String(rtt / 2),
    ]);
    void lines(proxy.stdout, said);
    for (let i = 0; i < 300 && !said.some((l) => l.startsWith("listening ")); i++) await sleep(100);
    const ready = said.find((l) => l.startsWith("listening "));
    if (!ready) throw new Error("Cannot start the delay proxy: it never said it was listening");
    const url = new URL(tunnel);
    url.port = ready.split(" ")[1];
    tunnel = url.href;
  }
  const admin = await urlOf("admin listening");
  const samples = `${dir}/samples.jsonl`;
  const client = start(Deno.execPath(), [
    "run",
    `--v8-flags=${v8}${clientV8 ? `,${clientV8}` : ""}`,
    "-A",
    `${root}/scripts/bench/tools/mem_probe.ts`,
    "client",
    ...["--server", tunnel, "--name", "bench", "--expose", `iperf=127.0.0.1:${iperfPort}`],
    ...["--log-format", "json", "--state-dir", `${dir}/client`],
    ...rest,
  ], { ...env, MEM_PROBE_OUT: samples });
  void client.stdout.pipeTo((await Deno.open(gcLog, { write: true, create: true })).writable);
  void client.stderr.pipeTo(new WritableStream());
  let entry = 0;
  for (let i = 0; i < 300 && entry === 0; i++) {
    try {
      const apps = await (await fetch(`${admin}/v1/apps`)).json() as {
        app: string;
        endpoint: string;
      }[];
      const iperf = apps.find((a) => a.app === "iperf");
      if (iperf) entry = Number(iperf.endpoint.split(":").pop());
    } catch {
      // Not up yet.
    }
    if (entry === 0) await sleep(100);
  }
  if (entry === 0) throw new Error("Cannot find the iperf app in the server's /v1/apps");
  const run = await new Deno.Command("iperf3", {
    args: [
      ...["-c", "127.0.0.1", "-p", String(entry), "-P", streams, "-J"],
      // A timed run leaves its first second (the ramp) out of the figure.
      ...(seconds ? ["-t", seconds, "-O", "1"] : ["-n", size]),
    ],
    stdout: "piped",
  }).output();
  const report = JSON.parse(new TextDecoder().decode(run.stdout));
  await sleep(200);
  const status = async (pid: number) => {
    const kib = (await Deno.readTextFile(`/proc/${pid}/status`)).match(/VmHWM:\s+(\d+)/)![1];
    const stat = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
    return {
      peakMiB: Math.round(Number(kib) / 1024),
      cpuS: (Number(stat[11]) + Number(stat[12])) / 100,
    };
  };
  const seen = (await Deno.readTextFile(samples)).trim().split("\n").map((l) => JSON.parse(l));
  const top = (key: string) => Math.max(...seen.map((s) => s[key]));
  console.log(JSON.stringify({
    label,
    gbps: report.end?.sum_received
      ? Math.round(report.end.sum_received.bits_per_second / 1e6) / 1000
      : `iperf3: ${report.error}`,
    client: await status(client.pid),
    server: await status(server.pid),
    clientSeen: { rss: top("rss"), external: top("external"), heapUsed: top("heapUsed") },
    // With --rtt: how late the proxy's bytes left beyond their delay (its last report).
    ...(rtt >= 0
      ? { proxyLate: JSON.parse(said.findLast((l) => l.startsWith("late "))?.slice(5) ?? "null") }
      : {}),
  }));
  if (keepSamples) await Deno.copyFile(samples, keepSamples);
} finally {
  for (const child of procs.reverse()) {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
  }
  await Deno.remove(dir, { recursive: true });
}
