// What every benchmarked system (direct / ssh -R / wormhole) provides to the measurements.

/** Ports on 127.0.0.1 for the three upstream services (or the tunnel entries that reach them). */
export interface Ports {
  /** iperf3 server */
  iperf: number;
  /** HTTP server (fixed short body, keep-alive) */
  http: number;
  /** raw TCP server: PING/idle and BLAST (see tools/tcp_upstream.ts) */
  tcp: number;
}

export interface RssKiB {
  server: number;
  client: number;
}

/** CPU seconds used so far by the tunnel's server side and client side (all threads). */
export interface CpuSeconds {
  server: number;
  client: number;
}

export interface RunningSystem {
  /** Where the load generators connect. */
  entry: Ports;
  /** RSS of the tunnel processes, or null when there are none (direct). */
  rss(): Promise<RssKiB | null>;
  /** CPU seconds used so far by the tunnel processes, or null when there are none (direct). */
  cpu(): Promise<CpuSeconds | null>;
  /** Free-form facts recorded in the JSON (versions, cipher, pids...). */
  info: Record<string, unknown>;
  stop(): Promise<void>;
}

/** How to start a system. */
export interface StartOptions {
  /**
   * One-way delay in ms to put between the tunnel's two ends (a delay proxy, tools/delay_proxy.ts,
   * on the connection from the tunnel client to the tunnel server); none when absent.
   */
  delayMs?: number;
}

export interface BenchSystem {
  id: "direct" | "ssh" | "wormhole";
  label: string;
  start(upstream: Ports, log: (s: string) => void, options?: StartOptions): Promise<RunningSystem>;
}

/** Thrown by start() when the system cannot be benchmarked; shown as "unavailable: reason". */
export class Unavailable extends Error {
  override name = "Unavailable";
}
