/**
 * Label and field selectors as the API server accepts them in `labelSelector` and
 * `fieldSelector` query parameters.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";
import { badRequest } from "./status.ts";

/** A compiled selector: tells whether an object matches. */
export type Selector = (obj: KubeObject) => boolean;

/** Matches every object. */
export const EVERYTHING: Selector = (): boolean => true;

function splitTerms(source: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let current = "";
  for (const ch of source) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      terms.push(current.trim());
      current = "";
    } else {
      current += ch;
    }
  }
  if (current.trim() !== "" || terms.length > 0) terms.push(current.trim());
  return terms.filter((t) => t !== "");
}

type Requirement = (labels: Record<string, string>) => boolean;

function parseRequirement(term: string): Requirement {
  let m = /^([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(term);
  if (m !== null) {
    const [, key, op, list] = m;
    const values = new Set(list.split(",").map((v) => v.trim()));
    return op === "in"
      ? (l) => key in l && values.has(l[key])
      : (l) => !(key in l) || !values.has(l[key]);
  }
  m = /^([^\s!=]+)\s*(==|=|!=)\s*([^\s!=]*)$/.exec(term);
  if (m !== null) {
    const [, key, op, value] = m;
    return op === "!=" ? (l) => l[key] !== value : (l) => l[key] === value;
  }
  m = /^!\s*([^\s!=]+)$/.exec(term);
  if (m !== null) {
    const key = m[1];
    return (l) => !(key in l);
  }
  m = /^([^\s!=()]+)$/.exec(term);
  if (m !== null) {
    const key = m[1];
    return (l) => key in l;
  }
  throw badRequest(`unable to parse requirement: invalid label selector term "${term}"`);
}

/**
 * Compiles a label selector: comma-joined `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`,
 * `k notin (a,b)`.
 *
 * @param source The `labelSelector` parameter, or `null`.
 * @returns The selector.
 * @throws {KubeStatusError} 400 BadRequest for unparsable input.
 */
export function parseLabelSelector(source: string | null): Selector {
  if (source === null || source.trim() === "") return EVERYTHING;
  const requirements = splitTerms(source).map(parseRequirement);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return requirements.every((r) => r(labels));
  };
}

const FIELD_GETTERS: Record<string, (obj: KubeObject) => string> = {
  "metadata.name": (obj) => obj.metadata.name,
  "metadata.namespace": (obj) => obj.metadata.namespace ?? "",
};

/**
 * Compiles a field selector over `metadata.name` and `metadata.namespace`: comma-joined
 * `f=v`, `f==v`, `f!=v`.
 *
 * @param source The `fieldSelector` parameter, or `null`.
 * @returns The selector.
 * @throws {KubeStatusError} 400 BadRequest for unparsable input or unsupported fields.
 */
export function parseFieldSelector(source: string | null): Selector {
  if (source === null || source.trim() === "") return EVERYTHING;
  const tests = splitTerms(source).map((term): Selector => {
    const m = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (m === null) throw badRequest(`invalid field selector: "${term}"`);
    const [, field, op, value] = m;
    const get = FIELD_GETTERS[field];
    if (get === undefined) {
      throw badRequest(`field label not supported: ${field}`);
    }
    return op === "!=" ? (o) => get(o) !== value : (o) => get(o) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}
