/**
 * Executes parsed Go templates: dot and `$`, variables scoped to their block,
 * pipelines that pass the previous value as the last argument, `if`/`with`/
 * `range` with `else`, and named templates (`template`, and `include` through
 * {@linkcode Executor.include}).
 *
 * @module
 */

import type { Command, Node, Operand, ParsedTemplate, Pipeline } from "./parse.ts";
import { isMap, printValue, truth, typeName, type Value } from "./values.ts";

/** An error while executing a template, with the template name and line. */
export class TemplateExecError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TemplateExecError";
  }
}

/** A function callable from templates. */
export type TemplateFunction = (...args: Value[]) => Value;

/**
 * A function that receives its arguments unevaluated (`and` and `or`
 * short-circuit: `and .a .a.b` never evaluates `.a.b` when `.a` is empty).
 */
export interface LazyFunction {
  lazy: (args: (() => Value)[]) => Value;
}

/** The functions of an {@linkcode Executor}, by name. */
export type FunctionMap = Record<string, TemplateFunction | LazyFunction>;

class Scope {
  readonly #vars = new Map<string, Value>();
  constructor(readonly parent?: Scope) {}

  declare(name: string, value: Value): void {
    this.#vars.set(name, value);
  }

  assign(name: string, value: Value): boolean {
    if (this.#vars.has(name)) {
      this.#vars.set(name, value);
      return true;
    }
    return this.parent?.assign(name, value) ?? false;
  }

  get(name: string): { found: boolean; value?: Value } {
    if (this.#vars.has(name)) return { found: true, value: this.#vars.get(name) };
    return this.parent?.get(name) ?? { found: false };
  }
}

interface State {
  template: string;
  dot: Value;
  scope: Scope;
  line: number;
}

const NO_FINAL = Symbol("no final value");
/** Nesting limit of `template`/`include`, as Helm's (a recursive helper fails, not hangs). */
const MAX_DEPTH = 1000;

/** Runs templates; named templates are shared by every file added. */
export class Executor {
  readonly #named = new Map<string, { nodes: Node[]; file: string }>();
  #depth = 0;

  constructor(readonly functions: FunctionMap) {}

  /** Makes the `define`d templates of `parsed` (from `file`) callable by name. */
  addDefines(parsed: ParsedTemplate, file: string): void {
    for (const [name, nodes] of parsed.defines) this.#named.set(name, { nodes, file });
  }

  /** Renders `nodes` (of `file`) with `data` as both dot and `$`. */
  execute(nodes: Node[], data: Value, file: string): string {
    const scope = new Scope();
    scope.declare("$", data);
    const out: string[] = [];
    this.#run(nodes, { template: file, dot: data, scope, line: 1 }, out);
    return out.join("");
  }

  /** Renders the named template `name` with `data` (Helm's `include`). */
  include(name: string, data: Value): string {
    const named = this.#named.get(name);
    if (!named) throw new TemplateExecError(`no template "${name}" associated with template`);
    if (++this.#depth > MAX_DEPTH) {
      this.#depth = 0;
      throw new TemplateExecError(`rendering template has a nested reference name: ${name}`);
    }
    try {
      return this.execute(named.nodes, data, named.file);
    } finally {
      this.#depth--;
    }
  }

  #run(nodes: Node[], state: State, out: string[]): void {
    for (const node of nodes) {
      switch (node.type) {
        case "text":
          out.push(node.text);
          break;
        case "action": {
          const value = this.#pipeline(node.pipeline, state);
          if (!node.pipeline.declare) out.push(printValue(value));
          break;
        }
        case "if":
        case "with": {
          const inner = { ...state, scope: new Scope(state.scope) };
          const value = this.#pipeline(node.pipeline, inner);
          if (truth(value)) {
            this.#run(node.then, node.type === "with" ? { ...inner, dot: value } : inner, out);
          } else {
            this.#run(node.else, inner, out);
          }
          break;
        }
        case "range":
          this.#range(node, state, out);
          break;
        case "template": {
          state.line = node.line;
          const data = node.pipeline ? this.#pipeline(node.pipeline, state) : undefined;
          out.push(this.#wrap(state, () => this.include(node.name, data)));
          break;
        }
      }
    }
  }

  #range(node: Node & { type: "range" }, state: State, out: string[]): void {
    const scope = new Scope(state.scope);
    const declare = node.pipeline.declare;
    const value = this.#pipeline({ ...node.pipeline, declare: undefined }, { ...state, scope });
    let entries: [Value, Value][];
    if (value === undefined || value === null) entries = [];
    else if (Array.isArray(value)) entries = value.map((item, i) => [i, item]);
    else if (isMap(value)) entries = Object.keys(value).sort().map((key) => [key, value[key]]);
    else if (typeof value === "number" && Number.isInteger(value)) {
      entries = Array.from({ length: Math.max(0, value) }, (_, i) => [i, i]);
    } else {
      throw this.#error(state, `range can't iterate over ${printValue(value)}`);
    }
    if (entries.length === 0) {
      this.#run(node.else, { ...state, scope }, out);
      return;
    }
    for (const [key, item] of entries) {
      const inner = new Scope(scope);
      if (declare?.names.length === 1) inner.declare(declare.names[0], item);
      if (declare?.names.length === 2) {
        inner.declare(declare.names[0], key);
        inner.declare(declare.names[1], item);
      }
      this.#run(node.then, { ...state, scope: inner, dot: item }, out);
    }
  }

  #pipeline(pipeline: Pipeline, state: State): Value {
    state.line = pipeline.line;
    let value: Value | typeof NO_FINAL = NO_FINAL;
    for (const command of pipeline.commands) value = this.#command(command, state, value);
    const result = value === NO_FINAL ? undefined : value;
    const declare = pipeline.declare;
    if (declare) {
      const name = declare.names[0];
      if (declare.assign) {
        if (!state.scope.assign(name, result)) {
          throw this.#error(state, `undefined variable: ${name}`);
        }
      } else {
        state.scope.declare(name, result);
      }
    }
    return result;
  }

  #command(command: Command, state: State, final: Value | typeof NO_FINAL): Value {
    const [head, ...rest] = command.args;
    if (head.type === "identifier") return this.#call(head.name, rest, state, final);
    if (head.type === "nil") throw this.#error(state, "nil is not a command");
    if (rest.length > 0 || final !== NO_FINAL) {
      throw this.#error(state, `can't give argument to non-function ${describe(head)}`);
    }
    return this.#operand(head, state);
  }

  #call(name: string, args: Operand[], state: State, final: Value | typeof NO_FINAL): Value {
    const fn = Object.hasOwn(this.functions, name) ? this.functions[name] : undefined;
    if (!fn) throw this.#error(state, `function "${name}" not defined`);
    const thunks = args.map((arg) => () => this.#operand(arg, state));
    if (final !== NO_FINAL) thunks.push(() => final);
    return this.#wrap(state, () => {
      if (typeof fn === "function") return fn(...thunks.map((thunk) => thunk()));
      return fn.lazy(thunks);
    }, name);
  }

  #operand(operand: Operand, state: State): Value {
    switch (operand.type) {
      case "dot":
        return state.dot;
      case "field":
        return this.#walk(state.dot, operand.path, state);
      case "variable": {
        const found = state.scope.get(operand.name);
        if (!found.found) throw this.#error(state, `undefined variable "${operand.name}"`);
        return this.#walk(found.value, operand.path, state);
      }
      case "string":
      case "number":
      case "bool":
        return operand.value;
      case "nil":
        return null;
      case "identifier":
        return this.#call(operand.name, [], state, NO_FINAL);
      case "pipeline": {
        const value = this.#pipeline(operand.pipeline, { ...state });
        return this.#walk(value, operand.path, state);
      }
    }
  }

  /** `.a.b.c` on `value`: a missing key is no value; a field of no value is an error. */
  #walk(value: Value, path: string[], state: State): Value {
    let node = value;
    for (const key of path) {
      if (node === undefined || node === null) {
        throw this.#error(state, `nil pointer evaluating interface {}.${key}`);
      }
      if (!isMap(node)) {
        throw this.#error(state, `can't evaluate field ${key} in type ${typeName(node)}`);
      }
      node = Object.hasOwn(node, key) ? node[key] : undefined;
    }
    return node;
  }

  #wrap<T>(state: State, run: () => T, fn?: string): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof TemplateExecError) throw error;
      const message = (error as Error).message;
      throw this.#error(state, fn ? `error calling ${fn}: ${message}` : message, error);
    }
  }

  #error(state: State, message: string, cause?: unknown): TemplateExecError {
    return new TemplateExecError(`template: ${state.template}:${state.line}: ${message}`, {
      cause,
    });
  }
}

function describe(operand: Operand): string {
  switch (operand.type) {
    case "field":
      return `.${operand.path.join(".")}`;
    case "variable":
      return [operand.name, ...operand.path].join(".");
    default:
      return operand.type;
  }
}
