/**
 * The network side of a test pod, run as root inside the pod's own network
 * namespace (`unshare --net`): it is the pod's "pause container", holding the
 * namespace, and its CNI plugin.
 *
 * A pod namespace has only `lo`; the pod IP is a 127.0.0.x address on it, so
 * `0.0.0.0` binds are the pod's own and two pods may both listen on 8081.
 * Traffic crosses namespaces through Unix sockets, which live in the file
 * system and so reach across network namespaces:
 *
 * - inbound (kubelet probes, kube-proxy): a connection to `inbound` starts
 *   with a 2-byte big-endian port; the answer is one byte, {@linkcode CONNECTED}
 *   (then everything is piped to and from `podIP:port`) or {@linkcode REFUSED};
 * - outbound (Services, the API server): a TCP listener on each
 *   `host:port` of `outbound`, piped to that entry's Unix socket, where the
 *   test's kube-proxy answers.
 *
 * Prints `ready` on stdout once every listener is up; stops on SIGTERM.
 *
 * Usage: `unshare --net -- deno run -A pod_network.ts '<json config>'`
 *
 * @module
 */

import { pipeBoth } from "./pipe.ts";

/** The inbound answer: connected to the pod's port. */
export const CONNECTED = 0;
/** The inbound answer: nothing listens on the pod's port (connection refused). */
export const REFUSED = 1;

/** The configuration, passed as JSON in the first argument. */
export interface PodNetworkConfig {
  podIP: string;
  inbound: string;
  outbound: { host: string; port: number; socket: string }[];
}

async function readPort(conn: Deno.UnixConn): Promise<number | null> {
  const header = new Uint8Array(2);
  let got = 0;
  while (got < 2) {
    const n = await conn.read(header.subarray(got));
    if (n === null) return null;
    got += n;
  }
  return (header[0] << 8) | header[1];
}

async function serve<C extends Deno.Conn>(
  listener: Deno.Listener<C>,
  handle: (conn: C) => Promise<void>,
  open: Set<Promise<void>>,
): Promise<void> {
  for await (const conn of listener) {
    const work: Promise<void> = handle(conn).catch(() => {}).finally(() => {
      try {
        conn.close();
      } catch {
        // Closed by the pipe.
      }
      open.delete(work);
    });
    open.add(work);
  }
}

async function main(config: PodNetworkConfig): Promise<void> {
  const up = await new Deno.Command("ip", { args: ["link", "set", "lo", "up"] }).output();
  if (!up.success) {
    throw new Error(`ip link set lo up failed: ${new TextDecoder().decode(up.stderr)}`);
  }
  const open = new Set<Promise<void>>();
  const inbound = Deno.listen({ transport: "unix", path: config.inbound });
  const outbound = config.outbound.map((entry) => ({
    entry,
    listener: Deno.listen({ hostname: entry.host, port: entry.port }),
  }));
  const loops = [
    serve(inbound, async (conn) => {
      const port = await readPort(conn);
      if (port === null) return;
      let target: Deno.Conn;
      try {
        target = await Deno.connect({ hostname: config.podIP, port });
      } catch {
        // Tell the dialer, who then sees what a TCP client sees: connection refused.
        await conn.write(new Uint8Array([REFUSED]));
        return;
      }
      await conn.write(new Uint8Array([CONNECTED]));
      await pipeBoth(conn, target);
    }, open),
    ...outbound.map(({ entry, listener }) =>
      serve(listener, async (conn) => {
        const target = await Deno.connect({ transport: "unix", path: entry.socket });
        await pipeBoth(conn, target);
      }, open)
    ),
  ];
  // The pod is gone when its sandbox is: drop every connection with it, as a deleted network
  // namespace does.
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  console.log("ready");
  await Promise.all(loops);
}

if (import.meta.main) {
  await main(JSON.parse(Deno.args[0]) as PodNetworkConfig);
}
