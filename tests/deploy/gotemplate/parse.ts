/**
 * Parser of Go's text/template language (the part Helm charts use): text and
 * `{{ … }}` actions with the `{{-`/`-}}` trim markers, comments, pipelines,
 * variables (`:=`, `=`), and the `if`/`else if`/`range`/`with`/`define`/
 * `template`/`block` structures.
 *
 * Trimming follows Go: `{{- ` removes all white space (space, tab, CR, LF)
 * before the action, ` -}}` all white space after it; the marker must be
 * separated from the action's body by white space (`{{-3}}` is the number -3).
 *
 * @module
 */

/** An error in a template's text, with the template name and line. */
export class TemplateParseError extends Error {
  constructor(template: string, line: number, message: string, options?: ErrorOptions) {
    super(`template: ${template}:${line}: ${message}`, options);
    this.name = "TemplateParseError";
  }
}

/** A value-producing term of a command. */
export type Operand =
  | { type: "dot" }
  | { type: "field"; path: string[] }
  | { type: "variable"; name: string; path: string[] }
  | { type: "string"; value: string }
  | { type: "number"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "nil" }
  | { type: "identifier"; name: string }
  | { type: "pipeline"; pipeline: Pipeline; path: string[] };

/** One command of a pipeline: a function and its arguments, or a single operand. */
export interface Command {
  args: Operand[];
}

/** `[$a[, $b] (:=|=)] command | command …`. */
export interface Pipeline {
  declare?: { names: string[]; assign: boolean };
  commands: Command[];
  line: number;
}

/** A node of a parsed template. */
export type Node =
  | { type: "text"; text: string }
  | { type: "action"; pipeline: Pipeline }
  | { type: "if" | "with"; pipeline: Pipeline; then: Node[]; else: Node[] }
  | { type: "range"; pipeline: Pipeline; then: Node[]; else: Node[] }
  | { type: "template"; name: string; pipeline?: Pipeline; line: number };

/** A parsed file: its top-level nodes and the templates it `define`s. */
export interface ParsedTemplate {
  nodes: Node[];
  defines: Map<string, Node[]>;
}

const SPACE = /[ \t\r\n]/;
const KEYWORDS = new Set(["if", "else", "end", "range", "with", "define", "template", "block"]);

interface RawAction {
  body: string;
  line: number;
}

type Piece = { kind: "text"; text: string } | { kind: "action"; action: RawAction };

/** Splits `source` into text and action bodies, applying the trim markers. */
function split(source: string, name: string): Piece[] {
  const pieces: Piece[] = [];
  let at = 0;
  let trimNext = false;
  let line = 1;
  const countLines = (text: string) => {
    for (const char of text) if (char === "\n") line++;
  };
  while (at <= source.length) {
    const open = source.indexOf("{{", at);
    let text = source.slice(at, open < 0 ? source.length : open);
    countLines(text);
    if (trimNext) text = text.replace(/^[ \t\r\n]+/, "");
    if (open < 0) {
      if (text) pieces.push({ kind: "text", text });
      break;
    }
    let start = open + 2;
    const trimLeft = source[start] === "-" && SPACE.test(source[start + 1] ?? "");
    if (trimLeft) {
      start += 1;
      text = text.replace(/[ \t\r\n]+$/, "");
    }
    if (text) pieces.push({ kind: "text", text });
    const close = findClose(source, start, name, line);
    let end = close;
    const trimRight = source[close - 1] === "-" && SPACE.test(source[close - 2] ?? "");
    if (trimRight) end -= 1;
    const body = source.slice(start, end);
    pieces.push({ kind: "action", action: { body, line } });
    countLines(source.slice(start, close));
    trimNext = trimRight;
    at = close + 2;
  }
  return pieces;
}

/** Offset of the `}}` closing the action whose body starts at `from` (skipping quoted text). */
function findClose(source: string, from: number, name: string, line: number): number {
  let i = from;
  const trimmed = source.slice(i).replace(/^[ \t\r\n]+/, "");
  if (trimmed.startsWith("/*")) {
    const end = source.indexOf("*/", i);
    if (end < 0) throw new TemplateParseError(name, line, "unclosed comment");
    const close = /^([ \t\r\n]+-)?\}\}/.exec(source.slice(end + 2));
    if (!close) throw new TemplateParseError(name, line, "comment ends before closing delimiter");
    return end + 2 + close[0].length - 2;
  }
  while (i < source.length) {
    const char = source[i];
    if (char === '"' || char === "'") {
      i++;
      while (i < source.length && source[i] !== char) {
        if (source[i] === "\\") i++;
        if (source[i] === "\n") {
          throw new TemplateParseError(name, line, "unterminated quoted string");
        }
        i++;
      }
    } else if (char === "`") {
      i = source.indexOf("`", i + 1);
      if (i < 0) throw new TemplateParseError(name, line, "unterminated raw quoted string");
    } else if (char === "}" && source[i + 1] === "}") {
      return i;
    }
    i++;
  }
  throw new TemplateParseError(name, line, "unclosed action");
}

type Token =
  | { kind: "pipe" | "lparen" | "rparen" | "comma" | "declare" | "assign" }
  | { kind: "operand"; operand: Operand }
  | { kind: "chain"; path: string[] };

interface Lexed {
  token: Token;
  /** Whether white space precedes the token (a field chain only attaches without it). */
  spaced: boolean;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*/;
const CHAIN = /^(\.[A-Za-z_][A-Za-z0-9_]*)+/;
const NUMBER =
  /^[+-]?(0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(\d[\d_]*)?\.?\d[\d_]*([eE][+-]?\d+)?)/;

function lex(body: string, fail: (message: string) => never): Lexed[] {
  const tokens: Lexed[] = [];
  let i = 0;
  let spaced = true;
  const push = (token: Token) => {
    tokens.push({ token, spaced });
    spaced = false;
  };
  while (i < body.length) {
    const rest = body.slice(i);
    const char = body[i];
    if (SPACE.test(char)) {
      spaced = true;
      i++;
      continue;
    }
    const single: Record<string, Token["kind"]> = {
      "|": "pipe",
      "(": "lparen",
      ")": "rparen",
      ",": "comma",
    };
    if (rest.startsWith(":=")) {
      push({ kind: "declare" });
      i += 2;
    } else if (char === "=") {
      push({ kind: "assign" });
      i++;
    } else if (single[char]) {
      push({ kind: single[char] } as Token);
      i++;
    } else if (char === '"') {
      const match = /^"(?:[^"\\\n]|\\.)*"/.exec(rest);
      if (!match) fail("unterminated quoted string");
      push({ kind: "operand", operand: { type: "string", value: unquote(match[0], fail) } });
      i += match[0].length;
    } else if (char === "`") {
      const end = body.indexOf("`", i + 1);
      push({ kind: "operand", operand: { type: "string", value: body.slice(i + 1, end) } });
      i = end + 1;
    } else if (char === "'") {
      const match = /^'(?:[^'\\]|\\.)+'/.exec(rest);
      if (!match) fail("malformed character constant");
      const text = unquote(`"${match[0].slice(1, -1)}"`, fail);
      push({ kind: "operand", operand: { type: "number", value: text.codePointAt(0)! } });
      i += match[0].length;
    } else if (char === "$") {
      const match = /^\$[A-Za-z0-9_]*/.exec(rest)!;
      i += match[0].length;
      const chain = CHAIN.exec(body.slice(i));
      const path = chain ? chain[0].slice(1).split(".") : [];
      if (chain) i += chain[0].length;
      push({ kind: "operand", operand: { type: "variable", name: match[0], path } });
    } else if (char === ".") {
      const chain = CHAIN.exec(rest);
      if (chain) {
        const path = chain[0].slice(1).split(".");
        // `(…).a` is a chain on the parenthesized value; `.a` alone is a field of dot.
        if (!spaced && tokens.at(-1)?.token.kind === "rparen") push({ kind: "chain", path });
        else push({ kind: "operand", operand: { type: "field", path } });
        i += chain[0].length;
      } else if (/^\.\d/.test(rest)) {
        const match = NUMBER.exec(rest)!;
        push({ kind: "operand", operand: { type: "number", value: Number(match[0]) } });
        i += match[0].length;
      } else {
        push({ kind: "operand", operand: { type: "dot" } });
        i++;
      }
    } else if (/[0-9+-]/.test(char)) {
      const match = NUMBER.exec(rest);
      if (!match) fail(`unexpected "${char}" in command`);
      const value = Number(match[0].replaceAll("_", ""));
      if (Number.isNaN(value)) fail(`bad number syntax: "${match[0]}"`);
      push({ kind: "operand", operand: { type: "number", value } });
      i += match[0].length;
    } else if (IDENT.test(rest)) {
      const word = IDENT.exec(rest)![0];
      i += word.length;
      let operand: Operand;
      if (word === "true" || word === "false") operand = { type: "bool", value: word === "true" };
      else if (word === "nil") operand = { type: "nil" };
      else operand = { type: "identifier", name: word };
      push({ kind: "operand", operand });
    } else {
      fail(`unexpected "${char}" in command`);
    }
  }
  return tokens;
}

/** Go's interpretation of a double-quoted string literal. */
function unquote(literal: string, fail: (message: string) => never): string {
  const escapes: Record<string, string> = {
    a: "\x07",
    b: "\b",
    f: "\f",
    n: "\n",
    r: "\r",
    t: "\t",
    v: "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
  };
  return literal.slice(1, -1).replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g,
    (_all, code: string) => {
      if (code in escapes) return escapes[code];
      if (/^[xuU]/.test(code)) return String.fromCodePoint(parseInt(code.slice(1), 16));
      if (/^[0-7]{3}$/.test(code)) return String.fromCharCode(parseInt(code, 8));
      return fail(`invalid syntax: unknown escape \\${code}`);
    },
  );
}

class PipelineParser {
  #at = 0;
  constructor(
    private readonly tokens: Lexed[],
    private readonly line: number,
    private readonly fail: (message: string) => never,
  ) {}

  get done(): boolean {
    return this.#at >= this.tokens.length;
  }

  peek(): Token | undefined {
    return this.tokens[this.#at]?.token;
  }

  next(): Token | undefined {
    return this.tokens[this.#at++]?.token;
  }

  /** A pipeline up to the end of the tokens or a closing parenthesis. */
  pipeline(allowDeclare: boolean, allowTwo = false): Pipeline {
    const pipeline: Pipeline = { commands: [], line: this.line };
    if (allowDeclare) pipeline.declare = this.#declaration(allowTwo);
    while (true) {
      const command = this.#command();
      pipeline.commands.push(command);
      const next = this.peek();
      if (next?.kind === "pipe") {
        this.next();
        continue;
      }
      if (next === undefined || next.kind === "rparen") break;
      this.fail(`unexpected ${next.kind} in operand`);
    }
    return pipeline;
  }

  #declaration(allowTwo: boolean): Pipeline["declare"] {
    const names: string[] = [];
    const start = this.#at;
    while (true) {
      const token = this.peek();
      if (token?.kind !== "operand" || token.operand.type !== "variable") break;
      if (token.operand.path.length) break;
      names.push(token.operand.name);
      this.next();
      const after = this.peek();
      if (after?.kind === "comma" && allowTwo && names.length === 1) {
        this.next();
        continue;
      }
      if (after?.kind === "declare" || after?.kind === "assign") {
        this.next();
        return { names, assign: after.kind === "assign" };
      }
      break;
    }
    this.#at = start;
    return undefined;
  }

  #command(): Command {
    const args: Operand[] = [];
    while (true) {
      const token = this.peek();
      if (token === undefined || token.kind === "pipe" || token.kind === "rparen") break;
      args.push(this.#operand());
    }
    if (args.length === 0) this.fail("missing value for command");
    return { args };
  }

  #operand(): Operand {
    const token = this.next()!;
    if (token.kind === "operand") return token.operand;
    if (token.kind === "lparen") {
      const pipeline = this.pipeline(false);
      if (this.next()?.kind !== "rparen") this.fail("unclosed left paren");
      const chain = this.peek();
      let path: string[] = [];
      if (chain?.kind === "chain") {
        this.next();
        path = chain.path;
      }
      return { type: "pipeline", pipeline, path };
    }
    return this.fail(`unexpected ${token.kind} in operand`);
  }
}

/** Parses a pipeline from an action body (exported for tests of the lexer). */
export function parsePipeline(
  body: string,
  name = "pipeline",
  line = 1,
  allowDeclare = true,
): Pipeline {
  const fail = (message: string): never => {
    throw new TemplateParseError(name, line, message);
  };
  const parser = new PipelineParser(lex(body, fail), line, fail);
  const pipeline = parser.pipeline(allowDeclare);
  if (!parser.done) fail("unexpected right paren");
  return pipeline;
}

interface Frame {
  kind: "root" | "if" | "range" | "with" | "define";
  nodes: Node[];
  node?: Node & { then: Node[]; else: Node[] };
  name?: string;
  line: number;
  /** `else if` chains share one `end`: how many frames that `end` closes. */
  chained: number;
}

/**
 * Parses a template file.
 *
 * @param source The template text.
 * @param name The template's name, for error messages.
 * @returns Its nodes and its `define`d templates.
 * @throws {TemplateParseError} On a syntax error.
 */
export function parseTemplate(source: string, name = "template"): ParsedTemplate {
  const defines = new Map<string, Node[]>();
  const root: Frame = { kind: "root", nodes: [], line: 1, chained: 0 };
  const stack: Frame[] = [root];
  const top = () => stack[stack.length - 1];
  for (const piece of split(source, name)) {
    if (piece.kind === "text") {
      top().nodes.push({ type: "text", text: piece.text });
      continue;
    }
    const { body, line } = piece.action;
    const fail = (message: string): never => {
      throw new TemplateParseError(name, line, message);
    };
    const text = body.trim();
    if (text.startsWith("/*")) continue;
    const word = IDENT.exec(text)?.[0] ?? "";
    const rest = text.slice(word.length);
    if (!KEYWORDS.has(word) || (rest && !SPACE.test(rest[0]) && rest[0] !== "(")) {
      if (!text) fail("missing value for command");
      top().nodes.push({ type: "action", pipeline: parsePipeline(text, name, line) });
      continue;
    }
    switch (word) {
      case "if":
      case "with":
      case "range": {
        const pipeline = parsePipelineOf(rest, name, line, word === "range");
        const node = { type: word, pipeline, then: [], else: [] } as Frame["node"] & Node;
        top().nodes.push(node);
        stack.push({ kind: word, nodes: node.then, node, line, chained: 0 });
        break;
      }
      case "else": {
        const frame = top();
        if (!frame.node || frame.kind === "define") fail("unexpected {{else}}");
        if (frame.nodes === frame.node!.else) fail("expected end; found {{else}}");
        frame.nodes = frame.node!.else;
        const chain = /^\s*(if|with)\b/.exec(rest);
        if (chain) {
          if (frame.kind !== chain[1]) fail(`{{else ${chain[1]}}} inside {{${frame.kind}}}`);
          const pipeline = parsePipelineOf(rest.slice(chain[0].length), name, line, false);
          const node = { type: chain[1], pipeline, then: [], else: [] } as Frame["node"] & Node;
          frame.nodes.push(node);
          stack.push({
            kind: frame.kind,
            nodes: node.then,
            node,
            line,
            chained: frame.chained + 1,
          });
        } else if (rest.trim()) {
          fail(`unexpected "${rest.trim()}" in else`);
        }
        break;
      }
      case "end": {
        if (rest.trim()) fail(`unexpected "${rest.trim()}" in end`);
        const frame = top();
        if (frame.kind === "root") fail("unexpected {{end}}");
        stack.length -= frame.chained + 1;
        if (frame.kind === "define") {
          if (defines.has(frame.name!)) {
            // Go lets a later define replace an earlier one; Helm loads partials first.
          }
          defines.set(frame.name!, frame.nodes);
        }
        break;
      }
      case "define":
      case "block": {
        const match = /^\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*([\s\S]*)$/.exec(rest);
        if (!match) fail(`${word} requires a quoted name`);
        const defined = match![1].startsWith("`")
          ? match![1].slice(1, -1)
          : unquote(match![1], fail);
        if (word === "define" && stack.length > 1) fail("unexpected define inside a block");
        if (word === "block") {
          top().nodes.push({
            type: "template",
            name: defined,
            pipeline: parsePipelineOf(match![2], name, line, false),
            line,
          });
        } else if (match![2].trim()) {
          fail(`unexpected "${match![2].trim()}" in define clause`);
        }
        const frame: Frame = { kind: "define", nodes: [], name: defined, line, chained: 0 };
        stack.push(frame);
        break;
      }
      case "template": {
        const match = /^\s*("(?:[^"\\]|\\.)*"|`[^`]*`)\s*([\s\S]*)$/.exec(rest);
        if (!match) fail("template requires a quoted name");
        const called = match![1].startsWith("`")
          ? match![1].slice(1, -1)
          : unquote(match![1], fail);
        const pipeline = match![2].trim()
          ? parsePipelineOf(match![2], name, line, false)
          : undefined;
        top().nodes.push({ type: "template", name: called, pipeline, line });
        break;
      }
    }
  }
  if (stack.length > 1) {
    const open = top();
    throw new TemplateParseError(
      name,
      open.line,
      `unexpected EOF: {{${open.kind}}} is never closed`,
    );
  }
  return { nodes: root.nodes, defines };
}

function parsePipelineOf(text: string, name: string, line: number, range: boolean): Pipeline {
  const fail = (message: string): never => {
    throw new TemplateParseError(name, line, message);
  };
  if (!text.trim()) fail("missing value for command");
  const parser = new PipelineParser(lex(text, fail), line, fail);
  const pipeline = parser.pipeline(true, range);
  if (!parser.done) fail("unexpected right paren");
  return pipeline;
}
