/**
 * The listener port each (peer, app) had, kept in a state document so that
 * after a restart a pair gets its port back when it is free: the server's
 * (entry `ports.json`, the ports of its peers' apps) and the client's (entry
 * `offered-ports.json`, the ports of the apps the server offers it, under
 * the server's name).
 *
 * @module
 */

import { type Logger, silentLogger } from "../log/mod.ts";
import type { StateStore } from "../state/mod.ts";
import type { PortBook } from "./port_allocator.ts";

/** Entry of the server's state holding the port assignments. */
export const PORTS_ENTRY = "ports.json";

/** Entry of the client's state holding the ports of the apps offered to it. */
export const OFFERED_PORTS_ENTRY = "offered-ports.json";

/**
 * Assignments kept per peer (on a client: the server): the most recently
 * assigned. Apps that come and go must not grow the state (a Secret holds at
 * most 1 MiB) without end; twice the default `--max-apps` keeps every live
 * app's port and many gone ones'.
 */
export const MAX_PORTS_PER_PEER = 512;

/** One stored assignment. */
interface Assignment {
  peer: string;
  app: string;
  port: number;
}

/** The pair key the allocator uses: peer and app, joined by a NUL. */
export function pairKey(peer: string, app: string): string {
  return `${peer}\0${app}`;
}

/** Port assignments in a process's state; an unreadable entry counts as empty (logged). */
export class PortAssignments implements PortBook {
  #state: StateStore;
  #entry: string;
  #log: Logger;
  #parsed: { text: string | undefined; ports: Map<string, number> } | null = null;
  #writes = new Set<Promise<unknown>>();

  /** Assignments kept in `state`, in `entry` (default {@linkcode PORTS_ENTRY}). */
  constructor(state: StateStore, options?: { logger?: Logger; entry?: string }) {
    this.#state = state;
    this.#entry = options?.entry ?? PORTS_ENTRY;
    this.#log = options?.logger ?? silentLogger;
  }

  #ports(): Map<string, number> {
    const text = this.#state.get(this.#entry);
    if (this.#parsed && this.#parsed.text === text) return this.#parsed.ports;
    let ports = new Map<string, number>();
    try {
      ports = parsePorts(text, this.#state.describe(this.#entry));
    } catch (error) {
      // Ports are a convenience: a damaged entry must not keep apps from being listened for.
      this.#log.warn("ignoring the stored port assignments", { error });
    }
    this.#parsed = { text, ports };
    return ports;
  }

  /** The port `key` had last. */
  get(key: string): number | undefined {
    return this.#ports().get(key);
  }

  /** Every pair's port. */
  entries(): Iterable<[string, number]> {
    return this.#ports().entries();
  }

  /** Records `port` for `key` in the state (in the background; failures are logged). */
  set(key: string, port: number): void {
    if (this.get(key) === port) return;
    this.#change((ports) => {
      if (ports.get(key) === port) return false;
      ports.delete(key); // the map's order is recency: the oldest of a peer go first
      ports.set(key, port);
      const peer = `${key.split("\0")[0]}\0`;
      const mine = [...ports.keys()].filter((other) => other.startsWith(peer));
      for (const old of mine.slice(0, Math.max(0, mine.length - MAX_PORTS_PER_PEER))) {
        ports.delete(old);
      }
      return true;
    });
  }

  /** Forgets every port of `peer` (it was revoked). */
  forgetPeer(peer: string): void {
    this.#change((ports) => {
      let changed = false;
      for (const key of [...ports.keys()]) {
        if (key.startsWith(`${peer}\0`)) changed = ports.delete(key) || changed;
      }
      return changed;
    });
  }

  /** Waits for the writes started so far. */
  async flush(): Promise<void> {
    while (this.#writes.size > 0) await Promise.all([...this.#writes]);
  }

  #change(edit: (ports: Map<string, number>) => boolean): void {
    const where = this.#state.describe(this.#entry);
    const entry = this.#entry;
    const write = this.#state.update((entries) => {
      let ports: Map<string, number>;
      try {
        ports = parsePorts(entries[entry], where);
      } catch {
        ports = new Map();
      }
      if (!edit(ports)) return undefined;
      // Stored oldest first, so that the order (recency) survives a restart.
      const list: Assignment[] = [...ports].map(([key, port]) => {
        const [peer, app] = key.split("\0");
        return { peer, app, port };
      });
      return { [entry]: JSON.stringify({ version: 1, ports: list }, null, 2) + "\n" };
    }).catch((error) => this.#log.warn("cannot store the port assignments", { error }))
      .finally(() => this.#writes.delete(write));
    this.#writes.add(write);
  }
}

function parsePorts(text: string | undefined, where: string): Map<string, number> {
  const out = new Map<string, number>();
  if (text === undefined) return out;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new SyntaxError(`Cannot read ${where}: not JSON`, { cause });
  }
  const ports = (data as { ports?: unknown })?.ports;
  if (!Array.isArray(ports)) {
    throw new SyntaxError(`Cannot read ${where}: expected {"ports": [...]}`);
  }
  for (const entry of ports as Assignment[]) {
    if (
      typeof entry?.peer !== "string" || typeof entry.app !== "string" ||
      !Number.isInteger(entry.port) || entry.port < 1 || entry.port > 65535
    ) {
      throw new SyntaxError(`Cannot read ${where}: an assignment lacks peer, app or port`);
    }
    out.set(pairKey(entry.peer, entry.app), entry.port);
  }
  return out;
}
