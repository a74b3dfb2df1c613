/**
 * The kubelet's HTTP probe, byte for byte: `GET path HTTP/1.1` to the pod IP
 * and port with only the headers the kubelet sends (Host, User-Agent
 * `kube-probe/<minor>`, Accept, Connection: close) plus the probe's own
 * `httpHeaders`: never a token. Success is a status from 200 to 399; no
 * answer within `timeoutSeconds` is a failure.
 *
 * And what a pod listens on, from the kernel's table of its network namespace
 * (/proc/PID/net/tcp and tcp6).
 *
 * @module
 */

/** The parts of a probe the kubelet reads. */
export interface Probe {
  httpGet?: {
    path?: string;
    port: number | string;
    host?: string;
    scheme?: string;
    httpHeaders?: { name: string; value: string }[];
  };
  tcpSocket?: { port: number | string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

/** The outcome of one probe. */
export interface ProbeResult {
  success: boolean;
  /** The HTTP status, or undefined when there was no answer. */
  status?: number;
  /** Why it failed, as the kubelet's event would say. */
  detail: string;
}

/** How long a probe may take to succeed from the container's start: initialDelay + period × threshold. */
export function readinessBoundMs(probe: Probe): number {
  const period = probe.periodSeconds ?? 10;
  const threshold = probe.failureThreshold ?? 3;
  return ((probe.initialDelaySeconds ?? 0) + period * threshold) * 1000;
}

/**
 * Runs one HTTP probe over `conn` (already connected to the pod's port).
 *
 * @param conn The connection; closed afterwards.
 * @param probe The probe.
 * @param hostPort `podIP:port`, for the Host header.
 */
export async function httpProbe(
  conn: Deno.Conn,
  probe: Probe,
  hostPort: string,
): Promise<ProbeResult> {
  const get = probe.httpGet!;
  if ((get.scheme ?? "HTTP") !== "HTTP") {
    throw new Error(`probe scheme ${get.scheme} not supported`);
  }
  const headers = [
    `Host: ${hostPort}`,
    "User-Agent: kube-probe/1.32",
    "Accept: */*",
    "Connection: close",
    ...(get.httpHeaders ?? []).map((header) => `${header.name}: ${header.value}`),
  ];
  const request = `GET ${get.path ?? "/"} HTTP/1.1\r\n${headers.join("\r\n")}\r\n\r\n`;
  const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
  let timedOut = false;
  // The kubelet's probe timeout: close the connection, which ends the read below.
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }, timeoutMs);
  try {
    await conn.write(new TextEncoder().encode(request));
    const head = await readHead(conn);
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    if (!status) return { success: false, detail: `malformed response: ${JSON.stringify(head)}` };
    const success = status >= 200 && status < 400;
    const outcome = success ? "succeeded" : "failed";
    return { success, status, detail: `HTTP probe ${outcome} with statuscode: ${status}` };
  } catch (error) {
    const why = timedOut ? `timeout after ${timeoutMs} ms` : (error as Error).message;
    return { success: false, detail: `Get "http://${hostPort}${get.path ?? "/"}": ${why}` };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timeout.
    }
  }
}

async function readHead(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(4096);
  let text = "";
  while (!text.includes("\r\n")) {
    const n = await conn.read(buffer);
    if (n === null) {
      if (text) break;
      throw new Error("connection closed without a response (connection refused)");
    }
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  return text.split("\r\n")[0];
}

/** A listening TCP socket of a network namespace. */
export interface ListeningSocket {
  address: string;
  port: number;
}

function ipv4(hex: string): string {
  const n = parseInt(hex, 16);
  return [n & 255, (n >> 8) & 255, (n >> 16) & 255, (n >>> 24) & 255].join(".");
}

/**
 * Every listening TCP socket of the network namespace of process `pid`. Read with `cat`:
 * Deno itself may read /proc only with --allow-all.
 */
export async function listeningSockets(pid: number): Promise<ListeningSocket[]> {
  const sockets: ListeningSocket[] = [];
  for (const file of ["tcp", "tcp6"]) {
    const out = await new Deno.Command("cat", { args: [`/proc/${pid}/net/${file}`] }).output();
    if (!out.success) {
      // A kernel without IPv6 has no tcp6 table; the IPv4 one always exists.
      if (file === "tcp6") continue;
      throw new Error(
        `Cannot read the sockets of pid ${pid}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    for (const line of new TextDecoder().decode(out.stdout).split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 4 || fields[3] !== "0A") continue;
      const [addressHex, portHex] = fields[1].split(":");
      const address = file === "tcp"
        ? ipv4(addressHex)
        : /^0+$/.test(addressHex)
        ? "::"
        : addressHex.startsWith("0000000000000000FFFF0000")
        ? ipv4(addressHex.slice(24))
        : addressHex;
      sockets.push({ address, port: parseInt(portHex, 16) });
    }
  }
  return sockets;
}

/** Whether something listens on `port` at an address that `podIP` reaches. */
export function reachableOnPodIP(
  sockets: readonly ListeningSocket[],
  podIP: string,
  port: number,
): boolean {
  return sockets.some((socket) =>
    socket.port === port && ["0.0.0.0", "::", podIP].includes(socket.address)
  );
}
