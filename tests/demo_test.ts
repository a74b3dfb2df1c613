/** `deno task demo --once` works from a clone: the README's first command. */

import assert from "node:assert/strict";

Deno.test("demo: --once carries one request through a real tunnel and exits 0", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../scripts/demo.ts", import.meta.url).pathname, "--once"],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr);
  assert.equal(output.code, 0, stdout + stderr);
  assert.match(
    stdout,
    /Sending public key to the server, please make sure, that the fingerprint matches: [0-9a-f]{40}/,
  );
  assert.match(stdout, /wormhole requests accept [0-9a-f]{40}/);
  assert.match(stdout, /HTTP 200: Hello through the wormhole!/);
  assert.match(stdout, /Demo finished/);
});
