/**
 * Go template values in JavaScript: what is true, what is empty, and how a
 * value prints. Values come from YAML, so they are `null`, booleans, numbers
 * (float64 in Helm, which decodes values through JSON), strings, arrays and
 * plain objects (maps); `undefined` is Go's "no value" (a missing map key).
 *
 * @module
 */

/** A value a template handles. */
export type Value = unknown;

/** A plain object used as a map. */
export type GoMap = Record<string, Value>;

/** Whether `value` is a map (not null, not an array). */
export function isMap(value: Value): value is GoMap {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Truth as `if`, `with`, `and`, `or` and `not` see it: false, 0, nil, and an
 * empty string, array or map are false; everything else is true.
 */
export function truth(value: Value): boolean {
  if (value === undefined || value === null) return false;
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value !== 0;
  if (typeof value === "string") return value.length > 0;
  if (Array.isArray(value)) return value.length > 0;
  if (isMap(value)) return Object.keys(value).length > 0;
  return true;
}

/** Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `%v` uses for float64. */
export function formatNumber(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const [mantissa, exponentText] = value.toExponential().split("e");
  const exponent = Number(exponentText);
  // With the shortest precision Go decides with precision 6: %e below 1e-4 and from 1e6 up.
  if (exponent < -4 || exponent >= 6) {
    const abs = Math.abs(exponent);
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${abs < 10 ? "0" : ""}${abs}`;
  }
  return String(value);
}

/** How `{{ value }}` prints (Go's fmt `%v`; Helm then removes every `<no value>`). */
export function printValue(value: Value): string {
  if (value === undefined || value === null) return "<no value>";
  if (typeof value === "string") return value;
  if (typeof value === "number") return formatNumber(value);
  if (typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(nested).join(" ")}]`;
  if (isMap(value)) {
    return `map[${
      Object.keys(value).sort().map((key) => `${key}:${nested(value[key])}`).join(" ")
    }]`;
  }
  return String(value);
}

function nested(value: Value): string {
  return value === undefined || value === null ? "<nil>" : printValue(value);
}

/** Go's type name of a value, for error messages. */
export function typeName(value: Value): string {
  if (value === undefined || value === null) return "<nil>";
  if (typeof value === "string") return "string";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float64";
  if (typeof value === "boolean") return "bool";
  if (Array.isArray(value)) return "[]interface {}";
  if (isMap(value)) return "map[string]interface {}";
  return typeof value;
}

/** Go's `strconv.Quote`: a double-quoted string with Go escapes. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    const named: Record<string, string> = {
      "\x07": "\\a",
      "\b": "\\b",
      "\f": "\\f",
      "\n": "\\n",
      "\r": "\\r",
      "\t": "\\t",
      "\v": "\\v",
      "\\": "\\\\",
      '"': '\\"',
    };
    if (named[char]) out += named[char];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += char;
  }
  return `${out}"`;
}
