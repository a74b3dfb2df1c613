/**
 * Names and labels: proxy Service names (DNS-1035, hashed when too long),
 * label-safe values, app names derived from Services, `k=v` label lists.
 *
 * @module
 */

import { MAX_NAME_LENGTH, nameProblem } from "../protocol/mod.ts";

/** Longest DNS-1035 label (Service and NetworkPolicy names). */
export const MAX_DNS_LABEL = 63;
/** Hex digits of SHA-256 appended to a cut name. */
const HASH_DIGITS = 8;
/** Prefix of names that would not start with a letter. */
const LETTER_PREFIX = "wh-";

const DNS_1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const LABEL_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const DNS_1123_SUBDOMAIN =
  /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/** True when `name` is a valid DNS-1035 label (what Service names must be). */
export function isDns1035(name: string): boolean {
  return name.length <= MAX_DNS_LABEL && DNS_1035.test(name);
}

/** Lower-case hex SHA-256 of `text` (UTF-8), by Web Crypto. */
export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The name of the proxy Service (and NetworkPolicy) of `app` offered by
 * `peer`, always a valid DNS-1035 label:
 *
 * - `<peer>-<app>` itself when it already is one (lower case, `[a-z0-9-]`,
 *   starting with a letter, at most 63 characters);
 * - when it is only too long: its first 54 characters, `-`, and the first 8
 *   hex digits of the SHA-256 of the full `<peer>-<app>` (as every earlier
 *   version named it);
 * - otherwise {@linkcode hashedServiceName}. So a name that cleaning would
 *   change (`Edge-1`, `edge.1`, `edge_1`) never gets the plain name of
 *   another pair (`edge-1`): a peer cannot squat a Service by spelling.
 *
 * Two valid pairs can still spell the same text (`edge` + `1-web` and
 * `edge-1` + `web`): the proxy Service controller gives the later one its
 * hashed name, and never takes over a Service another pair owns.
 *
 * @example
 * ```ts
 * import { proxyServiceName } from "./names.ts";
 * console.log(await proxyServiceName("edge-1", "web")); // "edge-1-web"
 * ```
 */
export async function proxyServiceName(peer: string, app: string): Promise<string> {
  const plain = `${peer}-${app}`;
  if (isDns1035(plain)) return plain;
  if (!/^[a-z][a-z0-9-]*$/.test(plain)) return await hashedServiceName(peer, app);
  const hash = (await sha256Hex(plain)).slice(0, HASH_DIGITS);
  return `${plain.slice(0, MAX_DNS_LABEL - HASH_DIGITS - 1)}-${hash}`;
}

/**
 * The name of the proxy Service of (`peer`, `app`) that no other pair can
 * have (but by a SHA-256 collision in 32 bits): `<peer>-<app>` lower-cased,
 * every character outside `[a-z0-9-]` replaced by `-`, prefixed with `wh-`
 * unless it starts with a letter, cut to 54 characters, then `-` and the
 * first 8 hex digits of the SHA-256 of `<peer>\0<app>` (NUL cannot occur in
 * either name, so the pair is hashed unambiguously). Always a DNS-1035 label.
 */
export async function hashedServiceName(peer: string, app: string): Promise<string> {
  let base = `${peer}-${app}`.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  if (!/^[a-z]/.test(base)) base = LETTER_PREFIX + base;
  const hash = (await sha256Hex(`${peer}\0${app}`)).slice(0, HASH_DIGITS);
  return `${base.slice(0, MAX_DNS_LABEL - HASH_DIGITS - 1)}-${hash}`;
}

/**
 * `text` as a label value: characters outside `[A-Za-z0-9._-]` become `-`,
 * cut to 63, and leading or trailing non-alphanumerics dropped (so possibly
 * empty, which is a valid label value).
 */
export function labelValue(text: string): string {
  return text.replace(/[^A-Za-z0-9._-]/g, "-").slice(0, 63).replace(/^[^A-Za-z0-9]+/, "")
    .replace(/[^A-Za-z0-9]+$/, "");
}

/**
 * An app name made from free text (a Service's name annotation, or
 * `<namespace>-<service>[-<port>]`): lower-cased, characters outside
 * `[a-z0-9._-]` replaced by `-`, cut to 63, leading and trailing `-`, `.`, `_`
 * dropped. Returns `null` when nothing valid is left.
 */
export function sanitizeAppName(text: string): string | null {
  const name = text.toLowerCase().replace(/[^a-z0-9._-]/g, "-").slice(0, MAX_NAME_LENGTH)
    .replace(/^[^a-z0-9]+/, "").replace(/[^a-z0-9]+$/, "");
  return nameProblem(name) === null ? name : null;
}

/** Why `key` is not a valid label key, or `null`. */
export function labelKeyProblem(key: string): string | null {
  const slash = key.lastIndexOf("/");
  const prefix = slash < 0 ? "" : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0 && (prefix.length > 253 || !DNS_1123_SUBDOMAIN.test(prefix))) {
    return `label key "${key}" has an invalid prefix (a DNS subdomain is expected)`;
  }
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name)) {
    return `label key "${key}" is not 1-63 letters, digits, '-', '_', '.' with alphanumeric ends`;
  }
  return null;
}

/** Why `value` is not a valid label value, or `null`. */
export function labelValueProblem(value: string): string | null {
  return value.length <= 63 && LABEL_VALUE.test(value)
    ? null
    : `label value "${value}" is not 0-63 letters, digits, '-', '_', '.' with alphanumeric ends`;
}

/**
 * Parses `k=v,k2=v2` (spaces around items trimmed) into labels.
 *
 * @throws {RangeError} naming the first bad item.
 */
export function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const item of text.split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    if (eq < 0) throw new RangeError(`"${item}" is not key=value`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const problem = labelKeyProblem(key) ?? labelValueProblem(value);
    if (problem) throw new RangeError(problem);
    if (key in labels) throw new RangeError(`label "${key}" is given twice`);
    labels[key] = value;
  }
  if (Object.keys(labels).length === 0) throw new RangeError("no labels given");
  return labels;
}
