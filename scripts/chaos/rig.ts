/**
 * The processes one chaos run works with: a real `wormhole server` on fixed
 * loopback ports (so that a restarted server is found again) with its own
 * state directory, real `wormhole client` processes approved once through
 * the CLI, and the upstreams their apps point at. Every process is stopped by
 * PID in {@linkcode Rig.close}.
 *
 * @module
 */

import {
  ENTRY,
  loopbackServerArgs,
  runWormhole,
  WormholeProcess,
} from "../lib/wormhole_process.ts";
import { type AppEntry, echoUpstream, TcpUpstream, unusedPort } from "../../tests/harness/net.ts";
import { sinkHandler } from "./load.ts";

/** Timing settings every process of the rig gets. */
export interface RigTiming {
  /** `--keepalive` of server and clients, in ms. */
  keepaliveMs: number;
  /** `--reconnect-max` of the clients, in ms. */
  reconnectMaxMs: number;
}

/** What a rig's server gets besides the defaults. */
export interface RigServerOptions {
  /** More `wormhole server` arguments (e.g. Kubernetes mode). */
  args?: string[];
  /** Environment (e.g. `KUBECONFIG`). */
  env?: Record<string, string>;
  /** Environment of the clients (e.g. glibc's `MALLOC_ARENA_MAX`, to compare). */
  clientEnv?: Record<string, string>;
  /** A command line the `deno run …` one is appended to (see {@linkcode WormholeProcess}). */
  launcher?: string[];
  /**
   * Run the server and the clients with V8's inspector on a loopback port (a
   * fresh one per start: {@linkcode Rig.inspectorPort},
   * {@linkcode RigClient.inspectorPort}), so that the memory checks can
   * collect their garbage before they read their RSS.
   */
  inspect?: boolean;
}

/** A client process and how it reaches the server. */
export interface RigClient {
  name: string;
  process: WormholeProcess;
  stateDir: string;
  /** Port the client dials (the server's, or a proxy's in front of it). */
  via: number;
  /** Its inspector's port, when the rig runs with `inspect`. */
  inspectorPort: number | null;
}

/** One server, its clients and the upstreams, all on 127.0.0.1. */
export class Rig {
  readonly tunnelPort = unusedPort();
  readonly adminPort = unusedPort();
  readonly echo = echoUpstream();
  readonly sink = new TcpUpstream(sinkHandler);
  readonly clients = new Map<string, RigClient>();
  server: WormholeProcess | null = null;
  /** The running server's inspector port, with `inspect`. */
  inspectorPort: number | null = null;
  #starts = 0;

  constructor(
    readonly dir: string,
    readonly timing: RigTiming,
    readonly serverOptions: RigServerOptions = {},
  ) {}

  /** The admin API's base URL. */
  get admin(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  /** Starts the server on the rig's ports and state dir; resolves once it listens. */
  async startServer(): Promise<WormholeProcess> {
    this.#starts++;
    let launcher = this.serverOptions.launcher;
    if (this.serverOptions.inspect) {
      if (launcher) throw new TypeError("A rig's server takes a launcher or inspect, not both");
      this.inspectorPort = unusedPort();
      launcher = inspectLauncher(this.inspectorPort);
    }
    const server = new WormholeProcess(
      loopbackServerArgs(`${this.dir}/server`, [
        "--port",
        String(this.tunnelPort),
        "--admin-port",
        String(this.adminPort),
        "--acceptor",
        "server",
        "--keepalive",
        `${this.timing.keepaliveMs}ms`,
        ...this.serverOptions.args ?? [],
      ]),
      this.serverOptions.env,
      ENTRY,
      launcher,
    );
    this.server = server;
    await server.waitForLog("admin listening");
    return server;
  }

  /** Starts client `name` dialing `via` (default the server's port) with apps echo and sink. */
  startClient(name: string, via = this.tunnelPort): RigClient {
    const stateDir = `${this.dir}/client-${name}`;
    const inspectorPort = this.serverOptions.inspect ? unusedPort() : null;
    const process = new WormholeProcess(
      [
        "client",
        "--server",
        `ws://127.0.0.1:${via}/wh/tunnel`,
        "--name",
        name,
        "--expose",
        `echo=${this.echo.address}`,
        "--expose",
        `sink=${this.sink.address}`,
        "--state-dir",
        stateDir,
        "--keepalive",
        `${this.timing.keepaliveMs}ms`,
        "--reconnect-min",
        "100ms",
        "--reconnect-max",
        `${this.timing.reconnectMaxMs}ms`,
        "--log-format",
        "json",
      ],
      this.serverOptions.clientEnv,
      ENTRY,
      inspectorPort === null ? [] : inspectLauncher(inspectorPort),
    );
    const client = { name, process, stateDir, via, inspectorPort };
    this.clients.set(name, client);
    return client;
  }

  /** Approves `client`'s key once through the CLI (`wormhole requests accept`). */
  async approve(client: RigClient): Promise<void> {
    const line = await client.process.waitForLog((l) => typeof l.fingerprint === "string");
    const fingerprint = line.fingerprint as string;
    await this.waitFor(`${fingerprint} to be pending`, async () => {
      const list = await runWormhole(["requests", "list", "--admin", this.admin, "-o", "json"]);
      return list.stdout.includes(fingerprint);
    });
    const accepted = await runWormhole(["requests", "accept", fingerprint, "--admin", this.admin]);
    if (accepted.code !== 0) {
      throw new Error(`Cannot approve ${client.name}: ${accepted.stderr.trim()}`);
    }
    await client.process.waitForLog("accepted by server");
  }

  /** Approves fingerprints through the admin API (for many at once). */
  async approveAll(fingerprints: readonly string[]): Promise<void> {
    // Whichever are pending now, in any order: from one address only
    // --max-pending-per-remote (4) wait at once, so waiting for each in turn
    // would wait for a lottery (200 peers took 383 s that way).
    const left = new Set(fingerprints);
    await this.waitFor(`${left.size} keys to be accepted`, async () => {
      const pending = await this.get<string[]>("/v1/requests");
      for (const fingerprint of pending.filter((fp) => left.has(fp))) {
        const response = await fetch(`${this.admin}/v1/requests/${fingerprint}`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: "{}",
        });
        await response.body?.cancel();
        if (response.status === 204) left.delete(fingerprint);
      }
      return left.size === 0;
    }, 30_000 + fingerprints.length * 1000);
  }

  /** The apps the server lists now (empty while it does not answer). */
  async apps(): Promise<AppEntry[]> {
    try {
      const response = await fetch(`${this.admin}/v1/apps`, { signal: AbortSignal.timeout(2000) });
      return await response.json();
    } catch {
      return [];
    }
  }

  /** A JSON route of the admin API. */
  async get<T>(path: string): Promise<T> {
    const response = await fetch(`${this.admin}${path}`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) throw new Error(`GET ${path} answered ${response.status}`);
    return await response.json();
  }

  /** The port of `peer`'s `app` on the server, or null when it is not listed. */
  async appPort(peer: string, app = "echo"): Promise<number | null> {
    const entry = (await this.apps()).find((a) => a.peer === peer && a.app === app);
    return entry ? Number(entry.endpoint.split(":").pop()) : null;
  }

  /** Polls `condition` every 25 ms until it holds; throws after `timeoutMs`. */
  async waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 30_000) {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (await condition().catch(() => false)) return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
  }

  /** How many times the server was started. */
  get serverStarts(): number {
    return this.#starts;
  }

  /** Stops every process (by PID) and the upstreams. */
  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.process.stop()));
    await this.server?.stop();
    await this.echo.close();
    await this.sink.close();
  }
}

/**
 * A launcher (see {@linkcode WormholeProcess}) that runs `deno run
 * --inspect=127.0.0.1:PORT` and then the rest of the command line ($2 is "run").
 */
function inspectLauncher(port: number): string[] {
  return ["bash", "-c", `exec "$1" run --inspect=127.0.0.1:${port} "\${@:3}"`, "inspect-launcher"];
}

/** Open file descriptors of process `pid` (/proc/PID/fd). */
export async function fdCount(pid: number): Promise<number> {
  let n = 0;
  for await (const _ of Deno.readDir(`/proc/${pid}/fd`)) n++;
  return n;
}
