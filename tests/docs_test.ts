/**
 * The docs and the program say the same thing: every flag of every command
 * is documented (README.md, docs/, deploy/README.md), and every flag the docs
 * name is one the program has or one of another tool's, listed below.
 */

import assert from "node:assert/strict";
import type { Command } from "commander";
import { buildProgram } from "../src/cli/mod.ts";

const ROOT = new URL("../", import.meta.url);

/** Flags of other tools that the docs show (Deno, kubectl, helm, docker) and of the demo, chaos and bench scripts. */
const OTHER_TOOLS = new Set([
  "--allow-all",
  "--allow-env",
  "--allow-ffi",
  "--allow-net",
  "--allow-read",
  "--allow-run",
  "--allow-sys",
  "--allow-write",
  "--check",
  "--create-namespace",
  "--expose-gc",
  "--from-literal",
  "--heap-growing-percent",
  "--inspect",
  // scripts/bench/tools/mem_ab.ts
  "--rtt",
  "--seconds",
  "--initial-heap-size",
  "--long",
  "--no-concurrent-array-buffer-sweeping",
  "--max-semi-space-size",
  "--once",
  "--only",
  "--overwrite",
  "--rm",
  "--set",
  "--ulimit",
  "--v8-flags",
  "--wan",
]);

function programFlags(): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  const walk = (command: Command, path: string[]) => {
    for (const option of command.options) {
      if (option.long) flags.set(option.long, [...flags.get(option.long) ?? [], path.join(" ")]);
    }
    for (const sub of command.commands) walk(sub, [...path, sub.name()]);
  };
  walk(buildProgram(), ["wormhole"]);
  flags.set("--help", ["wormhole"]);
  return flags;
}

function docsText(): string {
  const files = ["README.md", "deploy/README.md"];
  for (const entry of Deno.readDirSync(new URL("docs/", ROOT))) {
    if (entry.name.endsWith(".md")) files.push(`docs/${entry.name}`);
  }
  return files.map((file) => Deno.readTextFileSync(new URL(file, ROOT))).join("\n");
}

Deno.test("docs: every flag of every command is documented", () => {
  const text = docsText();
  const missing = [...programFlags()].filter(([flag]) =>
    !new RegExp(`${flag}(?![a-z0-9-])`).test(text)
  )
    .map(([flag, commands]) => `${flag} (${commands.join(", ")})`);
  assert.deepEqual(missing, [], "flags in --help that no doc mentions");
});

Deno.test("docs: every flag the docs name exists (or belongs to another tool)", () => {
  const flags = programFlags();
  const named = new Set(docsText().match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? []);
  const unknown = [...named].filter((flag) => !flags.has(flag) && !OTHER_TOOLS.has(flag)).sort();
  assert.deepEqual(unknown, [], "flags in the docs that no command has");
});
