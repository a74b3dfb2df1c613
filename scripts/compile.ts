/**
 * `deno task compile`: builds the single `wormhole` binary into dist/.
 *
 * `deno compile` needs a `denort` runtime matching this Deno. It downloads
 * one from the Deno CDN unless `DENORT_BIN` names a local copy. Where the
 * CDN cannot be reached this fails with a message saying so, instead of
 * Deno's raw download error.
 *
 * @module
 */

import { PERMISSIONS } from "./lib/wormhole_process.ts";

const output = Deno.args[0] ?? "dist/wormhole";
const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  try {
    await Deno.stat(denort);
  } catch {
    console.error(`error: DENORT_BIN=${denort} does not exist`);
    Deno.exit(2);
  }
}
const result = await new Deno.Command(Deno.execPath(), {
  args: [
    "compile",
    "--frozen",
    // The same V8 flags and permissions as every other way of running wormhole.
    ...PERMISSIONS,
    "--output",
    output,
    "mod.ts",
  ],
  cwd: new URL("..", import.meta.url).pathname,
  stdout: "inherit",
  stderr: "piped",
}).output();
const stderr = new TextDecoder().decode(result.stderr);
if (result.success) {
  console.log(`Built ${output}${denort ? ` with the runtime ${denort}` : ""}`);
  Deno.exit(0);
}
console.error(stderr.trim());
if (!denort && /download|dns|connect|network|fetch/i.test(stderr)) {
  console.error(
    "\nerror: deno compile could not download its runtime (denort) from the Deno CDN.\n" +
      "This machine cannot reach it. Either build where it is reachable (the Dockerfile in\n" +
      "deploy/docker does), or set DENORT_BIN to a denort binary of this Deno version.\n" +
      "The single-file build that needs no download: deno task bundle (dist/wormhole.js).",
  );
}
Deno.exit(1);
