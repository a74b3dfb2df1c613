import assert from "node:assert/strict";

/** What `mallocTrim()` gives in a process run with `permissions`. */
async function inProcess(permissions: string[]): Promise<{ found: boolean; result: string }> {
  const code = `
    import { mallocTrim } from ${JSON.stringify(new URL("./malloc_trim.ts", import.meta.url).href)};
    const trim = mallocTrim();
    const held = Array.from({ length: 256 }, () => new Uint8Array(64 * 1024).fill(1));
    held.length = 0;
    console.log(JSON.stringify({ found: trim !== null, result: typeof trim?.() }));
  `;
  // `deno run -` (the program on stdin) keeps to the given permissions; `deno eval` grants all.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...permissions, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(code));
  await writer.close();
  const { code: status, stdout, stderr } = await child.output();
  assert.equal(status, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

Deno.test("malloc_trim: without --allow-ffi there is none, and nothing is asked or thrown", async () => {
  assert.deepEqual(await inProcess([]), { found: false, result: "undefined" });
});

Deno.test("malloc_trim: with --allow-ffi on Linux (glibc) it is glibc's, and it runs", async () => {
  if (Deno.build.os !== "linux") return;
  assert.deepEqual(await inProcess(["--allow-ffi"]), { found: true, result: "boolean" });
});
