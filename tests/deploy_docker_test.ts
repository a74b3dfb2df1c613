/**
 * Static checks of deploy/docker/Dockerfile (there is no Docker engine here).
 */

import assert from "node:assert/strict";
import { STATE_DIR } from "./deploy/flags.ts";
import { V8_FLAGS } from "../scripts/lib/wormhole_process.ts";

const DOCKER = new URL("../deploy/docker/", import.meta.url);
const source = Deno.readTextFileSync(new URL("Dockerfile", DOCKER));

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  image: string;
  name?: string;
  instructions: Instruction[];
}

/** Instructions (comments dropped, continuation lines joined) grouped by stage. */
function parseDockerfile(text: string): Stage[] {
  const lines = text.split("\n").filter((line) => !/^\s*#/.test(line));
  const logical: string[] = [];
  let current = "";
  for (const line of lines) {
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    current += line;
    if (current.trim()) logical.push(current.trim().replace(/\s+/g, " "));
    current = "";
  }
  assert.equal(current, "", "Dockerfile ends with a continuation");
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, keyword, args] = /^(\S+)\s*(.*)$/.exec(line)!;
    const instruction = { keyword: keyword.toUpperCase(), args };
    if (instruction.keyword === "FROM") {
      const match = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      assert.ok(match, `FROM ${args}`);
      stages.push({ image: match[1], name: match[2], instructions: [] });
      continue;
    }
    assert.ok(stages.length > 0 || instruction.keyword === "ARG", `${keyword} before FROM`);
    stages.at(-1)?.instructions.push(instruction);
  }
  return stages;
}

const stages = parseDockerfile(source);
const [build, final] = [stages[0], stages.at(-1)!];
const all = (stage: Stage, keyword: string) =>
  stage.instructions.filter((instruction) => instruction.keyword === keyword).map((i) => i.args);
/** The Docker engine's split of `RUN a && b` is the shell's; good enough for these files. */
const commands = (stage: Stage) => all(stage, "RUN").flatMap((run) => run.split(/\s*&&\s*/));

Deno.test("docker: two stages, official Deno 2.9.6 to build, distroless cc-debian12 to run", () => {
  assert.equal(stages.length, 2);
  assert.equal(build.image, "denoland/deno:2.9.6");
  assert.equal(build.name, "build");
  // No :debug variant: those carry a shell.
  assert.match(
    final.image,
    /^gcr\.io\/distroless\/cc-debian12(?::(?:latest|nonroot)|@sha256:[0-9a-f]{64})?$/,
  );
  assert.deepEqual(
    all(final, "RUN"),
    [],
    "distroless has no shell: nothing to RUN in the final stage",
  );
});

Deno.test("docker: the build stage compiles mod.ts into /out/wormhole with the program's permissions only", () => {
  const compiles = commands(build).filter((command) => command.startsWith("deno compile"));
  assert.equal(compiles.length, 1);
  const words = compiles[0].split(" ");
  assert.equal(words.at(-1), "mod.ts");
  assert.equal(words[words.indexOf("--output") + 1], "/out/wormhole");
  const permissions = words.filter((word) => word.startsWith("--allow-") || word === "-A").sort();
  assert.deepEqual(permissions, [
    "--allow-env",
    "--allow-ffi",
    "--allow-net",
    "--allow-read",
    "--allow-sys",
    "--allow-write",
  ]);
  assert.ok(!words.some((word) => word.startsWith("--include")), "no --include");
  assert.ok(words.includes("--frozen"), "the lockfile must be used as is");
  // The binary must not write a code cache: the root file system is read-only.
  assert.ok(words.includes("--no-code-cache"));
  // The same V8 flags as every other way of running it (see docs/architecture.md).
  assert.ok(words.includes(V8_FLAGS));
  // The compiled program starts at all.
  assert.ok(commands(build).includes("/out/wormhole --version"));
  // Only the sources the compile needs come from the context.
  const copied = all(build, "COPY").flatMap((args) => args.split(" ").slice(0, -1));
  assert.deepEqual(copied.sort(), ["deno.json", "deno.lock", "mod.ts", "src"]);
});

Deno.test("docker: the final stage runs wormhole from the PATH as 1337:1337", () => {
  assert.ok(all(final, "COPY").includes("--from=build /out/wormhole /usr/local/bin/wormhole"));
  const entrypoint = all(final, "ENTRYPOINT");
  assert.equal(entrypoint.length, 1);
  assert.deepEqual(JSON.parse(entrypoint[0]), ["wormhole"]); // exec form: signals reach wormhole
  // distroless images put /usr/local/bin on the PATH and set no other.
  assert.deepEqual(all(final, "ENV").filter((env) => env.startsWith("PATH")), []);
  const users = all(final, "USER");
  assert.equal(users.at(-1), "1337:1337");
  // USER comes before ENTRYPOINT and nothing after it needs root.
  const keywords = final.instructions.map((instruction) => instruction.keyword);
  assert.ok(keywords.lastIndexOf("USER") < keywords.indexOf("ENTRYPOINT"));
  assert.ok(!keywords.slice(keywords.lastIndexOf("USER")).includes("COPY"));
  assert.deepEqual(all(final, "EXPOSE"), ["8080 8081"]);
});

Deno.test("docker: the state dir is a volume owned by 1337, created in the build stage", () => {
  const copy = all(final, "COPY").find((args) => args.endsWith(` ${STATE_DIR}`));
  assert.ok(copy, `no COPY into ${STATE_DIR}`);
  const [, chown, from] = /^--from=build --chown=(\S+) (\S+) /.exec(copy) ?? [];
  assert.equal(chown, "1337:1337");
  assert.ok(
    commands(build).some((command) => command === `mkdir -p ${from}`),
    `${from} is not created`,
  );
  assert.ok(all(final, "VOLUME").some((args) => JSON.parse(args).includes(STATE_DIR)));
  assert.ok(all(final, "ENV").includes(`WORMHOLE_STATE_DIR=${STATE_DIR}`));
  // The Kubernetes manifests use the same directory.
  for (
    const file of [
      "../deploy/helm/wormhole/templates/server-deployment.yaml",
      "../deploy/helm/wormhole/templates/client-deployment.yaml",
      "../deploy/kubernetes/server/deployment.yaml",
      "../deploy/kubernetes/client/deployment.yaml",
    ]
  ) {
    const text = Deno.readTextFileSync(new URL(file, import.meta.url));
    assert.ok(text.includes(`--state-dir=${STATE_DIR}`), file);
    assert.ok(text.includes(`mountPath: ${STATE_DIR}`), file);
  }
});

Deno.test("docker: Dockerfile.dockerignore sends only what the build copies", () => {
  const rules = Deno.readTextFileSync(new URL("Dockerfile.dockerignore", DOCKER))
    .split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
  assert.equal(rules[0], "*");
  assert.deepEqual(rules.slice(1).filter((rule) => rule.startsWith("!")).sort(), [
    "!deno.json",
    "!deno.lock",
    "!mod.ts",
    "!src",
  ]);
  // Later exclusions only drop tests.
  assert.deepEqual(rules.slice(1).filter((rule) => !rule.startsWith("!")), ["src/**/*_test.ts"]);
});
