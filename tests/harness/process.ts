/**
 * Test helpers around real `wormhole` processes: servers and clients on
 * loopback with OS-chosen ports and temporary state directories.
 *
 * @module
 */

import { loopbackServerArgs, WormholeProcess } from "../../scripts/lib/wormhole_process.ts";

export { type LogLine, runWormhole, WormholeProcess } from "../../scripts/lib/wormhole_process.ts";

/** A temporary directory removed on dispose. */
export async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "wormhole-test-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    },
  };
}

/** A server process with its tunnel and admin URLs. */
export interface ServerProcess {
  proc: WormholeProcess;
  url: string;
  admin: string;
}

/**
 * Starts `wormhole server` on loopback with OS-chosen ports; `launcher`
 * execs it (see {@linkcode WormholeProcess}).
 */
export async function startServer(
  stateDir: string,
  extra: string[] = [],
  env?: Record<string, string>,
  entry?: string,
  launcher?: string[],
): Promise<ServerProcess> {
  // Tests that are not about pairing use the dummy acceptor.
  const acceptor = extra.includes("--acceptor") ? [] : ["--acceptor", "dummy"];
  const proc = new WormholeProcess(
    loopbackServerArgs(stateDir, [...acceptor, ...extra]),
    env,
    entry,
    launcher,
  );
  try {
    const tunnel = await proc.waitForLog("tunnel listening");
    const admin = await proc.waitForLog("admin listening");
    return { proc, url: String(tunnel.url), admin: String(admin.url) };
  } catch (error) {
    await proc.stop();
    throw error;
  }
}

/** Starts `wormhole client` against `url`. */
export function startClient(
  url: string,
  stateDir: string,
  extra: string[] = [],
  env?: Record<string, string>,
  entry?: string,
): WormholeProcess {
  return new WormholeProcess(
    [
      "client",
      "--server",
      url,
      "--log-format",
      "json",
      "--state-dir",
      stateDir,
      "--reconnect-min",
      "100ms",
      "--reconnect-max",
      "1s",
      ...extra,
    ],
    env,
    entry,
  );
}

/** A server and one client exposing `apps`; both stop on dispose. */
export async function startTunnel(
  dir: string,
  apps: string[],
): Promise<AsyncDisposable & { server: ServerProcess; client: WormholeProcess }> {
  const server = await startServer(`${dir}/server`);
  const client = startClient(
    server.url,
    `${dir}/client`,
    apps.flatMap((app) => ["--expose", app]),
  );
  return {
    server,
    client,
    async [Symbol.asyncDispose]() {
      await client.stop();
      await server.proc.stop();
    },
  };
}
