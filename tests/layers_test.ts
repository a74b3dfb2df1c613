/**
 * The layering of src/ as docs/architecture.md states it: each folder is a
 * layer with a `mod.ts` as its import surface, and a layer imports only the
 * layers below it. Test code may also import another folder's test helpers
 * (`testing.ts`).
 */

import assert from "node:assert/strict";

/** The layers of src/, top first: the order of docs/architecture.md's list. */
const LAYERS = [
  "cli",
  "server",
  "client",
  "k8s",
  "admin",
  "metrics",
  "mux",
  "crypto",
  "transport",
  "link",
  "protocol",
  "state",
  "log",
  "memory",
];

const SRC = new URL("../src/", import.meta.url);

/** Every .ts file under src/, as paths relative to it. */
async function sources(dir = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, SRC))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...await sources(`${path}/`));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out.sort();
}

/** The module specifiers of static imports, re-exports and dynamic imports in `text`. */
export function specifiers(text: string): string[] {
  const found: string[] = [];
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*["']([^"']+)["']/gms,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) found.push(match[1]);
  }
  return found;
}

const isTestCode = (path: string) =>
  /_(test|bench)\.ts$/.test(path) || path.endsWith("/testing.ts");

/** What is wrong with `from` importing `specifier`, or undefined. */
function problem(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) {
    if (specifier === "kubernetes-fluent-client" && !from.startsWith("k8s/")) {
      return "only src/k8s imports kubernetes-fluent-client";
    }
    return undefined;
  }
  const target = new URL(specifier, new URL(from, SRC)).href.slice(SRC.href.length);
  const [fromLayer] = from.split("/");
  const parts = target.split("/");
  if (parts.length === 1) {
    // Files beside the layers sit below all of them: version.ts, and the tests' testing.ts.
    return target === "testing.ts" && !isTestCode(from) ? "only tests use testing.ts" : undefined;
  }
  const [toLayer, ...rest] = parts;
  if (toLayer === fromLayer) return undefined;
  const file = rest.join("/");
  if (file !== "mod.ts" && !(file === "testing.ts" && isTestCode(from))) {
    return `reaches past ${toLayer}/mod.ts`;
  }
  const above = LAYERS.indexOf(fromLayer);
  const below = LAYERS.indexOf(toLayer);
  if (above < 0 || below < 0) return `${above < 0 ? fromLayer : toLayer} is not a known layer`;
  if (below <= above) return `${toLayer} is not below ${fromLayer}`;
  return undefined;
}

Deno.test("layers: no import in src/ goes up a layer or past another folder's mod.ts", async () => {
  const problems: string[] = [];
  for (const path of await sources()) {
    const text = await Deno.readTextFile(new URL(path, SRC));
    for (const specifier of specifiers(text)) {
      const wrong = problem(path, specifier);
      if (wrong) problems.push(`src/${path} imports ${specifier}: ${wrong}`);
    }
  }
  assert.deepEqual(problems, []);
});

Deno.test("layers: every folder of src/ is a layer with a mod.ts, in the order the docs list them", async () => {
  const folders: string[] = [];
  for await (const entry of Deno.readDir(SRC)) if (entry.isDirectory) folders.push(entry.name);
  assert.deepEqual(folders.sort(), [...LAYERS].sort());
  for (const layer of LAYERS) await Deno.stat(new URL(`${layer}/mod.ts`, SRC));
  const doc = await Deno.readTextFile(new URL("../docs/architecture.md", import.meta.url));
  const listed = [...doc.matchAll(/^src\/(\w+)\s/gm)].map((m) => m[1]);
  assert.deepEqual(listed, LAYERS);
});

Deno.test("layers: the checker sees imports, re-exports and dynamic imports, and flags each kind of breach", () => {
  assert.deepEqual(
    specifiers(
      'import { a,\n  b } from "../x/mod.ts";\nexport * from "./y.ts";\nimport "./z.ts";\nconst m = await import("../k8s/mod.ts");',
    ),
    ["../x/mod.ts", "./y.ts", "./z.ts", "../k8s/mod.ts"],
  );
  assert.equal(problem("crypto/session.ts", "../mux/mod.ts"), "mux is not below crypto");
  assert.equal(problem("server/server.ts", "../mux/stream.ts"), "reaches past mux/mod.ts");
  assert.equal(problem("server/server.ts", "../mux/testing.ts"), "reaches past mux/mod.ts");
  assert.equal(problem("server/server_test.ts", "../mux/testing.ts"), undefined);
  assert.equal(problem("server/server.ts", "../mux/mod.ts"), undefined);
  assert.equal(problem("server/server.ts", "./app_listener.ts"), undefined);
  assert.equal(problem("server/server.ts", "../version.ts"), undefined);
  assert.equal(problem("k8s/source_test.ts", "../testing.ts"), undefined);
  assert.equal(problem("k8s/source.ts", "../testing.ts"), "only tests use testing.ts");
  assert.equal(
    problem("server/server.ts", "kubernetes-fluent-client"),
    "only src/k8s imports kubernetes-fluent-client",
  );
});
