// Process and temp-dir bookkeeping for the bench: every child process and temp dir created here
// is registered so that `cleanupAll()` can end/remove them, even when a measurement throws.

const decoder = new TextDecoder();
const ANSI = new RegExp(String.fromCharCode(27) + "\\[[0-9;]*[A-Za-z]", "g");

/** Wrap a command so that it runs with the soft open-files limit raised as far as allowed. */
function withUlimit(cmd: string, args: string[]): [string, string[]] {
  const script = 'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';
  return ["bash", ["-c", script, "bench-ulimit", cmd, ...args]];
}

export interface SpawnOptions {
  /** Raise `ulimit -n` before exec (default true). */
  ulimit?: boolean;
  env?: Record<string, string>;
  stdin?: "piped" | "null";
  cwd?: string;
  /** How many of the last output lines to keep for diagnostics. */
  keepLines?: number;
  /** Also keep the whole of stdout and stderr (for short-lived tools). */
  collect?: boolean;
}

type LineWatcher = (line: string, stream: "stdout" | "stderr") => void;

/** A long-running child process whose stdout/stderr are drained line by line. */
export class Proc {
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  readonly lines: string[] = [];
  stdout = "";
  stderr = "";
  readonly exited: Promise<Deno.CommandStatus>;
  status: Deno.CommandStatus | null = null;
  #watchers = new Set<LineWatcher>();
  #keep: number;
  #collect: boolean;
  #drained: Promise<void>;
  #stdinWriter: WritableStreamDefaultWriter<Uint8Array> | null = null;

  constructor(readonly name: string, cmd: string, args: string[], opts: SpawnOptions = {}) {
    const [c, a] = opts.ulimit === false ? [cmd, args] : withUlimit(cmd, args);
    this.#keep = opts.keepLines ?? 200;
    this.#collect = opts.collect ?? false;
    this.child = new Deno.Command(c, {
      args: a,
      env: opts.env,
      cwd: opts.cwd,
      stdin: opts.stdin ?? "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.child.pid;
    live.add(this);
    this.#drained = Promise.all([
      this.#drain(this.child.stdout, "stdout"),
      this.#drain(this.child.stderr, "stderr"),
    ]).then(() => {});
    this.exited = this.child.status.then((s) => {
      this.status = s;
      live.delete(this);
      return s;
    });
  }

  async #drain(stream: ReadableStream<Uint8Array>, which: "stdout" | "stderr") {
    let buf = "";
    try {
      for await (const chunk of stream) {
        buf += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          this.#line(buf.slice(0, nl), which);
          buf = buf.slice(nl + 1);
        }
        if (buf.length > 1 << 20) buf = buf.slice(-4096); // never grow without bound
      }
    } catch {
      // stream torn down by kill: nothing to do
    }
    if (buf) this.#line(buf, which);
  }

  #line(raw: string, which: "stdout" | "stderr") {
    const line = raw.replace(ANSI, "");
    if (this.#collect) this[which] += line + "\n";
    this.lines.push(line);
    if (this.lines.length > this.#keep) this.lines.shift();
    for (const w of this.#watchers) w(line, which);
  }

  get alive(): boolean {
    return this.status === null;
  }

  tail(n = 5): string {
    return this.lines.slice(-n).join(" | ");
  }

  /** Resolve with the first line (from now on, or already seen) matching `pred`. */
  waitForLine(pred: (line: string) => boolean, timeoutMs: number): Promise<string> {
    const seen = this.lines.find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const done = (fn: () => void) => {
        clearTimeout(timer);
        this.#watchers.delete(watcher);
        fn();
      };
      const watcher: LineWatcher = (line) => {
        if (pred(line)) done(() => resolve(line));
      };
      const timer = setTimeout(
        () => done(() => reject(new Error(`${this.name}: timed out after ${timeoutMs} ms`))),
        timeoutMs,
      );
      this.#watchers.add(watcher);
      this.exited.then((s) =>
        done(() =>
          reject(
            new Error(`${this.name} exited (code ${s.code}) early; last output: ${this.tail()}`),
          )
        )
      );
    });
  }

  async writeStdin(text: string): Promise<void> {
    this.#stdinWriter ??= this.child.stdin.getWriter();
    await this.#stdinWriter.write(new TextEncoder().encode(text));
  }

  async closeStdin(): Promise<void> {
    try {
      this.#stdinWriter ??= this.child.stdin.getWriter();
      await this.#stdinWriter.close();
    } catch {
      // already closed
    }
  }

  /** SIGTERM the process and its descendants, SIGKILL whatever is left after `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const pids = [this.pid, ...(await descendants(this.pid))];
    if (this.alive) {
      for (const pid of pids) signal(pid, "SIGTERM");
      const deadline = Date.now() + graceMs;
      while (Date.now() < deadline && pids.some(isRunning)) await sleep(50);
      for (const pid of pids) if (isRunning(pid)) signal(pid, "SIGKILL");
    } else {
      // the main process is gone, but it may have left children behind
      for (const pid of pids.slice(1)) if (isRunning(pid)) signal(pid, "SIGKILL");
    }
    await Promise.race([this.exited, sleep(graceMs)]);
    await Promise.race([this.#drained, sleep(500)]);
  }
}

const live = new Set<Proc>();
const tempDirs = new Set<string>();

export function spawn(name: string, cmd: string, args: string[], opts?: SpawnOptions): Proc {
  return new Proc(name, cmd, args, opts);
}

export async function makeTempDir(prefix: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `wormhole-bench-${prefix}-` });
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  tempDirs.delete(dir);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

/** End every process still registered and remove every temp dir. Safe to call twice. */
export async function cleanupAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
  await Promise.all([...tempDirs].map(removeTempDir));
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command to completion (registered for cleanup), killing it after `timeoutMs`. */
export async function run(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { timeoutMs: number },
): Promise<RunResult> {
  const p = new Proc(cmd.split("/").pop()!, cmd, args, { ...opts, collect: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    p.stop();
  }, opts.timeoutMs);
  const status = await p.exited;
  clearTimeout(timer);
  await p.stop(500); // reap leftovers, let the drains finish
  return { code: status.code, stdout: p.stdout, stderr: p.stderr, timedOut };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function signal(pid: number, sig: Deno.Signal) {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** True if /proc/PID exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

/** Map pid -> parent pid for every process visible in /proc. */
async function processTable(): Promise<Map<number, number>> {
  const table = new Map<number, number>();
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(e.name), Number(after[1]));
    } catch {
      // raced with exit
    }
  }
  return table;
}

/** All descendants of `pid` (children, grandchildren, ...), not including `pid`. */
export async function descendants(pid: number): Promise<number[]> {
  const table = await processTable();
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, parent] of table) {
      if (parent === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

/** VmRSS of one process in KiB (0 if it is gone). */
export async function rssKiB(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = status.match(/^VmRSS:\s+(\d+)\s+kB/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Sum of VmRSS (KiB) over the given roots and, if `tree`, all their descendants. */
export async function treeRssKiB(roots: number[], tree = true): Promise<number> {
  const pids = new Set(roots);
  if (tree) { for (const r of roots) for (const d of await descendants(r)) pids.add(d); }
  let sum = 0;
  for (const pid of pids) sum += await rssKiB(pid);
  return sum;
}

/** Clock ticks per second in /proc/<pid>/stat (CLK_TCK; 100 on every Linux we run on). */
const CLK_TCK = 100;

/**
 * CPU seconds of one process, all its threads, plus those of its children it has reaped
 * (utime + stime + cutime + cstime); NaN if it is gone or unreadable.
 */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    return statCpuSeconds(await Deno.readTextFile(`/proc/${pid}/stat`));
  } catch {
    return NaN;
  }
}

/** utime + stime + cutime + cstime of one `/proc/<pid>/stat` line, in seconds. */
export function statCpuSeconds(stat: string): number {
  // The command name (field 2) is in parentheses and may hold spaces and ")"; the fields after
  // it start with field 3 (state), so utime (field 14) is at index 11 of the rest.
  const f = stat.slice(stat.lastIndexOf(")") + 2).trim().split(" ");
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  if (!Number.isFinite(ticks)) throw new SyntaxError(`Cannot read CPU times from "${stat}"`);
  return ticks / CLK_TCK;
}

/**
 * Sum of {@linkcode cpuSeconds} over the given roots (NaN if one is gone) and all their live
 * descendants (one that ended meanwhile counts as 0: its parent reaps it into cutime/cstime).
 */
export async function treeCpuSeconds(roots: number[]): Promise<number> {
  let sum = 0;
  for (const root of roots) sum += await cpuSeconds(root);
  for (const root of roots) {
    for (const pid of await descendants(root)) sum += (await cpuSeconds(pid)) || 0;
  }
  return sum;
}
