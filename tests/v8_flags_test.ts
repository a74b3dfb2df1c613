/**
 * One set of V8 flags and one runtime environment for every way of running wormhole (see "Memory"
 * in docs/architecture.md): the constants in scripts/lib/wormhole_process.ts, which the tests, the
 * bench and `deno task compile` use, must match the deno task, ./wormhole, the Dockerfile and the
 * README.
 */

import assert from "node:assert/strict";
import {
  loopbackServerArgs,
  PERMISSIONS,
  RUNTIME_ENV,
  V8_FLAGS,
  WormholeProcess,
} from "../scripts/lib/wormhole_process.ts";

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
  const env = Object.entries(RUNTIME_ENV).map(([name, value]) => `${name}=${value}`).join(" ");
  assert.equal(tasks.wormhole, `${env} deno run ${PERMISSIONS.join(" ")} mod.ts`);
  const launcher = Deno.readTextFileSync(new URL("wormhole", root));
  assert.ok(launcher.includes(`"wormhole": "${env} deno run`), "./wormhole reads the deno task");
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

Deno.test("runtime env: the deno task, ./wormhole, the Dockerfile and every process tests start set it", async () => {
  const root = new URL("../", import.meta.url);
  const dockerfile = Deno.readTextFileSync(new URL("deploy/docker/Dockerfile", root));
  const launcher = Deno.readTextFileSync(new URL("wormhole", root));
  const readme = Deno.readTextFileSync(new URL("README.md", root));
  for (const [name, value] of Object.entries(RUNTIME_ENV)) {
    assert.match(dockerfile, new RegExp(`^ENV ${name}=${value}$`, "m"), `Dockerfile: ${name}`);
    assert.ok(launcher.includes(`export ${name}="\${${name}:-${value}}"`), `./wormhole: ${name}`);
    assert.ok(readme.includes(`${name}=${value} deno run ${V8_FLAGS}`), `README: ${name}`);
  }
  // A real process: what its environment holds, read back from /proc.
  const dir = await Deno.makeTempDir();
  await using server = new WormholeProcess(loopbackServerArgs(dir));
  await server.waitForLog("admin listening");
  // Through cat: Deno lets only --allow-all read /proc/<pid>/environ.
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${server.pid}/environ`] })
    .output();
  const environ = new TextDecoder().decode(stdout).split("\0");
  for (const [name, value] of Object.entries(RUNTIME_ENV)) {
    assert.ok(environ.includes(`${name}=${value}`), `${name} in the process's environment`);
  }
  await server.stop();
  await Deno.remove(dir, { recursive: true });
});
