/**
 * `deno task demo`: a real server, a real client and an upstream, each its
 * own process, and one request through the tunnel. `--once` exits after the
 * request (for scripts); otherwise it stays up until Ctrl-C.
 *
 * @module
 */

import { WormholeProcess } from "./lib/wormhole_process.ts";

const once = Deno.args.includes("--once");
const bold = (text: string) => Deno.noColor ? text : `\x1b[1m${text}\x1b[22m`;
const step = (n: number, text: string) => console.log(`${bold(`[${n}/5]`)} ${text}`);

const dir = await Deno.makeTempDir({ prefix: "wormhole-demo-" });
const processes: WormholeProcess[] = [];
const start = (args: string[]) => {
  const proc = new WormholeProcess([...args, "--log-format", "json"]);
  processes.push(proc);
  return proc;
};

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

  step(2, "Starting the server (the central side)");
  const server = start([
    "server",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--admin-port",
    "0",
    "--acceptor",
    "dummy",
    "--state-dir",
    `${dir}/server`,
  ]);
  const tunnelUrl = String((await server.waitForLog("tunnel listening")).url);
  const admin = String((await server.waitForLog("admin listening")).url);
  console.log(`      tunnel endpoint ${tunnelUrl}, admin API ${admin}`);

  step(3, "Starting the client (the edge side): it dials out and exposes the upstream");
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
  await client.waitForLog("accepted by server");
  console.log(`      client "edge" connected and announced app "hello" -> ${upstreamAddr}`);

  step(4, "Waiting for the server to open a listener for the app");
  const endpoint = await waitForApp(admin, "hello");
  console.log(`      app "hello" of peer "edge" is reachable at ${endpoint}`);

  step(5, `Sending a request through the tunnel: GET http://${endpoint}/`);
  const response = await fetch(`http://${endpoint}/`);
  const body = await response.text();
  console.log(`      HTTP ${response.status}: ${body.trim()}`);
  if (response.status !== 200 || !body.includes("Hello through the wormhole")) {
    throw new Error("the response did not come from the upstream");
  }

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
