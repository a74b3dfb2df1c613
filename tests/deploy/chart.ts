/**
 * `helm template` for tests (there is no helm binary here): loads a chart
 * directory, merges values as Helm does (values.yaml, then `-f` files in
 * order, then `--set`), renders every template with the Go template engine in
 * ./gotemplate and parses the manifests.
 *
 * What Helm does and this does too: the merged values must pass values.schema.json (see
 * ./schema.ts); partials (`_*.tpl`) only define templates;
 * `<no value>` is removed from the output; `.Chart` has Chart.yaml's keys
 * capitalized (`AppVersion`); `.Release.Service` is `Helm`; a `null` user value
 * deletes the chart's default; `lookup` answers from the objects given (the
 * "cluster"), `{}` when there are none, as with `helm template`.
 * Not done: subcharts, `.Files`, `tpl`, `.Capabilities.APIVersions.Has`.
 *
 * @module
 */

import yaml from "js-yaml";
import { Executor, helmFunctions, parseTemplate, type Value } from "./gotemplate/mod.ts";
import { type Json, type Schema, validate } from "./schema.ts";

/** A Kubernetes object as rendered. */
export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: Record<string, unknown> & { name: string; namespace?: string };
};

/** A chart read from disk. */
export interface Chart {
  dir: string;
  metadata: Record<string, unknown>;
  values: Record<string, unknown>;
  /** Template file name (under templates/) → source. */
  templates: Map<string, string>;
  /** values.schema.json, when the chart has one. */
  schema?: Schema;
}

/** Options of {@linkcode renderChart}, as `helm template` takes them. */
export interface RenderOptions {
  /** Release name; default `wormhole`. */
  release?: string;
  /** Release namespace; default `default`. */
  namespace?: string;
  /** Values files (`-f`), as parsed YAML, in order. */
  valuesFiles?: Record<string, unknown>[];
  /** `--set` expressions, in order. */
  set?: string[];
  /** `--set-string` expressions, applied after `set`. */
  setString?: string[];
  /** Objects in the cluster, for `lookup`. */
  cluster?: Manifest[];
}

/** What a render produced. */
export interface Rendered {
  /** The merged values the templates saw. */
  values: Record<string, unknown>;
  /** Manifests, by template file, in file order. */
  files: Map<string, Manifest[]>;
  /** Every manifest, in file order. */
  manifests: Manifest[];
  /** The rendered NOTES.txt, if the chart has one. */
  notes?: string;
}

/** Reads Chart.yaml, values.yaml and templates/ of the chart in `dir`. */
export function loadChart(dir: string | URL): Chart {
  const base = String(dir instanceof URL ? dir.pathname : dir).replace(/\/?$/, "/");
  const metadata = yaml.load(Deno.readTextFileSync(`${base}Chart.yaml`)) as Record<string, unknown>;
  const values = (yaml.load(Deno.readTextFileSync(`${base}values.yaml`)) ?? {}) as Record<
    string,
    unknown
  >;
  const templates = new Map<string, string>();
  for (const name of [...Deno.readDirSync(`${base}templates`)].map((e) => e.name).sort()) {
    templates.set(name, Deno.readTextFileSync(`${base}templates/${name}`));
  }
  let schema: Schema | undefined;
  try {
    schema = JSON.parse(Deno.readTextFileSync(`${base}values.schema.json`));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return { dir: base, metadata, values, templates, schema };
}

const isMap = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** `override` over `base`, recursively for maps; a `null` in `override` deletes the key. */
export function coalesce(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    if (value === null) delete out[key];
    else if (isMap(value) && isMap(out[key])) out[key] = coalesce(out[key], value);
    else out[key] = structuredClone(value);
  }
  return out;
}

/** A path segment of a `--set` key: a map key or a list index. */
type Segment = string | number;

function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = [];
  let current = "";
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === "\\" && i + 1 < text.length) {
      current += char + text[++i];
    } else if (char === "{") {
      depth++;
      current += char;
    } else if (char === "}") {
      depth--;
      current += char;
    } else if (char === separator && depth === 0) {
      parts.push(current);
      current = "";
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

const unescape = (text: string) => text.replace(/\\(.)/g, "$1");

function keyPath(key: string): Segment[] {
  const segments: Segment[] = [];
  for (const part of splitUnescaped(key, ".")) {
    const match = /^((?:[^[\\]|\\.)*)((?:\[\d+\])*)$/.exec(part);
    if (!match || !match[1]) throw new Error(`Cannot parse --set key ${JSON.stringify(key)}`);
    segments.push(unescape(match[1]));
    for (const index of match[2].matchAll(/\[(\d+)\]/g)) segments.push(Number(index[1]));
  }
  return segments;
}

/** A `--set` value: `{a,b}` is a list; true/false/null and integers are typed (not with `asString`). */
function setValue(text: string, asString: boolean): unknown {
  if (text.startsWith("{") && text.endsWith("}")) {
    const inner = text.slice(1, -1);
    return inner === "" ? [] : splitUnescaped(inner, ",").map((item) => setValue(item, asString));
  }
  const plain = unescape(text);
  if (asString) return plain;
  if (plain === "true" || plain === "false") return plain === "true";
  if (plain === "null") return null;
  if (/^(0|-?[1-9]\d*)$/.test(plain) && Number.isSafeInteger(Number(plain))) return Number(plain);
  return plain;
}

/**
 * Applies one `--set` (or `--set-string`) expression, `a.b=c,d[0].e=f,l={x,y}`, to `values`.
 *
 * @param values Modified in place.
 * @param expression The expression.
 * @param asString Whether every value stays a string (`--set-string`).
 */
export function applySet(
  values: Record<string, unknown>,
  expression: string,
  asString = false,
): void {
  for (const assignment of splitUnescaped(expression, ",")) {
    const at = /^((?:[^=\\]|\\.)*)=([\s\S]*)$/.exec(assignment);
    if (!at) throw new Error(`Cannot parse --set ${JSON.stringify(assignment)}: no "="`);
    const path = keyPath(at[1]);
    let node: Record<string, unknown> | unknown[] = values;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      const slot = node as Record<string | number, unknown>;
      // Helm fills the gap before an index with nulls.
      if (Array.isArray(node)) { while (node.length < Number(segment)) node.push(null); }
      if (last) {
        slot[segment] = setValue(at[2], asString);
        break;
      }
      const nextIsIndex = typeof path[i + 1] === "number";
      const child = slot[segment];
      if (nextIsIndex ? !Array.isArray(child) : !isMap(child)) {
        slot[segment] = nextIsIndex ? [] : {};
      }
      node = slot[segment] as Record<string, unknown> | unknown[];
    }
  }
}

/** The values a render uses: the chart's, then each file, then `set`, then `setString`. */
export function mergeValues(chart: Chart, options: RenderOptions = {}): Record<string, unknown> {
  let user: Record<string, unknown> = {};
  for (const file of options.valuesFiles ?? []) user = mergeUser(user, file);
  for (const expression of options.set ?? []) applySet(user, expression);
  for (const expression of options.setString ?? []) applySet(user, expression, true);
  return coalesce(chart.values, user);
}

/** User values merged with each other: maps merge, a later null stays (it deletes a default). */
function mergeUser(
  base: Record<string, unknown>,
  override: Record<string, unknown>,
): Record<string, unknown> {
  const out = structuredClone(base);
  for (const [key, value] of Object.entries(override)) {
    out[key] = isMap(value) && isMap(out[key])
      ? mergeUser(out[key], value)
      : structuredClone(value);
  }
  return out;
}

function chartObject(metadata: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(metadata)) {
    const name = key === "apiVersion" ? "APIVersion" : key[0].toUpperCase() + key.slice(1);
    out[name] = value;
  }
  return out;
}

function lookupIn(cluster: Manifest[]) {
  return (apiVersion: string, kind: string, namespace: string, name: string): Value => {
    const matches = cluster.filter((object) =>
      object.apiVersion === apiVersion && object.kind === kind &&
      (!namespace || (object.metadata.namespace ?? "default") === namespace)
    );
    if (name) {
      const found = matches.find((object) => object.metadata.name === name);
      return found ? structuredClone(found) : {};
    }
    return matches.length
      ? { apiVersion, kind: `${kind}List`, items: structuredClone(matches) }
      : {};
  };
}

/**
 * Renders `chart` as `helm template RELEASE CHART -n NAMESPACE -f … --set …` would.
 *
 * @throws {Error} Values the schema rejects, or a template error (e.g. a `required` value
 *   missing) with the file and line.
 */
export function renderChart(chart: Chart, options: RenderOptions = {}): Rendered {
  const values = mergeValues(chart, options);
  const errors = chart.schema ? validate(chart.schema, values as Json) : [];
  if (errors.length) {
    throw new Error(
      `values don't meet the specifications of the schema of chart ${chart.metadata.name}:\n` +
        errors.map((error) => `- ${error}`).join("\n"),
    );
  }
  const release = options.release ?? "wormhole";
  const namespace = options.namespace ?? "default";
  const chartName = String(chart.metadata.name);
  const executor: Executor = new Executor(helmFunctions({
    include: (name, data) => executor.include(name, data),
    lookup: lookupIn(options.cluster ?? []),
  }));
  const parsed = new Map(
    [...chart.templates].map(([file, source]) => {
      const name = `${chartName}/templates/${file}`;
      const template = parseTemplate(source, name);
      executor.addDefines(template, name);
      return [file, template];
    }),
  );
  const top = (file: string) => ({
    Values: values,
    Release: {
      Name: release,
      Namespace: namespace,
      Service: "Helm",
      IsInstall: true,
      IsUpgrade: false,
      Revision: 1,
    },
    Chart: chartObject(chart.metadata),
    Capabilities: { KubeVersion: { Version: "v1.32.0", Major: "1", Minor: "32" } },
    Template: { Name: `${chartName}/templates/${file}`, BasePath: `${chartName}/templates` },
  });
  const files = new Map<string, Manifest[]>();
  let notes: string | undefined;
  for (const [file, template] of parsed) {
    if (file.startsWith("_")) continue;
    const name = `${chartName}/templates/${file}`;
    const text = executor.execute(template.nodes, top(file), name).replaceAll("<no value>", "");
    if (file === "NOTES.txt") {
      notes = text;
      continue;
    }
    const docs = yaml.loadAll(text, undefined, { filename: name })
      .filter((doc): doc is Manifest => isMap(doc));
    for (const doc of docs) {
      if (!doc.apiVersion || !doc.kind || !isMap(doc.metadata) || !doc.metadata.name) {
        throw new Error(`${name}: a manifest without apiVersion, kind or metadata.name`);
      }
    }
    if (docs.length) files.set(file, docs);
  }
  return { values, files, manifests: [...files.values()].flat(), notes };
}
