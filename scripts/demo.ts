/**
 * `deno task demo`: a real server, a real client and an upstream, each its
 * own process, and one request through the tunnel. `--once` exits after the
 * request (for scripts); otherwise it stays up until Ctrl-C.
 *
 * @module
 */

import { loopbackServerArgs, runWormhole, WormholeProcess } from "./lib/wormhole_process.ts";

const once = Deno.args.includes("--once");
const bold = (text: string) => Deno.noColor ? text : `\x1b[1m${text}\x1b[22m`;
const step = (n: number, text: string) => console.log(`${bold(`[${n}/6]`)} ${text}`);

const dir = await Deno.makeTempDir({ prefix: "wormhole-demo-" });
const processes: WormholeProcess[] = [];
const start = (args: string[]) => {
  const proc = new WormholeProcess([...args, "--log-format", "json"]);
  processes.push(proc);
  return proc;
};

function indent(text: string): string {
  return text.trim().split("\n").map((line) => `        ${line}`).join("\n");
}

async function waitForApp(admin: string, app: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const apps = await (await fetch(`${admin}/v1/apps`)).json() as {
      app: string;
      endpoint: string;
    }[];
    const found = apps.find((entry) => entry.app === app);
    if (found) return found.endpoint;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`app "${app}" was not exposed within 10 s`);
}

let code = 0;
try {
  step(1, "Starting the upstream: an HTTP server only the client can reach");
  const upstream = start([
    "testserver",
    "--port",
    "0",
    "--response",
    "Hello through the wormhole!\n",
  ]);
  const upstreamUrl = String((await upstream.waitForLog("testserver listening")).url);
  const upstreamAddr = new URL(upstreamUrl).host;
  console.log(`      upstream at ${upstreamUrl}`);

  step(2, "Starting the server (the central side); clients need the operator's approval");
  const server = start(loopbackServerArgs(`${dir}/server`, ["--acceptor", "server"]));
  const tunnelUrl = String((await server.waitForLog("tunnel listening")).url);
  const admin = String((await server.waitForLog("admin listening")).url);
  const serverKey = await server.waitForLog("created server key");
  console.log(`      tunnel endpoint ${tunnelUrl}, admin API ${admin}`);
  console.log(`      server key fingerprint ${serverKey.fingerprint}`);

  step(3, "Starting the client (the edge side): it dials out and shows its key's fingerprint");
  const client = start([
    "client",
    "--server",
    tunnelUrl,
    "--name",
    "edge",
    "--expose",
    `hello=${upstreamAddr}`,
    "--state-dir",
    `${dir}/client`,
  ]);
  const hello = await client.waitForLog((line) => line.msg.startsWith("Sending public key"));
  const fingerprint = String(hello.fingerprint);
  console.log(`      client log: ${hello.msg}`);
  await client.waitForLog("waiting for the operator to approve this key");
  const pending = await runWormhole(["requests", "list", "--admin", admin]);
  console.log(`      $ wormhole requests list\n${indent(pending.stdout)}`);

  step(4, "The operator compares the fingerprint and approves the key");
  const accepted = await runWormhole(["requests", "accept", fingerprint, "--admin", admin]);
  if (accepted.code !== 0) throw new Error(`requests accept failed: ${accepted.stderr}`);
  console.log(`      $ wormhole requests accept ${fingerprint}\n${indent(accepted.stdout)}`);
  await client.waitForLog("accepted by server");
  console.log(`      client "edge" is approved; every byte is now encrypted end to end`);
  const endpoint = await waitForApp(admin, "hello");
  console.log(`      app "hello" of peer "edge" is exposed at ${endpoint}`);

  step(5, `Sending a request through the tunnel: GET http://${endpoint}/`);
  const response = await fetch(`http://${endpoint}/`);
  const body = await response.text();
  console.log(`      HTTP ${response.status}: ${body.trim()}`);
  if (response.status !== 200 || !body.includes("Hello through the wormhole")) {
    throw new Error("the response did not come from the upstream");
  }

  step(6, "Done: the request crossed the encrypted tunnel");
  if (!once) {
    console.log(`
${bold("The tunnel is up.")} Try it yourself in another terminal:

  curl http://${endpoint}/
  npx deno task wormhole apps list --admin ${admin}

Press Ctrl-C to stop everything.`);
    await new Promise<void>((resolve) => {
      const stop = () => {
        Deno.removeSignalListener("SIGINT", stop);
        Deno.removeSignalListener("SIGTERM", stop);
        resolve();
      };
      Deno.addSignalListener("SIGINT", stop);
      Deno.addSignalListener("SIGTERM", stop);
    });
  }
  console.log("Demo finished: the request went through the tunnel.");
} catch (error) {
  code = 1;
  console.error(`Demo failed: ${(error as Error).message}`);
  for (const proc of processes) {
    console.error(`--- ${proc.args[0]} output ---\n${proc.dump()}`);
  }
} finally {
  await Promise.all(processes.map((proc) => proc.stop()));
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}
Deno.exit(code);
