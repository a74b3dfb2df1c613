/**
 * Prometheus metrics (text exposition through prom-client), computed from
 * the server's or the client's counters at scrape time, so the data path
 * pays nothing for them.
 *
 * @module
 */

import promClient from "prom-client";
import { type ClientStats, Flow, type ServerStats } from "./stats.ts";

type Registry = InstanceType<typeof promClient.Registry>;

/** Something that renders the metrics text. */
export interface MetricsSource {
  /** The Prometheus text exposition. */
  metrics(): Promise<string>;
}

function processMetrics(registry: Registry): void {
  new promClient.Gauge({
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    registers: [registry],
    collect() {
      this.set(Deno.memoryUsage().rss);
    },
  });
}

/** Renders `registry`, taking one fresh snapshot per scrape (`forget` drops the last). */
function render(registry: Registry, forget: () => void): MetricsSource {
  return {
    async metrics() {
      forget();
      try {
        return await registry.metrics();
      } finally {
        forget();
      }
    },
  };
}

/**
 * Metrics of a server; `stats` is read on every scrape.
 *
 * @example
 * ```ts ignore
 * const metrics = serverMetrics(() => server.stats());
 * const text = await metrics.metrics(); // wormhole_bytes_total{peer="laptop",app="web",direction="in"} …
 * ```
 */
export function serverMetrics(
  stats: () => ServerStats,
  leadership?: () => Leadership,
): MetricsSource {
  const registry = new promClient.Registry();
  let snapshot: ServerStats | null = null;
  // One snapshot per scrape, shared by every metric.
  const current = () => snapshot ??= stats();
  const gauge = (name: string, help: string, read: (s: ServerStats) => number) =>
    new promClient.Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(current()));
      },
    });
  gauge("wormhole_peers_connected", "Accepted peers connected now.", (s) => s.peersConnected);
  gauge(
    "wormhole_pending_requests",
    "Join requests waiting for approval.",
    (s) => s.pendingRequests,
  );
  gauge("wormhole_apps_exposed", "Apps with an open listener.", (s) => s.appsExposed);
  const flows = () => withFlow(current().traffic, current().offeredTraffic);
  new promClient.Gauge({
    name: "wormhole_streams_open",
    help: "Tunnelled connections open now.",
    labelNames: ["peer", "app", "flow"],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of flows()) this.set({ peer: t.peer, app: t.app, flow: t.flow }, t.streamsOpen);
    },
  });
  new promClient.Counter({
    name: "wormhole_streams_total",
    help: "Tunnelled connections carried.",
    labelNames: ["peer", "app", "flow"],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of flows()) this.inc({ peer: t.peer, app: t.app, flow: t.flow }, t.streamsTotal);
    },
  });
  new promClient.Counter({
    name: "wormhole_bytes_total",
    help: "Bytes carried, by direction: in = received from the peer, out = sent to it.",
    labelNames: ["peer", "app", "direction", "flow"],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of flows()) {
        this.inc({ peer: t.peer, app: t.app, direction: "in", flow: t.flow }, t.bytesIn);
        this.inc({ peer: t.peer, app: t.app, direction: "out", flow: t.flow }, t.bytesOut);
      }
    },
  });
  new promClient.Counter({
    name: "wormhole_handshake_failures_total",
    help: "Failed handshakes by reason.",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(current().handshakeFailures)) {
        this.inc({ reason }, n);
      }
    },
  });
  gauge(
    "wormhole_handshakes",
    "Connections between accept and authentication now.",
    (s) => s.handshakes,
  );
  for (
    const [name, help, read] of [
      [
        "wormhole_connections_refused_total",
        "Connections closed as they were accepted: --max-handshakes were handshaking.",
        (s: ServerStats) => s.connectionsRefused,
      ],
      [
        "wormhole_apps_refused_total",
        "App announces refused: the peer exposed --max-apps apps.",
        (s: ServerStats) => s.appsRefused,
      ],
    ] as const
  ) {
    new promClient.Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(current()));
      },
    });
  }
  if (leadership) leadershipMetrics(registry, leadership);
  processMetrics(registry);
  return render(registry, () => snapshot = null);
}

/** A replica's part in the `--ha` leader election. */
export interface Leadership {
  /** True while this replica holds the leader Lease. */
  leader: boolean;
  /** How many times leadership changed on this replica. */
  changes: number;
}

function leadershipMetrics(registry: Registry, leadership: () => Leadership): void {
  new promClient.Gauge({
    name: "wormhole_leader",
    help: "1 while this replica is the --ha leader (it collects what no replica holds).",
    registers: [registry],
    collect() {
      this.set(leadership().leader ? 1 : 0);
    },
  });
  new promClient.Counter({
    name: "wormhole_leadership_changes_total",
    help: "Times this replica became or stopped being the --ha leader.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(leadership().changes);
    },
  });
}

/** Metrics of a client; `stats` is read on every scrape. */
export function clientMetrics(stats: () => ClientStats): MetricsSource {
  const registry = new promClient.Registry();
  let snapshot: ClientStats | null = null;
  const current = () => snapshot ??= stats();
  new promClient.Gauge({
    name: "wormhole_connected",
    help: "1 while connected to the server and accepted by it.",
    registers: [registry],
    collect() {
      this.set(current().connected ? 1 : 0);
    },
  });
  new promClient.Gauge({
    name: "wormhole_apps_exposed",
    help: "Apps offered to the server.",
    registers: [registry],
    collect() {
      this.set(current().apps);
    },
  });
  new promClient.Counter({
    name: "wormhole_reconnects_total",
    help: "Connections to the server after the first one.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(current().reconnects);
    },
  });
  const flows = () => withFlow(current().traffic, current().offeredTraffic);
  new promClient.Gauge({
    name: "wormhole_streams_open",
    help: "Tunnelled connections open now.",
    labelNames: ["app", "flow"],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of flows()) this.set({ app: t.app, flow: t.flow }, t.streamsOpen);
    },
  });
  new promClient.Counter({
    name: "wormhole_streams_total",
    help: "Tunnelled connections carried.",
    labelNames: ["app", "flow"],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of flows()) this.inc({ app: t.app, flow: t.flow }, t.streamsTotal);
    },
  });
  new promClient.Counter({
    name: "wormhole_bytes_total",
    help: "Bytes carried, by direction: in = received from the server, out = sent to it.",
    labelNames: ["app", "direction", "flow"],
    registers: [registry],
    collect() {
      this.reset();
      for (const t of flows()) {
        this.inc({ app: t.app, direction: "in", flow: t.flow }, t.bytesIn);
        this.inc({ app: t.app, direction: "out", flow: t.flow }, t.bytesOut);
      }
    },
  });
  processMetrics(registry);
  return render(registry, () => snapshot = null);
}

/** Traffic of apps reached `to-edge` and of offered apps (`to-center`), each with its flow. */
function withFlow<T>(traffic: T[], offered: T[] = []): (T & { flow: Flow })[] {
  return [
    ...traffic.map((t) => ({ ...t, flow: Flow.ToEdge })),
    ...offered.map((t) => ({ ...t, flow: Flow.ToCenter })),
  ];
}
