/**
 * `Deno.serve` that outlives a failed accept. When the process runs out of
 * file descriptors, the runtime's accept loop fails, `finished` rejects and,
 * unhandled, ends the process ("Too many open files"): a flood on the tunnel
 * port would take the whole server down through the admin port. Here the
 * failure is reported and the server started again on the same port once
 * descriptors are free.
 *
 * @module
 */

/** Pauses before starting again: from the first to the longest. */
const RESTART_MS = [50, 1000] as const;

/** Options of {@linkcode serveRestarting}. */
export interface RestartingServeOptions {
  /** Interface to bind. */
  hostname: string;
  /** Port to bind; 0 lets the OS choose (restarts keep the chosen one). */
  port: number;
  /** Aborting stops the server for good. */
  signal: AbortSignal;
  /** Answers requests. */
  handler: (request: Request) => Response | Promise<Response>;
  /** The server failed and starts again after `retryMs`. */
  onRestart?: (error: Error, retryMs: number) => void;
}

/** A running server: its address and when it stopped for good. */
export interface RestartingServer {
  /** Bound address. */
  addr: Deno.NetAddr;
  /** Resolves when the server has stopped after its signal aborted. */
  finished: Promise<void>;
}

/**
 * Starts `Deno.serve`; resolves once it listens.
 *
 * @throws whatever the first `Deno.serve` throws (e.g. the port is taken).
 */
export function serveRestarting(options: RestartingServeOptions): Promise<RestartingServer> {
  const first = Promise.withResolvers<Deno.NetAddr>();
  let started = false;
  const finished = (async () => {
    let port = options.port;
    let retryMs: number = RESTART_MS[0];
    while (!options.signal.aborted) {
      try {
        const listening = Promise.withResolvers<Deno.NetAddr>();
        const server = Deno.serve({
          hostname: options.hostname,
          port,
          signal: options.signal,
          onListen: listening.resolve,
        }, options.handler);
        const addr = await listening.promise;
        port = addr.port;
        if (!started) first.resolve(addr);
        started = true;
        await server.finished;
        retryMs = RESTART_MS[0];
      } catch (error) {
        if (!started) {
          first.reject(error);
          return;
        }
        if (options.signal.aborted) return;
        options.onRestart?.(error as Error, retryMs);
        await pause(retryMs, options.signal);
        retryMs = Math.min(retryMs * 2, RESTART_MS[1]);
      }
    }
  })();
  return first.promise.then((addr) => ({ addr, finished }));
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}
