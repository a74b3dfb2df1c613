/**
 * Static analysis of Helm templates, for tests that run without a helm binary.
 *
 * `skeleton()` turns a template into YAML that js-yaml can parse: every branch of
 * every `if` is kept, `toYaml .Values.x | nindent N` is replaced by the default
 * of `x`, `include "helper" . | nindent N` by the helper's text, and any other
 * action by a token `__T<i>__` whose action text is kept in `tokens`.
 *
 * @module
 */

import yaml from "js-yaml";

/** One `{{ … }}` action of a template. */
export interface Action {
  /** The text between the delimiters and trim markers, trimmed. */
  body: string;
  /** Offset of `{{` in the source. */
  start: number;
  /** Offset just past `}}`. */
  end: number;
  /** 1-based line of `{{`. */
  line: number;
}

const ACTION = /\{\{-?\s*([\s\S]*?)\s*-?\}\}/g;

/** Every action of `source`, in order; throws on a `{{` or `}}` outside an action. */
export function scanActions(source: string, file = "template"): Action[] {
  const actions: Action[] = [];
  let rest = "";
  let last = 0;
  for (const match of source.matchAll(ACTION)) {
    const start = match.index;
    const body = match[1];
    if (body.includes("{{")) {
      throw new Error(`${file}:${lineOf(source, start)}: "{{" inside an action`);
    }
    rest += source.slice(last, start);
    last = start + match[0].length;
    actions.push({ body, start, end: last, line: lineOf(source, start) });
  }
  rest += source.slice(last);
  for (const stray of ["{{", "}}"]) {
    const at = rest.indexOf(stray);
    if (at >= 0) {
      throw new Error(
        `${file}: unbalanced "${stray}" near ${JSON.stringify(rest.slice(at, at + 40))}`,
      );
    }
  }
  return actions;
}

function lineOf(source: string, offset: number): number {
  return source.slice(0, offset).split("\n").length;
}

const OPENERS = new Set(["if", "range", "with", "define", "block"]);

function keyword(body: string): string {
  if (body.startsWith("/*")) return "comment";
  return /^([a-z]+)\b/.exec(body)?.[1] ?? "";
}

/** Throws unless `if`/`range`/`with`/`define`/`block` … `else` … `end` nest properly. */
export function checkBlocks(actions: readonly Action[], file = "template"): void {
  const stack: Action[] = [];
  for (const action of actions) {
    const word = keyword(action.body);
    if (word === "comment") {
      if (!action.body.endsWith("*/")) {
        throw new Error(`${file}:${action.line}: unterminated comment`);
      }
    } else if (OPENERS.has(word)) {
      stack.push(action);
    } else if (word === "else") {
      const top = stack.at(-1);
      if (!top || !["if", "range", "with"].includes(keyword(top.body))) {
        throw new Error(`${file}:${action.line}: "else" outside if/range/with`);
      }
    } else if (word === "end") {
      if (!stack.pop()) throw new Error(`${file}:${action.line}: "end" without a block`);
    }
  }
  const open = stack.pop();
  if (open) throw new Error(`${file}:${open.line}: "${open.body}" is never closed`);
}

const VALUES_REF = /\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g;

/** Paths (`server.pvc.enabled`) of every `.Values.…` reference in the actions of `source`. */
export function valuesRefs(source: string): string[] {
  return scanActions(source).flatMap((action) =>
    [...action.body.matchAll(VALUES_REF)].map((match) => match[1].slice(1))
  );
}

/** Paths rendered whole with `toYaml .Values.…`: they use every key below them. */
export function toYamlRefs(source: string): string[] {
  return scanActions(source).flatMap((action) =>
    [...action.body.matchAll(/\btoYaml\s+\$?\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((
      match,
    ) => match[1].slice(1))
  );
}

/** Bodies of the `define`d helpers of `source` (e.g. _helpers.tpl), by name. */
export function defines(source: string): Map<string, string> {
  const helpers = new Map<string, string>();
  const actions = scanActions(source, "helpers");
  for (let i = 0; i < actions.length; i++) {
    const name = /^define\s+"([^"]+)"$/.exec(actions[i].body)?.[1];
    if (!name) continue;
    let depth = 1;
    let j = i + 1;
    for (; j < actions.length && depth > 0; j++) {
      const word = keyword(actions[j].body);
      if (OPENERS.has(word)) depth++;
      if (word === "end") depth--;
    }
    const end = actions[j - 1];
    helpers.set(name, source.slice(actions[i].end, end.start).trim());
    i = j - 1;
  }
  return helpers;
}

/** The value at `path` in `values`, and whether the key exists. */
export function lookup(values: unknown, path: string): { found: boolean; value: unknown } {
  let node: unknown = values;
  for (const key of path.split(".")) {
    if (node === null || typeof node !== "object" || Array.isArray(node) || !(key in node)) {
      return { found: false, value: undefined };
    }
    node = (node as Record<string, unknown>)[key];
  }
  return { found: true, value: node };
}

/** A template as parsed YAML documents plus the action text behind each token. */
export interface Skeleton {
  docs: Record<string, unknown>[];
  tokens: string[];
}

/** See the module documentation. */
export function skeleton(
  source: string,
  values: unknown,
  helpers: Map<string, string>,
  file = "template",
): Skeleton {
  const tokens: string[] = [];
  const tokenize = (line: string) =>
    line.replace(ACTION, (_all, body: string) => `__T${tokens.push(body.trim()) - 1}__`);
  const out: string[] = [];
  for (const line of source.split("\n")) {
    if (line.startsWith("# deno-fmt-ignore-file")) continue;
    const only = /^\s*\{\{-?\s*([\s\S]*?)\s*-?\}\}\s*$/.exec(line);
    if (!only || only[1].includes("}}")) {
      out.push(tokenize(line));
      continue;
    }
    const body = only[1];
    const dump = /^toYaml\s+\$?\.Values\.([\w.]+)\s*\|\s*nindent\s+(\d+)$/.exec(body);
    if (dump) {
      const { found, value } = lookup(values, dump[1]);
      if (!found) throw new Error(`${file}: toYaml of missing value ${dump[1]}`);
      if (value !== null && value !== undefined) {
        const text = yaml.dump(value).trimEnd();
        if (text !== "{}" && text !== "[]") out.push(indent(text, Number(dump[2])));
      }
      continue;
    }
    const include = /^include\s+"([^"]+)"\s+\.\s*\|\s*nindent\s+(\d+)$/.exec(body);
    if (include) {
      const helper = helpers.get(include[1]);
      if (helper === undefined) throw new Error(`${file}: unknown helper ${include[1]}`);
      out.push(indent(tokenize(helper), Number(include[2])));
      continue;
    }
    // Control flow, assignments and comments: keep every branch, drop the action.
  }
  const docs = yaml.loadAll(out.join("\n"), undefined, { filename: file })
    .filter((doc): doc is Record<string, unknown> => doc !== null && typeof doc === "object");
  return { docs, tokens };
}

function indent(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text.split("\n").map((line) => (line ? pad + line : line)).join("\n");
}

/** The action behind `__T<i>__`, or undefined when `text` is not exactly one token. */
export function tokenAction(text: unknown, tokens: readonly string[]): string | undefined {
  const match = typeof text === "string" ? /^__T(\d+)__$/.exec(text) : null;
  return match ? tokens[Number(match[1])] : undefined;
}

/**
 * A container arg as the program would see it: a literal stays as is, and
 * `{{ printf "--flag=%s" EXPR | quote }}` becomes `--flag=<EXPR>`.
 */
export function argText(arg: unknown, tokens: readonly string[]): string {
  if (typeof arg !== "string") throw new Error(`arg is not a string: ${JSON.stringify(arg)}`);
  const action = tokenAction(arg, tokens);
  if (action === undefined) return arg;
  const printf = /^printf\s+"(--[a-z0-9-]+=)%s"\s+([\s\S]+?)\s*\|\s*quote$/.exec(action);
  if (!printf) throw new Error(`arg action is not printf "--flag=%s" … | quote: ${action}`);
  return `${printf[1]}<${printf[2]}>`;
}
