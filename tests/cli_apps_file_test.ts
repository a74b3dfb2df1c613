/**
 * `--apps-file` that cannot be used at start (missing, not YAML or JSON, not
 * a list of apps): one line naming the file and what is wrong, exit 2 (like
 * a missing `--ca-file`), on the client and on the server.
 */

import assert from "node:assert/strict";
import { runWormhole, tempDir } from "./harness/process.ts";

Deno.test("cli: an unusable --apps-file at start is one line and exit 2, on client and server", async () => {
  await using dir = await tempDir();
  const files: [string, string | null, string][] = [
    ["missing.yaml", null, `Cannot read --apps-file ${dir.path}/missing.yaml: `],
    ["bad.yaml", "- name: web\n  address: [127.0.0.1:80\n", `Cannot parse ${dir.path}/bad.yaml: `],
    ["bad.json", '[{"name": "web",\n', `Cannot parse ${dir.path}/bad.json: `],
    [
      "twice.yaml",
      "- web=127.0.0.1:80\n- web=127.0.0.1:81\n",
      `Cannot read ${dir.path}/twice.yaml: app "web" is listed twice`,
    ],
  ];
  const commands = [
    ["client", "--server", "ws://127.0.0.1:9/wh/tunnel", "--state-dir", `${dir.path}/client`],
    [
      "server",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--admin-port",
      "0",
      "--state-dir",
      `${dir.path}/server`,
    ],
  ];
  for (const [name, text, expected] of files) {
    const path = `${dir.path}/${name}`;
    if (text !== null) await Deno.writeTextFile(path, text);
    for (const command of commands) {
      const { code, stderr } = await runWormhole([...command, "--apps-file", path]);
      assert.equal(code, 2, stderr);
      const errors = stderr.trim().split("\n").filter((line) => !/ INFO /.test(line));
      assert.equal(errors.length, 1, stderr);
      assert.ok(errors[0].startsWith(`error: ${expected}`), errors[0]);
    }
  }
});
