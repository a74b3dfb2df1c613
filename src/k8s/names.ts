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
 * `peer`: `<peer>-<app>` lower-cased, every character outside `[a-z0-9-]`
 * replaced by `-`, prefixed with `wh-` unless it starts with a letter. A
 * result longer than 63 characters is cut to 54 and suffixed with `-` and the
 * first 8 hex digits of the SHA-256 of the full `<peer>-<app>`, so the same
 * pair always gets the same name and different long pairs almost surely
 * different ones. The result is always a valid DNS-1035 label.
 */
export async function proxyServiceName(peer: string, app: string): Promise<string> {
  const full = `${peer}-${app}`;
  let name = full.toLowerCase().replace(/[^a-z0-9-]/g, "-");
  if (!/^[a-z]/.test(name)) name = LETTER_PREFIX + name;
  if (isDns1035(name)) return name;
  const hash = (await sha256Hex(full)).slice(0, HASH_DIGITS);
  return `${name.slice(0, MAX_DNS_LABEL - HASH_DIGITS - 1)}-${hash}`;
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
