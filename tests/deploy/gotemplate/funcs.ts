/**
 * The functions Helm charts call: Go's built-ins (`and`, `or`, `not`, `eq`,
 * `index`, `len`, `printf` …), the Sprig functions charts commonly use
 * (`default`, `quote`, `trunc`, `nindent`, `b64enc`, `randAlphaNum` …) and
 * Helm's own (`toYaml`, `required`, `fail`, `include`, `lookup`), each with
 * the argument order and edge cases of the original.
 *
 * @module
 */

import yaml from "js-yaml";
import type { FunctionMap, LazyFunction } from "./exec.ts";
import { goQuote, isMap, printValue, truth, typeName, type Value } from "./values.ts";

/** What the Helm functions need from the renderer. */
export interface HelmContext {
  /** Renders a named template (`include`). */
  include(name: string, data: Value): string;
  /** `lookup apiVersion kind namespace name`: the object, a `{items: […]}` list, or `{}`. */
  lookup(apiVersion: string, kind: string, namespace: string, name: string): Value;
}

/** Sprig's `empty`: nil, false, 0, and an empty string, array or map. */
export function empty(value: Value): boolean {
  return !truth(value);
}

/** Sprig's `strval`: how functions taking strings see any value. */
function strval(value: Value): string {
  if (typeof value === "string") return value;
  if (value === undefined || value === null) return "<nil>";
  return printValue(value);
}

function toInt(value: Value): number {
  if (typeof value === "number") return Math.trunc(value);
  if (typeof value === "string" && /^[+-]?\d+$/.test(value.trim())) return Number(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  return 0;
}

/** Go's `fmt.Sprintf` for the verbs templates use: %s %d %v %q %t %f and %%. */
export function sprintf(format: string, ...args: Value[]): string {
  let next = 0;
  const out = format.replace(
    /%([-+# 0]*)(\d*)(?:\.(\d+))?([a-zA-Z%])/g,
    (all, _flags, _w, precision, verb) => {
      if (verb === "%") return "%";
      if (next >= args.length) return `%!${verb}(MISSING)`;
      const arg = args[next++];
      switch (verb) {
        case "v":
          return arg === undefined || arg === null ? "<nil>" : printValue(arg);
        case "s":
          if (typeof arg === "string") return arg;
          if (Array.isArray(arg) || isMap(arg)) return printValue(arg);
          return bad(verb, arg);
        case "q":
          return typeof arg === "string" ? goQuote(arg) : bad(verb, arg);
        case "d":
          return typeof arg === "number" && Number.isInteger(arg) ? String(arg) : bad(verb, arg);
        case "t":
          return typeof arg === "boolean" ? String(arg) : bad(verb, arg);
        case "f":
          return typeof arg === "number"
            ? arg.toFixed(precision ? Number(precision) : 6)
            : bad(verb, arg);
        default:
          return all;
      }
    },
  );
  if (next < args.length) {
    const extra = args.slice(next).map((arg) => `${typeName(arg)}=${printValue(arg)}`);
    return `${out}%!(EXTRA ${extra.join(", ")})`;
  }
  return out;
}

function bad(verb: string, arg: Value): string {
  if (arg === undefined || arg === null) return `%!${verb}(<nil>)`;
  const type = typeof arg === "number" ? "float64" : typeName(arg);
  return `%!${verb}(${type}=${printValue(arg)})`;
}

/** `eq`/`lt`…: Go compares basic values of the same kind only. */
function comparable(a: Value, b: Value, op: string): void {
  const kind = (v: Value) => (v === undefined || v === null ? "nil" : typeof v);
  if (kind(a) !== kind(b)) {
    throw new Error(`incompatible types for comparison: ${typeName(a)} ${op} ${typeName(b)}`);
  }
  if (typeof a === "object" && a !== null) {
    throw new Error(`non-comparable type ${typeName(a)}`);
  }
}

function order(op: string, test: (a: number | string, b: number | string) => boolean) {
  return (a: Value, b: Value) => {
    comparable(a, b, op);
    if (typeof a !== "number" && typeof a !== "string") {
      throw new Error(`invalid type for comparison: ${typeName(a)}`);
    }
    return test(a, b as number | string);
  };
}

function lazy(fn: LazyFunction["lazy"]): LazyFunction {
  return { lazy: fn };
}

const ALPHANUMERIC = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `n` random letters and digits (Sprig's randAlphaNum), from the Web Crypto RNG. */
export function randAlphaNum(n: number): string {
  const out: string[] = [];
  const bytes = new Uint8Array(1);
  while (out.length < n) {
    crypto.getRandomValues(bytes);
    // 62 × 4 = 248: reject the top 8 values so that every character is equally likely.
    if (bytes[0] < 248) out.push(ALPHANUMERIC[bytes[0] % 62]);
  }
  return out.join("");
}

function base64(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function unbase64(text: string): string {
  try {
    const binary = atob(text);
    return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch (error) {
    // Sprig returns the decoding error as the string.
    return `illegal base64 data: ${(error as Error).message}`;
  }
}

/** Helm's `toYaml`: YAML with sorted keys, without the final newline. */
export function toYaml(value: Value): string {
  if (value === undefined) return "null";
  return yaml.dump(value, { sortKeys: true, lineWidth: -1, noRefs: true }).replace(/\n$/, "");
}

function indent(spaces: Value, text: Value): string {
  const pad = " ".repeat(toInt(spaces));
  return pad + strval(text).replaceAll("\n", `\n${pad}`);
}

/** The functions of a Helm chart's templates. */
export function helmFunctions(context: HelmContext): FunctionMap {
  return {
    // Go built-ins.
    and: lazy((args) => {
      let value: Value;
      for (const arg of args) {
        value = arg();
        if (!truth(value)) return value;
      }
      return value;
    }),
    or: lazy((args) => {
      let value: Value;
      for (const arg of args) {
        value = arg();
        if (truth(value)) return value;
      }
      return value;
    }),
    not: (value) => !truth(value),
    eq: (first, ...others) => {
      if (others.length === 0) throw new Error("missing argument for comparison");
      return others.some((other) => {
        comparable(first, other, "==");
        return first === other || (first == null && other == null);
      });
    },
    ne: (a, b) => {
      comparable(a, b, "!=");
      return a !== b;
    },
    lt: order("<", (a, b) => a < b),
    le: order("<=", (a, b) => a <= b),
    gt: order(">", (a, b) => a > b),
    ge: order(">=", (a, b) => a >= b),
    len: (value) => {
      if (typeof value === "string" || Array.isArray(value)) return value.length;
      if (isMap(value)) return Object.keys(value).length;
      throw new Error(`len of type ${typeName(value)}`);
    },
    index: (value, ...keys) => {
      let node = value;
      for (const key of keys) {
        if (node === undefined || node === null) throw new Error("index of untyped nil");
        if (Array.isArray(node) || typeof node === "string") {
          const i = toInt(key);
          if (i < 0 || i >= node.length) throw new Error(`index out of range: ${i}`);
          node = node[i];
        } else if (isMap(node)) {
          node = Object.hasOwn(node, String(key)) ? node[String(key)] : undefined;
        } else {
          throw new Error(`can't index item of type ${typeName(node)}`);
        }
      }
      return node;
    },
    print: (...args) => args.map((arg) => (arg == null ? "<nil>" : printValue(arg))).join(""),
    println: (...args) =>
      `${args.map((arg) => (arg == null ? "<nil>" : printValue(arg))).join(" ")}\n`,
    printf: (format, ...args) => sprintf(String(format), ...args),

    // Sprig.
    default: (fallback, ...given) => {
      if (given.length === 0 || empty(given[0])) return fallback;
      return given[0];
    },
    empty,
    coalesce: (...values) => values.find((value) => !empty(value)),
    ternary: (yes, no, condition) => (truth(condition) ? yes : no),
    quote: (...values) =>
      values.filter((value) => value !== undefined && value !== null)
        .map((value) => goQuote(strval(value))).join(" "),
    squote: (...values) =>
      values.filter((value) => value !== undefined && value !== null)
        .map((value) => `'${strval(value)}'`).join(" "),
    toString: (value: Value) => strval(value),
    lower: (value) => strval(value).toLowerCase(),
    upper: (value) => strval(value).toUpperCase(),
    trim: (value) => strval(value).trim(),
    trimSuffix: (suffix, value) => {
      const text = strval(value);
      const end = strval(suffix);
      return end && text.endsWith(end) ? text.slice(0, -end.length) : text;
    },
    trimPrefix: (prefix, value) => {
      const text = strval(value);
      const start = strval(prefix);
      return text.startsWith(start) ? text.slice(start.length) : text;
    },
    trunc: (count, value) => {
      const text = strval(value);
      const n = toInt(count);
      if (n < 0 && text.length + n > 0) return text.slice(text.length + n);
      if (n >= 0 && text.length > n) return text.slice(0, n);
      return text;
    },
    replace: (from, to, value) => strval(value).replaceAll(strval(from), strval(to)),
    contains: (needle, haystack) => strval(haystack).includes(strval(needle)),
    hasPrefix: (prefix, value) => strval(value).startsWith(strval(prefix)),
    hasSuffix: (suffix, value) => strval(value).endsWith(strval(suffix)),
    join: (separator, list) => {
      if (list === undefined || list === null) return "";
      const items = Array.isArray(list) ? list : [list];
      return items.filter((item) => item !== undefined && item !== null).map(strval)
        .join(strval(separator));
    },
    splitList: (separator, value) => strval(value).split(strval(separator)),
    indent,
    nindent: (spaces, text) => `\n${indent(spaces, text)}`,
    list: (...items) => items,
    dict: (...pairs) => {
      const map: Record<string, Value> = {};
      for (let i = 0; i < pairs.length; i += 2) map[strval(pairs[i])] = pairs[i + 1] ?? "";
      return map;
    },
    hasKey: (map, key) => isMap(map) && Object.hasOwn(map, strval(key)),
    keys: (...maps) => maps.flatMap((map) => (isMap(map) ? Object.keys(map) : [])),
    b64enc: (value) => base64(strval(value)),
    b64dec: (value) => unbase64(strval(value)),
    randAlphaNum: (count) => randAlphaNum(toInt(count)),
    kindIs: (kind, value) => kindOf(value) === kind,
    toJson: (value) => JSON.stringify(value ?? null),
    int: toInt,
    float64: (value) => Number(value),

    // Helm.
    toYaml,
    fromYaml: (text) => {
      try {
        return yaml.load(strval(text)) ?? {};
      } catch (error) {
        return { Error: (error as Error).message };
      }
    },
    required: (message, value) => {
      if (value === undefined || value === null || value === "") throw new Error(strval(message));
      return value;
    },
    fail: (message) => {
      throw new Error(strval(message));
    },
    include: (name, data) => context.include(strval(name), data),
    lookup: (apiVersion, kind, namespace, name) =>
      context.lookup(strval(apiVersion), strval(kind), strval(namespace), strval(name)),
  };
}

/** Sprig's `kindOf` names. */
function kindOf(value: Value): string {
  if (value === undefined || value === null) return "invalid";
  if (typeof value === "string") return "string";
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float64";
  if (Array.isArray(value)) return "slice";
  return "map";
}
