/**
 * One set of V8 flags for every way of running wormhole (see "Memory" in docs/architecture.md):
 * the constant in scripts/lib/wormhole_process.ts, which the tests, the bench and
 * `deno task compile` use, must match the deno task, the Dockerfile and the README.
 */

import assert from "node:assert/strict";
import { PERMISSIONS, V8_FLAGS } from "../scripts/lib/wormhole_process.ts";

Deno.test("V8 flags: the deno task, the Dockerfile and the README use V8_FLAGS", () => {
  const root = new URL("../", import.meta.url);
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root))).tasks;
  assert.ok(tasks.wormhole.split(" ").includes(V8_FLAGS), `deno task wormhole: ${tasks.wormhole}`);
  const readme = Deno.readTextFileSync(new URL("README.md", root));
  const used = readme.match(/--v8-flags=\S+/g) ?? [];
  assert.ok(used.length > 0, "the README shows how to run the bundle");
  for (const flag of used) assert.equal(flag, V8_FLAGS);
  const dockerfile = Deno.readTextFileSync(new URL("deploy/docker/Dockerfile", root));
  assert.ok(dockerfile.split(/\s+/).includes(V8_FLAGS), "deno compile in the Dockerfile");
});

Deno.test("run flags: deno task wormhole (which ./wormhole runs) and the Dockerfile use PERMISSIONS", () => {
  const root = new URL("../", import.meta.url);
  const tasks = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root))).tasks;
  assert.equal(tasks.wormhole, `deno run ${PERMISSIONS.join(" ")} mod.ts`);
  const launcher = Deno.readTextFileSync(new URL("wormhole", root));
  assert.match(launcher, /"wormhole": "deno run/, "./wormhole reads the deno task");
  const dockerfile = Deno.readTextFileSync(new URL("deploy/docker/Dockerfile", root)).split(/\s+/);
  for (const flag of PERMISSIONS) assert.ok(dockerfile.includes(flag), `Dockerfile: ${flag}`);
});

Deno.test("V8 flags: they expose gc(), with which the data path collects its buffers", async () => {
  const flags = V8_FLAGS.slice("--v8-flags=".length).split(",");
  assert.ok(flags.includes("--expose-gc"));
  const { code, stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", V8_FLAGS, 'gc({ type: "minor", execution: "sync" }); console.log(typeof gc)'],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.equal(code, 0);
  assert.equal(new TextDecoder().decode(stdout).trim(), "function");
});
