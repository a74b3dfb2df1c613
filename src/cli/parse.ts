/**
 * Parsers for flag values. Each throws `InvalidArgumentError` with a message
 * that, together with commander's prefix, names the flag and the value.
 *
 * @module
 */

import { InvalidArgumentError } from "commander";
import { parseAddress, parseExpose } from "../client/mod.ts";
import { parseFingerprint } from "../crypto/mod.ts";
import { type AppSpec, nameProblem } from "../protocol/mod.ts";
import type { PortRange } from "../server/mod.ts";

/** A TCP port, 0 to 65535 (0: OS-chosen). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value.trim()) || port > 65535) {
    throw new InvalidArgumentError(`Port ${value} is not in 0-65535.`);
  }
  return port;
}

/** Returns a parser of whole numbers within `[min, max]`. */
export function parseCount(min: number, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** `FROM-TO`, both ports 1-65535, FROM ≤ TO. */
export function parsePortRange(value: string): PortRange {
  const match = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(value);
  if (!match) throw new InvalidArgumentError(`Expected FROM-TO, e.g. 30000-30499.`);
  const from = Number(match[1]);
  const to = Number(match[2]);
  if (from < 1 || to > 65535 || from > to) {
    throw new InvalidArgumentError(`Range ${from}-${to} is not within 1-65535 or is reversed.`);
  }
  return { from, to };
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration: `500ms`, `15s`, `2m`, `1h`, or a plain number of seconds. Returns ms. */
export function parseDuration(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(value);
  if (!match) throw new InvalidArgumentError(`Expected a duration such as 500ms, 15s or 2m.`);
  const ms = Number(match[1]) * DURATION_UNITS[match[2] ?? "s"];
  if (!(ms > 0) || ms > 86_400_000) {
    throw new InvalidArgumentError(`Duration must be above 0 and at most 24h.`);
  }
  return Math.round(ms);
}

/** How long a denial lasts: `0` (for good), or `30m`, `24h`, `7d`, up to 3650 days. Returns ms. */
export function parseDenyFor(value: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(value);
  if (!match) {
    throw new InvalidArgumentError(`Expected 0 (for good) or a duration such as 24h or 7d.`);
  }
  const ms = Number(match[1]) * (match[2] === "d" ? 86_400_000 : DURATION_UNITS[match[2] ?? "s"]);
  if (ms > 3650 * 86_400_000) throw new InvalidArgumentError(`Duration must be at most 3650d.`);
  return Math.round(ms);
}

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1 << 20,
  mb: 1 << 20,
  mib: 1 << 20,
};

/** A byte size: `65536`, `64KiB`, `1MiB`. */
export function parseSize(value: string): number {
  const match = /^\s*(\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = match ? SIZE_UNITS[match[2].toLowerCase()] : undefined;
  if (!match || unit === undefined) {
    throw new InvalidArgumentError(`Expected a size such as 65536, 64KiB or 1MiB.`);
  }
  return Number(match[1]) * unit;
}

/** Returns a parser of sizes within `[min, max]`. */
export function sizeIn(min: number, max: number): (value: string) => number {
  return (value) => {
    const size = parseSize(value);
    if (size < min || size > max) {
      throw new InvalidArgumentError(`Size must be between ${min} and ${max} bytes.`);
    }
    return size;
  };
}

/** A ws:// or wss:// URL. */
export function parseTunnelUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`Expected a ws:// or wss:// URL.`);
  }
  if (url.protocol !== "ws:" && url.protocol !== "wss:") {
    throw new InvalidArgumentError(`Scheme ${url.protocol} is not ws: or wss:.`);
  }
  return url.href;
}

/** An http:// or https:// base URL. */
export function parseHttpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`Expected an http:// or https:// URL.`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new InvalidArgumentError(`Scheme ${url.protocol} is not http: or https:.`);
  }
  return url.href.replace(/\/+$/, "");
}

/** A URL path starting with `/`. */
export function parsePath(value: string): string {
  if (!/^\/[\x21-\x7e]*$/.test(value)) {
    throw new InvalidArgumentError(`Expected a path starting with "/".`);
  }
  return value;
}

/** A peer name. */
export function parseName(value: string): string {
  const problem = nameProblem(value);
  if (problem) throw new InvalidArgumentError(`The name ${problem}.`);
  return value;
}

/** A host name or IP address to bind or dial. */
export function parseHost(value: string): string {
  const host = value.trim().replace(/^\[(.*)\]$/, "$1");
  if (host === "" || /[\s/]/.test(host)) throw new InvalidArgumentError(`Expected a host or IP.`);
  return host;
}

/** A comma list of DNS names (the admin API's `--admin-hosts`), lower-cased. */
export function parseHostNames(value: string): string[] {
  const names = value.split(",").map((name) => name.trim().toLowerCase()).filter(Boolean);
  const bad = names.find((name) =>
    name.length > 253 ||
    !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name)
  );
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not a DNS name.`);
  if (names.length === 0) throw new InvalidArgumentError(`Expected one or more DNS names.`);
  return names;
}

/**
 * Accumulates `--expose` values. One value may hold several specs separated
 * by `;` or newlines (handy in `WORMHOLE_EXPOSE`).
 */
export function collectExpose(value: string, previous: AppSpec[] | undefined): AppSpec[] {
  const out = [...(previous ?? [])];
  for (const spec of value.split(/[;\n]+/).map((s) => s.trim()).filter(Boolean)) {
    let app: AppSpec;
    try {
      app = parseExpose(spec);
    } catch (error) {
      throw new InvalidArgumentError(`${(error as Error).message}.`);
    }
    if (out.some((other) => other.name === app.name)) {
      throw new InvalidArgumentError(`App "${app.name}" is given to --expose twice.`);
    }
    out.push(app);
  }
  return out;
}

/** A `host:port` address. */
export function parseHostPort(value: string): { host: string; port: number } {
  try {
    return parseAddress(value);
  } catch (error) {
    throw new InvalidArgumentError(`${(error as Error).message}.`);
  }
}

const BOOLEANS = new Map([
  ...["true", "1", "yes", "on"].map((word) => [word, true] as const),
  ...["false", "0", "no", "off"].map((word) => [word, false] as const),
]);

/**
 * A boolean as an environment variable gives it: true/false, 1/0, yes/no or
 * on/off, in any case, surrounding space ignored. Anything else, the empty
 * string included, is an error: a typo must not turn a safeguard off.
 */
export function parseBoolean(value: string): boolean {
  const parsed = BOOLEANS.get(value.trim().toLowerCase());
  if (parsed === undefined) {
    throw new InvalidArgumentError(`Expected true/false, 1/0, yes/no or on/off.`);
  }
  return parsed;
}

/**
 * One or more server fingerprints separated by commas (several during a key
 * rotation); each is checked, and an error names the one that is not a
 * fingerprint.
 */
export function parseFingerprints(value: string): string[] {
  const entries = value.split(",").map((entry) => entry.trim()).filter(Boolean);
  if (entries.length === 0) throw new InvalidArgumentError(`Expected fingerprints, e.g. fp1,fp2.`);
  const out = entries.map((entry, i) => {
    try {
      return parseFingerprint(entry);
    } catch (error) {
      throw new InvalidArgumentError(
        `${(error as Error).message} (entry ${i + 1} of ${entries.length}).`,
      );
    }
  });
  return [...new Set(out)];
}

/** Returns a parser accepting only `choices`. */
export function oneOf<T extends string>(choices: readonly T[]): (value: string) => T {
  return (value) => {
    if (!(choices as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`Expected one of: ${choices.join(", ")}.`);
    }
    return value as T;
  };
}

/** `$XDG_STATE_HOME/wormhole`, else `~/.local/state/wormhole`. */
export function defaultStateDir(): string {
  const xdg = Deno.env.get("XDG_STATE_HOME");
  if (xdg) return `${xdg}/wormhole`;
  const home = Deno.env.get("HOME") ?? ".";
  return `${home}/.local/state/wormhole`;
}
