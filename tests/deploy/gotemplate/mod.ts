/**
 * Go's text/template language for tests, as Helm uses it: parse a template,
 * execute it with data and a function map. See parse.ts (syntax and
 * trimming), exec.ts (scoping, pipelines, control structures), values.ts
 * (truth and printing) and funcs.ts (Go, Sprig and Helm functions).
 *
 * @example
 * ```ts
 * const out = renderString('{{- define "x" }}{{ . | quote }}{{ end -}} {{ include "x" .a }}', {
 *   a: "b",
 * });
 * // out === '"b"'
 * ```
 *
 * @module
 */

import { Executor } from "./exec.ts";
import { type HelmContext, helmFunctions } from "./funcs.ts";
import { parseTemplate } from "./parse.ts";
import type { Value } from "./values.ts";

export { Executor, TemplateExecError } from "./exec.ts";
export type { FunctionMap, LazyFunction, TemplateFunction } from "./exec.ts";
export { empty, type HelmContext, helmFunctions, randAlphaNum, sprintf, toYaml } from "./funcs.ts";
export { parsePipeline, parseTemplate, TemplateParseError } from "./parse.ts";
export type { Node, ParsedTemplate, Pipeline } from "./parse.ts";
export { formatNumber, goQuote, printValue, truth, type Value } from "./values.ts";

/**
 * Renders one template string with the Helm functions (`lookup` finds nothing), removing
 * `<no value>` as Helm does.
 *
 * @param source The template.
 * @param data Dot and `$`.
 * @param lookup Objects `lookup` returns; default: none.
 * @returns The output.
 */
export function renderString(
  source: string,
  data: Value,
  lookup: HelmContext["lookup"] = () => ({}),
): string {
  const parsed = parseTemplate(source, "string");
  const executor: Executor = new Executor(
    helmFunctions({ include: (name, value) => executor.include(name, value), lookup }),
  );
  executor.addDefines(parsed, "string");
  return executor.execute(parsed.nodes, data, "string").replaceAll("<no value>", "");
}
