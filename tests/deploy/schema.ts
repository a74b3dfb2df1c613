/**
 * A JSON Schema (draft-07) validator for the subset a chart's values.schema.json uses, as Helm
 * applies it to the merged values before rendering; it throws on a keyword it does not
 * implement rather than ignore it.
 *
 * @module
 */

/** A JSON value. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The JSON Schema keywords values.schema.json may use. */
export interface Schema {
  $schema?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  enum?: Json[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  pattern?: string;
}

const KEYWORDS = new Set([
  "$schema",
  "title",
  "description",
  "type",
  "properties",
  "required",
  "enum",
  "additionalProperties",
  "items",
  "pattern",
]);

function typeOf(value: Json): string[] {
  if (value === null) return ["null"];
  if (Array.isArray(value)) return ["array"];
  if (typeof value === "number") {
    return Number.isInteger(value) ? ["integer", "number"] : ["number"];
  }
  return [typeof value];
}

/** Errors of `value` against `schema`, as "path: message"; throws on an unsupported keyword. */
export function validate(schema: Schema, value: Json, path = "$"): string[] {
  for (const key of Object.keys(schema)) {
    if (!KEYWORDS.has(key)) throw new Error(`${path}: unsupported schema keyword ${key}`);
  }
  if (schema.type !== undefined) {
    const allowed = Array.isArray(schema.type) ? schema.type : [schema.type];
    if (!typeOf(value).some((type) => allowed.includes(type))) {
      return [`${path}: ${JSON.stringify(value)} is not of type ${allowed.join("|")}`];
    }
  }
  const errors: string[] = [];
  if (
    schema.enum && !schema.enum.some((option) => JSON.stringify(option) === JSON.stringify(value))
  ) {
    errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  }
  if (schema.pattern !== undefined && typeof value === "string") {
    if (!new RegExp(schema.pattern, "u").test(value)) {
      errors.push(`${path}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
    }
  }
  if (schema.items && Array.isArray(value)) {
    value.forEach((item, i) => errors.push(...validate(schema.items!, item, `${path}[${i}]`)));
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    for (const key of schema.required ?? []) {
      if (!(key in value)) errors.push(`${path}: missing required ${key}`);
    }
    for (const [key, item] of Object.entries(value)) {
      const property = schema.properties?.[key];
      if (property) {
        errors.push(...validate(property, item, `${path}.${key}`));
      } else if (schema.additionalProperties === false) {
        errors.push(`${path}: unknown key ${key}`);
      } else if (typeof schema.additionalProperties === "object") {
        errors.push(...validate(schema.additionalProperties, item, `${path}.${key}`));
      }
    }
  }
  return errors;
}

/**
 * Differences between the keys of `value` and the `properties` of `schema`:
 * wherever the schema lists properties, they are exactly the keys of values.yaml.
 * Objects without `properties` are free-form maps (labels, annotations, affinity).
 */
export function coverage(schema: Schema, value: Json, path = ""): string[] {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return schema.properties ? [`${path}: the schema lists properties of a non-object`] : [];
  }
  if (!schema.properties) return [];
  const problems: string[] = [];
  for (const key of Object.keys(value)) {
    const property = schema.properties[key];
    const where = path ? `${path}.${key}` : key;
    if (!property) problems.push(`${where}: in values.yaml, not in the schema`);
    else problems.push(...coverage(property, value[key], where));
  }
  for (const key of Object.keys(schema.properties)) {
    if (!(key in value)) {
      problems.push(`${path ? `${path}.` : ""}${key}: in the schema, not in values.yaml`);
    }
  }
  return problems;
}
