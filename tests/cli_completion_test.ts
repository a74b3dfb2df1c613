/**
 * `wormhole completion`: the bash script completes commands, sub-commands,
 * flags and `-o` values in a real bash; the zsh and fish scripts name every
 * command and flag.
 */

import assert from "node:assert/strict";
import { runWormhole } from "./harness/process.ts";

async function complete(script: string, words: string[]): Promise<string[]> {
  const line = words.map((w) => `'${w}'`).join(" ");
  const out = await new Deno.Command("bash", {
    args: [
      "-c",
      `eval "$WORMHOLE_COMPLETION"; COMP_WORDS=(${line}); COMP_CWORD=${words.length - 1}; ` +
      `_wormhole; printf '%s\\n' "\${COMPREPLY[@]}"`,
    ],
    env: { WORMHOLE_COMPLETION: script },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((w) => w !== "");
}

Deno.test("completion: bash completes commands, sub-commands, flags and -o values", async () => {
  const { code, stdout, stderr } = await runWormhole(["completion", "bash"]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(await complete(stdout, ["wormhole", "re"]), ["requests"]);
  assert.deepEqual(await complete(stdout, ["wormhole", "requests", ""]), [
    "list",
    "ls",
    "accept",
    "decline",
    "--help",
  ]);
  assert.deepEqual(await complete(stdout, ["wormhole", "peers", "list", "--w"]), ["--watch"]);
  assert.deepEqual(await complete(stdout, ["wormhole", "apps", "ls", "--admin", "x", "-o", ""]), [
    "table",
    "wide",
    "json",
  ]);
  assert.deepEqual(await complete(stdout, ["wormhole", "server", "--admin-t"]), [
    "--admin-token",
  ]);
  assert.deepEqual(await complete(stdout, ["wormhole", "completion", "f"]), ["fish"]);
});

Deno.test("completion: zsh and fish scripts cover the commands; an unknown shell is a usage error", async () => {
  const zsh = await runWormhole(["completion", "zsh"]);
  assert.equal(zsh.code, 0, zsh.stderr);
  assert.match(zsh.stdout, /^#compdef wormhole\n/);
  assert.match(zsh.stdout, /bashcompinit/);
  const fish = await runWormhole(["completion", "fish"]);
  assert.equal(fish.code, 0, fish.stderr);
  for (const command of ["server", "client", "requests", "peers", "apps", "denied", "completion"]) {
    assert.match(fish.stdout, new RegExp(`-a ${command} -d `), command);
  }
  assert.match(fish.stdout, /requests; and __fish_seen_subcommand_from list' -l watch/);
  const bad = await runWormhole(["completion", "powershell"]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /'powershell' is invalid for argument 'shell'\. choose one of bash, zsh, fish/,
  );
});
