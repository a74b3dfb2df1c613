/**
 * Runs real `wormhole` processes and reads their JSON log lines. Used by the
 * demo, the benchmarks and the end-to-end tests. Every process started here
 * must be stopped with `stop()` (or `await using`).
 *
 * @module
 */

const ROOT = new URL("../../", import.meta.url).pathname;

/** The program under test: the single-file bundle when `WORMHOLE_BUNDLE` names it, else mod.ts. */
export const ENTRY = Deno.env.get("WORMHOLE_BUNDLE") ?? `${ROOT}mod.ts`;

/**
 * The V8 flags every way of running wormhole uses (deno.json tasks, the
 * compiled binary, the Dockerfile, the tests, the bench; see "Memory" in
 * docs/architecture.md): a small young generation, so that the data path's
 * short-lived buffers are freed early, a 64 MiB floor under the heap
 * limit, so that a full collection does not run every few MiB of buffers,
 * and `gc()`, with which the data path collects its buffers every few MiB
 * (`src/crypto/collector.ts`).
 */
export const V8_FLAGS =
  "--v8-flags=--max-semi-space-size=1,--initial-heap-size=64,--expose-gc,--no-concurrent-array-buffer-sweeping";

/**
 * The environment every way of running wormhole sets (deno.json's task,
 * `./wormhole`, the Dockerfile, the tests, the bench and the chaos suite;
 * see "Memory" in docs/architecture.md): glibc's malloc keeps at most two
 * arenas. Web Crypto runs on a pool of threads, and by default glibc gives
 * threads up to 8 arenas per core, each keeping memory it has freed: after
 * the same churn a client's RSS was 2 % above its start in one run and 19 %
 * in another; with two arenas that is bounded.
 */
export const RUNTIME_ENV: Readonly<Record<string, string>> = { MALLOC_ARENA_MAX: "2" };

/** How the program is run: the V8 flags and its permissions. */
export const PERMISSIONS = [
  V8_FLAGS,
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  // glibc's malloc_trim, and nothing else (src/memory/malloc_trim.ts).
  "--allow-ffi",
];

/**
 * The arguments of `wormhole server` on loopback with OS-chosen tunnel and
 * admin ports, JSON logs and its own state directory: what tests, the demo
 * and the bench start. `extra` comes last, so it may add to or repeat any.
 */
export function loopbackServerArgs(stateDir: string, extra: string[] = []): string[] {
  const port = extra.includes("--port") ? [] : ["--port", "0"];
  return [
    "server",
    "--host",
    "127.0.0.1",
    ...port,
    "--admin-port",
    "0",
    "--log-format",
    "json",
    "--state-dir",
    stateDir,
    ...extra,
  ];
}

/** One JSON log line. */
export type LogLine = Record<string, unknown> & { msg: string; level: string };

/** A running wormhole process. */
export class WormholeProcess {
  readonly child: Deno.ChildProcess;
  readonly logs: LogLine[] = [];
  /** Lines on stderr that were not JSON (stack traces, runtime warnings). */
  readonly rawStderr: string[] = [];
  readonly stdout: string[] = [];
  #waiters: { predicate: (line: LogLine) => boolean; resolve: (line: LogLine) => void }[] = [];
  #readers: Promise<void>;
  #status: Promise<Deno.CommandStatus>;

  /**
   * @param args The program's arguments.
   * @param env Added to this process's environment, after {@linkcode RUNTIME_ENV}.
   * @param entry The program: mod.ts or the bundle.
   * @param launcher A command line the `deno run …` command line is appended to, e.g. to run
   *   it in other namespaces as another user (tests/deploy/kubelet); it must exec it, so that
   *   `pid` and signals reach the program.
   * @param runtime The deno executable (a copy the launcher's sandbox can see, for example).
   */
  constructor(
    readonly args: string[],
    env?: Record<string, string>,
    entry: string = ENTRY,
    launcher: readonly string[] = [],
    runtime: string = Deno.execPath(),
  ) {
    const [program, ...prefix] = [...launcher, runtime];
    this.child = new Deno.Command(program, {
      args: [...prefix, "run", ...PERMISSIONS, entry, ...args],
      env: { NO_COLOR: "1", ...RUNTIME_ENV, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#readers = Promise.all([
      this.#readLines(this.child.stderr, (line) => this.#onStderr(line)),
      this.#readLines(this.child.stdout, (line) => this.stdout.push(line)),
    ]).then(() => {});
    this.#status = this.child.status;
  }

  get pid(): number {
    return this.child.pid;
  }

  async #readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let nl;
      while ((nl = rest.indexOf("\n")) >= 0) {
        onLine(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
      }
    }
    if (rest) onLine(rest);
  }

  #onStderr(text: string): void {
    let line: LogLine;
    try {
      line = JSON.parse(text);
      if (typeof line !== "object" || line === null || typeof line.msg !== "string") throw 0;
    } catch {
      this.rawStderr.push(text);
      return;
    }
    this.logs.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.predicate(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /** Resolves with the first log line (past or future) matching `predicate`. */
  waitForLog(
    predicate: string | ((line: LogLine) => boolean),
    timeoutMs = 20_000,
  ): Promise<LogLine> {
    const test = typeof predicate === "string"
      ? (line: LogLine) => line.msg === predicate
      : predicate;
    const found = this.logs.find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(
          new Error(
            `No log line matching ${predicate} within ${timeoutMs} ms. Logs:\n${this.dump()}`,
          ),
        );
      }, timeoutMs);
      const done = (line: LogLine) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.#waiters.push({ predicate: test, resolve: done });
      this.#status.then(() => {
        // The process ended: no more lines will come.
        if (this.#waiters.some((w) => w.resolve === done)) {
          this.#readers.then(() => {
            const late = this.logs.find(test);
            if (late) return done(late);
            clearTimeout(timer);
            this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
            reject(new Error(`Process exited before logging ${predicate}. Logs:\n${this.dump()}`));
          });
        }
      });
    });
  }

  /** All output, for failure messages. */
  dump(): string {
    return [...this.logs.map((l) => JSON.stringify(l)), ...this.rawStderr, ...this.stdout].join(
      "\n",
    );
  }

  /** Resident set size in KiB (reading /proc directly would need --allow-all). */
  async rssKiB(): Promise<number> {
    const output = await new Deno.Command("ps", { args: ["-o", "rss=", "-p", String(this.pid)] })
      .output();
    return Number(new TextDecoder().decode(output.stdout).trim());
  }

  /** Sends `signal` without waiting. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // Already gone.
    }
  }

  /** Resolves with the exit status once the process and its output are done. */
  async exited(): Promise<Deno.CommandStatus> {
    const status = await this.#status;
    await this.#readers;
    return status;
  }

  /** Stops the process (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  async stop(): Promise<Deno.CommandStatus> {
    this.kill("SIGTERM");
    const timer = setTimeout(() => this.kill("SIGKILL"), 5000);
    try {
      return await this.exited();
    } finally {
      clearTimeout(timer);
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }
}

/** Runs `wormhole ARGS` to completion. */
export async function runWormhole(
  args: string[],
  env?: Record<string, string>,
  entry: string = ENTRY,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, entry, ...args],
    env: { NO_COLOR: "1", ...RUNTIME_ENV, ...env },
    stdin: "null",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}
