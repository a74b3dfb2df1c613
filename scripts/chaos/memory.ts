/**
 * Where a process's resident memory sits, from outside it: /proc/PID/status
 * (RssAnon, RssFile), the anonymous mappings by kind (/proc/PID/smaps), and,
 * when the process runs with `--inspect`, its V8 figures and a full garbage
 * collection through the inspector protocol. The churn and soak checks judge
 * the server's RSS after such a collection; `tools/rss_phases.ts` uses the
 * rest to tell a leak from memory an allocator keeps.
 *
 * @module
 */

/** KiB figures of one process at one moment. */
export interface MemorySample {
  rss: number;
  anon: number;
  file: number;
  /** The brk heap (glibc's main arena). */
  brk: number;
  /** Resident KiB of anonymous mappings: "arena" (glibc thread arenas) or by size class. */
  maps: Record<string, number>;
}

/** RSS, RssAnon, RssFile and resident anonymous mappings of `pid`, in KiB. */
export async function memorySample(pid: number): Promise<MemorySample> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1]);
  const sample = { rss: field("VmRSS"), anon: field("RssAnon"), file: field("RssFile") };
  return { ...sample, ...residentByKind(await Deno.readTextFile(`/proc/${pid}/smaps`)) };
}

/**
 * Resident KiB of the anonymous mappings in `smaps` (the text of
 * /proc/PID/smaps): the brk heap, glibc's thread arenas (read-write, aligned
 * to their 64 MiB reservation) and the rest by size class (V8 maps its heap
 * in 256 KiB pages: "<=1M"). File-backed mappings are RssFile.
 */
export function residentByKind(smaps: string): Pick<MemorySample, "brk" | "maps"> {
  const out: Pick<MemorySample, "brk" | "maps"> = { brk: 0, maps: {} };
  let kind = "";
  for (const line of smaps.split("\n")) {
    const head = line.match(/^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$/);
    if (head) {
      const start = parseInt(head[1], 16);
      const size = (parseInt(head[2], 16) - start) / 1024;
      const [perms, inode, name] = [head[3], head[4], head[5]];
      const anon = inode === "0" && name === "";
      const arena = anon && perms.startsWith("rw") && start % (64 * 1024 * 1024) === 0;
      kind = name === "[heap]" ? "brk" : arena ? "arena" : anon ? sizeClass(size) : "";
      continue;
    }
    const rss = line.match(/^Rss:\s+(\d+) kB/);
    if (rss && kind && rss[1] !== "0") {
      if (kind === "brk") out.brk += Number(rss[1]);
      else out.maps[kind] = (out.maps[kind] ?? 0) + Number(rss[1]);
    }
  }
  return out;
}

/** "≤1M", "≤8M", "≤64M" (glibc arenas reserve 64 MiB each) or ">64M" (V8's reservations). */
function sizeClass(kib: number): string {
  if (kib <= 1024) return "<=1M";
  if (kib <= 8 * 1024) return "<=8M";
  if (kib <= 64 * 1024) return "<=64M";
  return ">64M";
}

/** A connection to a Deno process's inspector (`--inspect=127.0.0.1:PORT`). */
export class Inspector {
  #next = 1;
  #waiting = new Map<number, (result: Record<string, unknown>) => void>();
  #chunks: string[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.method === "HeapProfiler.addHeapSnapshotChunk") {
        this.#chunks.push(message.params.chunk);
      }
      this.#waiting.get(message.id)?.(message.result ?? message.error);
      this.#waiting.delete(message.id);
    };
  }

  /** Connects to the first target of the inspector on `port`. */
  static async open(port: number): Promise<Inspector> {
    const response = await fetch(`http://127.0.0.1:${port}/json/list`, {
      signal: AbortSignal.timeout(5000),
    });
    const list = await response.json();
    const socket = new WebSocket(list[0].webSocketDebuggerUrl);
    await new Promise((resolve, reject) => {
      socket.onopen = resolve;
      socket.onerror = reject;
    });
    return new Inspector(socket);
  }

  /** Sends one command; resolves with its result, rejects after 30 s without one. */
  call(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        reject(new Error(`Inspector did not answer ${method} within 30 s`));
      }, 30_000);
      this.#waiting.set(id, (result) => {
        clearTimeout(timer);
        resolve(result);
      });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** `Deno.memoryUsage()` of the process, in KiB; after a full GC when `gc`. */
  async v8(gc: boolean): Promise<Record<string, number>> {
    if (gc) await this.call("HeapProfiler.collectGarbage");
    const answer = await this.call("Runtime.evaluate", {
      expression: "JSON.stringify(Deno.memoryUsage())",
      returnByValue: true,
    });
    const usage = JSON.parse((answer.result as { value: string }).value);
    return Object.fromEntries(
      Object.entries(usage).map(([k, v]) => [k, Math.round((v as number) / 1024)]),
    );
  }

  /**
   * A heap snapshot summarized: count and self size (bytes) of the nodes of
   * each type and name (constructor for objects), e.g. "object:Map".
   */
  async heapSummary(): Promise<Map<string, { count: number; size: number }>> {
    this.#chunks = [];
    await this.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
    const snapshot = JSON.parse(this.#chunks.join(""));
    this.#chunks = [];
    const fields: string[] = snapshot.snapshot.meta.node_fields;
    const types: string[] = snapshot.snapshot.meta.node_types[0];
    const [typeAt, nameAt, sizeAt] = ["type", "name", "self_size"].map((f) => fields.indexOf(f));
    const nodes: number[] = snapshot.nodes;
    const strings: string[] = snapshot.strings;
    const out = new Map<string, { count: number; size: number }>();
    for (let i = 0; i < nodes.length; i += fields.length) {
      const type = types[nodes[i + typeAt]];
      const name = type === "string" || type === "concatenated string" || type === "number"
        ? ""
        : strings[nodes[i + nameAt]].slice(0, 60);
      const key = `${type}:${name}`;
      const entry = out.get(key) ?? { count: 0, size: 0 };
      entry.count++;
      entry.size += nodes[i + sizeAt];
      out.set(key, entry);
    }
    return out;
  }

  /** Closes the connection; resolves once it is closed. */
  close(): Promise<void> {
    if (this.socket.readyState === WebSocket.CLOSED) return Promise.resolve();
    const closed = new Promise<void>((resolve) =>
      this.socket.addEventListener("close", () => resolve())
    );
    this.socket.close();
    return closed;
  }
}

/**
 * Calls `expression` (C) in process `pid` through gdb, e.g. `malloc_trim(0)`;
 * returns gdb's output (what the call prints goes to the process's stderr).
 */
export async function gdbCall(pid: number, expression: string): Promise<string> {
  const output = await new Deno.Command("gdb", {
    args: ["-p", String(pid), "-batch", "-ex", `call ${expression}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return new TextDecoder().decode(output.stdout).split("\n").filter((l) => l.startsWith("$"))
    .join(" ");
}

/**
 * A full garbage collection in the process whose inspector listens on
 * `port`; resolves with its V8 figures (KiB) before and after.
 */
export async function collectGarbage(
  port: number,
): Promise<{ before: Record<string, number>; after: Record<string, number> }> {
  const inspector = await Inspector.open(port);
  try {
    const before = await inspector.v8(false);
    const after = await inspector.v8(true);
    return { before, after };
  } finally {
    await inspector.close();
  }
}
