/**
 * Apps a client (or a server) offers: parsing `--expose` specs and apps
 * files, and merging the lists they come from.
 *
 * @module
 */

import { type AppSpec, nameProblem, type OfferSpec } from "../protocol/mod.ts";

/**
 * Parses `host:port` or `[v6]:port`; throws a RangeError saying every thing
 * wrong with it once, e.g. `Invalid address ":99999" for app "web": no host,
 * and port 99999 is not in 1-65535 (expected host:port)`.
 */
export function parseAddress(text: string, app?: string): { host: string; port: number } {
  const trimmed = text.trim();
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(trimmed);
  const colon = trimmed.lastIndexOf(":");
  const [host, portText] = bracketed
    ? [bracketed[1], bracketed[2]]
    : colon < 0
    ? [trimmed, undefined]
    : [trimmed.slice(0, colon), trimmed.slice(colon + 1)];
  const problems: string[] = [];
  if (host === "") problems.push("no host");
  else if (/[\s\[\]]/.test(host) || (!bracketed && host.includes(":"))) {
    problems.push(`"${host}" is not a host (an IPv6 address goes in brackets: [::1]:80)`);
  }
  const port = Number(portText);
  if (portText === undefined || portText === "") problems.push("no port");
  else if (!/^\d+$/.test(portText)) problems.push(`port "${portText}" is not a number`);
  else if (port < 1 || port > 65535) problems.push(`port ${portText} is not in 1-65535`);
  if (problems.length > 0) {
    const of = app === undefined ? "" : ` for app "${app}"`;
    // The expected form helps where a part is missing; the other problems say what to fix.
    const form = problems.some((p) => p.startsWith("no ")) ? " (expected host:port)" : "";
    throw new RangeError(`Invalid address "${text}"${of}: ${problems.join(", and ")}${form}`);
  }
  return { host, port };
}

function checkName(name: string, spec: string): string {
  const problem = nameProblem(name);
  if (problem) throw new RangeError(`Invalid app name "${name}" in "${spec}": it ${problem}`);
  return name;
}

/**
 * Parses one `--expose` value. Accepted forms:
 * - `name=host:port` (preferred)
 * - `name=N,address=H:P` (the original wormhole form)
 * - `host:port` (named `host-port`)
 *
 * @throws {RangeError} naming what is wrong.
 */
export function parseExpose(spec: string): AppSpec {
  const text = spec.trim();
  if (text.includes(",")) {
    const fields = new Map<string, string>();
    for (const part of text.split(",")) {
      const eq = part.indexOf("=");
      if (eq < 0) throw new RangeError(`Invalid expose "${spec}": "${part}" is not key=value`);
      fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
    }
    const name = fields.get("name");
    const address = fields.get("address");
    if (!name || !address) {
      throw new RangeError(`Invalid expose "${spec}": needs name=… and address=…`);
    }
    return { name: checkName(name, spec), ...parseAddress(address, name) };
  }
  const eq = text.indexOf("=");
  if (eq >= 0) {
    const name = checkName(text.slice(0, eq).trim(), spec);
    return { name, ...parseAddress(text.slice(eq + 1), name) };
  }
  const address = parseAddress(text);
  const name = `${address.host}-${address.port}`.replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "");
  return { name: checkName(name, spec), ...address };
}

/** How an apps file is read. */
export interface AppsFileOptions {
  /**
   * Accept `peers: [edge-1, …]` on `{name, address}` items (the server's
   * file: offered to those peers only). A client's file has no peers.
   */
  peers?: boolean;
}

/**
 * Why the text is neither JSON nor YAML, on one line: js-yaml's message
 * quotes the lines around the mark below it, which would split a log line
 * or the one-line error of a failed start.
 */
function parseFailure(cause: unknown, skippedLines: number): string {
  const { reason, mark } = cause as { reason?: string; mark?: { line: number; column: number } };
  if (reason && mark) {
    return `${reason} (line ${skippedLines + mark.line + 1}, column ${mark.column + 1})`;
  }
  return (cause as Error).message;
}

/**
 * Parses the text of an apps file: a JSON or YAML list whose items are
 * `{name, address}` objects (with `peers` when `options.peers`) or
 * `--expose` strings.
 *
 * @throws {SyntaxError} when the text is not a list of apps.
 */
export async function parseAppsFile(
  text: string,
  source: string,
  options: AppsFileOptions = {},
): Promise<OfferSpec[]> {
  let data: unknown;
  const trimmed = text.trim();
  if (trimmed === "") return [];
  try {
    if (trimmed.startsWith("[") || trimmed.startsWith("{")) {
      data = JSON.parse(trimmed);
    } else {
      // Loaded lazily: most runs never read YAML.
      const yaml = await import("js-yaml");
      data = yaml.load(trimmed);
    }
  } catch (cause) {
    // The parser saw the text without its leading blank lines.
    const skipped = text.slice(0, text.length - text.trimStart().length).split("\n").length - 1;
    throw new SyntaxError(`Cannot parse ${source}: ${parseFailure(cause, skipped)}`, { cause });
  }
  if (data === null || data === undefined) return [];
  if (!Array.isArray(data)) throw new SyntaxError(`Cannot read ${source}: expected a list of apps`);
  const apps: OfferSpec[] = [];
  const seen = new Set<string>();
  for (const [index, item] of data.entries()) {
    let app: OfferSpec;
    try {
      if (typeof item === "string") {
        app = parseExpose(item);
      } else if (item && typeof item === "object" && "name" in item && "address" in item) {
        const { name, address } = item as { name: unknown; address: unknown };
        app = parseExpose(`name=${String(name)},address=${String(address)}`);
        if ("peers" in item) app = { ...app, peers: parsePeers(item.peers, options) };
      } else {
        throw new RangeError('expected {name, address} or "name=host:port"');
      }
    } catch (cause) {
      throw new SyntaxError(`Cannot read ${source}, item ${index}: ${(cause as Error).message}`, {
        cause,
      });
    }
    if (seen.has(app.name)) {
      throw new SyntaxError(`Cannot read ${source}: app "${app.name}" is listed twice`);
    }
    seen.add(app.name);
    apps.push(app);
  }
  return apps;
}

function parsePeers(peers: unknown, options: AppsFileOptions): string[] {
  if (!options.peers) throw new RangeError("peers: only a server's apps file offers to peers");
  if (!Array.isArray(peers) || peers.length === 0) {
    throw new RangeError("peers: expected a non-empty list of peer names");
  }
  return peers.map((peer) => {
    const problem = nameProblem(String(peer));
    if (problem) throw new RangeError(`peers: "${String(peer)}" ${problem}`);
    return String(peer);
  });
}

/**
 * Merges app lists, earlier lists first: an app whose name an earlier list
 * has is left out (`--expose` wins over the apps file, which wins over
 * Kubernetes).
 */
export function mergeApps<T extends AppSpec>(...lists: readonly (readonly T[])[]): T[] {
  const names = new Set<string>();
  const out: T[] = [];
  for (const list of lists) {
    const added = list.filter((app) => !names.has(app.name));
    for (const app of added) names.add(app.name);
    out.push(...added);
  }
  return out;
}

/** Watches an apps file by polling and reports each new valid content. */
export class AppsFileWatcher {
  #path: string;
  #intervalMs: number;
  #onChange: (apps: OfferSpec[]) => void;
  #onError: (error: Error) => void;
  #fileOptions: AppsFileOptions;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #last: string | null = null;
  #lastError: string | null = null;
  #stopped = false;
  #busy: Promise<void> = Promise.resolve();

  /** Creates a watcher; call {@linkcode AppsFileWatcher.load} first, then `start`. */
  constructor(
    path: string,
    options: AppsFileOptions & {
      intervalMs?: number;
      onChange: (apps: OfferSpec[]) => void;
      onError: (error: Error) => void;
    },
  ) {
    this.#fileOptions = { peers: options.peers };
    this.#path = path;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#onChange = options.onChange;
    this.#onError = options.onError;
  }

  /**
   * Reads and parses the file once.
   *
   * @throws {SyntaxError|Deno.errors.NotFound} when it cannot be read or parsed.
   */
  async load(): Promise<OfferSpec[]> {
    const text = await Deno.readTextFile(this.#path);
    const apps = await parseAppsFile(text, this.#path, this.#fileOptions);
    this.#last = text;
    return apps;
  }

  /** Starts polling for changes. */
  start(): void {
    this.#schedule();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#busy = this.#poll().finally(() => this.#schedule());
    }, this.#intervalMs);
  }

  async #poll(): Promise<void> {
    let text: string;
    try {
      text = await Deno.readTextFile(this.#path);
    } catch (error) {
      // Keep the apps we have; say so once, not every second.
      this.#report(error as Error);
      return;
    }
    if (text === this.#last) return;
    this.#last = text;
    let apps: OfferSpec[];
    try {
      apps = await parseAppsFile(text, this.#path, this.#fileOptions);
    } catch (error) {
      this.#report(error as Error);
      return;
    }
    this.#lastError = null;
    this.#onChange(apps);
  }

  #report(error: Error): void {
    if (error.message === this.#lastError) return;
    this.#lastError = error.message;
    this.#onError(error);
  }

  /** Stops polling and waits for a read in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#busy;
  }
}
