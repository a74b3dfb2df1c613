/**
 * `--watch`: print a list, then print it again whenever the server reports
 * a change or a traffic sample over `/v1/events` (no polling), until Ctrl-C.
 *
 * @module
 */

import type { AdminClient } from "../admin/mod.ts";

/** Clears a terminal and moves the cursor home. */
const CLEAR = "\x1b[H\x1b[2J";

/**
 * Prints `draw()` now and after each event while it changes. On a terminal
 * each print replaces the last; otherwise prints follow each other, a blank
 * line apart (JSON: one compact document per line).
 */
export async function watch(options: {
  /** Its requests must be aborted by `signal` (`new AdminClient(url, { signal })`). */
  client: AdminClient;
  draw: () => Promise<string>;
  signal: AbortSignal;
  terminal: boolean;
  write: (text: string) => void;
  separator: string;
}): Promise<void> {
  const { client, signal, terminal, write } = options;
  // `draw` fetches with the client, whose requests `signal` aborts: that ends the watch.
  const draw = () =>
    options.draw().catch((error) => {
      if (signal.aborted) return null;
      throw error;
    });
  let last = await draw();
  if (last === null) return;
  write((terminal ? CLEAR : "") + last + "\n");
  for await (const _event of client.events(signal)) {
    const next = await draw();
    if (next === null) return;
    if (next === last) continue;
    last = next;
    write((terminal ? CLEAR : options.separator) + next + "\n");
  }
}

/** An abort signal that fires on SIGINT or SIGTERM; call `dispose` when done. */
export function interruptSignal(): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const stop = () => abort.abort();
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  for (const name of signals) Deno.addSignalListener(name, stop);
  return {
    signal: abort.signal,
    dispose: () => signals.forEach((name) => Deno.removeSignalListener(name, stop)),
  };
}
