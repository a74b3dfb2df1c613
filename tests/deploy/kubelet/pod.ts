/**
 * A running test pod (one container) and its network: the pod's "pause
 * container" (pod_network.ts, in its own network namespace) and how Services
 * select pods.
 *
 * @module
 */

import type { WormholeProcess } from "../../harness/process.ts";
import type { PodFacts } from "./env.ts";
import { CONNECTED, type PodNetworkConfig } from "./pod_network.ts";
import { listeningSockets, reachableOnPodIP } from "./probe.ts";

type Obj = Record<string, unknown>;

const POD_NETWORK = new URL("./pod_network.ts", import.meta.url).pathname;

/** A container port of a pod. */
export interface ContainerPort {
  name?: string;
  containerPort: number;
}

/** A running pod (one container). */
export class TestPod {
  ready = false;
  readonly startedAt = performance.now();

  constructor(
    readonly facts: PodFacts,
    readonly container: Obj,
    readonly process: WormholeProcess,
    readonly network: Deno.ChildProcess,
    readonly inbound: string,
  ) {}

  get name(): string {
    return this.facts.name;
  }

  get ip(): string {
    return this.facts.podIP;
  }

  /** The container's ports. */
  get ports(): ContainerPort[] {
    return (this.container.ports ?? []) as ContainerPort[];
  }

  /** The port number of a named or numbered port. */
  resolvePort(port: number | string): number {
    if (typeof port === "number") return port;
    if (/^\d+$/.test(port)) return Number(port);
    const found = this.ports.find((p) => p.name === port);
    if (!found) throw new Error(`pod ${this.name}: no container port named ${port}`);
    return found.containerPort;
  }

  /**
   * A connection to `podIP:port`, through the pod's network.
   *
   * @throws {Deno.errors.ConnectionRefused} When nothing listens there.
   */
  async dial(port: number): Promise<Deno.Conn> {
    const conn = await Deno.connect({ transport: "unix", path: this.inbound });
    const answer = new Uint8Array(1);
    try {
      await conn.write(new Uint8Array([port >> 8, port & 255]));
      if (await conn.read(answer) === 1 && answer[0] === CONNECTED) return conn;
    } catch {
      // The pod's network is gone: refused as well.
    }
    conn.close();
    throw new Deno.errors.ConnectionRefused(
      `dial tcp ${this.ip}:${port}: connect: connection refused`,
    );
  }

  /** Container ports nothing listens on at the pod IP. */
  async unlistenedPorts(): Promise<ContainerPort[]> {
    const sockets = await listeningSockets(this.process.pid);
    return this.ports.filter((port) => !reachableOnPodIP(sockets, this.ip, port.containerPort));
  }

  /** Stops the container (SIGTERM, as on deletion), then the pod's network. */
  async stop(): Promise<void> {
    // A deleted pod leaves the Services' endpoints first, as the endpoints controller does.
    this.ready = false;
    await this.process.stop();
    try {
      this.network.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.network.status;
  }
}

/** Whether a Service `selector` selects a pod with `labels` (an empty selector selects none). */
export function labelsMatch(
  selector: Record<string, string>,
  labels: Record<string, string>,
): boolean {
  const entries = Object.entries(selector);
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/**
 * Starts a pod's network (pod_network.ts in a new network namespace) and waits until it is up.
 * Without iptables here, Service addresses are real listeners in the pod's namespace, which
 * would take the port from the pod's own `0.0.0.0` listeners: leave out of `config.outbound` the
 * ports the pod listens on itself (it cannot reach Services on them).
 */
export async function startPodNetwork(
  podName: string,
  config: PodNetworkConfig,
): Promise<Deno.ChildProcess> {
  // setpriv only sets the parent-death signal here: the network goes with this process.
  const child = new Deno.Command("setpriv", {
    args: [
      "--pdeathsig=SIGKILL",
      "--",
      "unshare",
      "--net",
      "--",
      Deno.execPath(),
      "run",
      "-A",
      POD_NETWORK,
      JSON.stringify(config),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("ready\n")) {
    const { value, done } = await reader.read();
    if (done) {
      await child.status;
      throw new Error(`the network of pod ${podName} did not start: ${text}`);
    }
    text += value;
  }
  // Drain the rest so that the process never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* nothing */ }
  })();
  return child;
}
