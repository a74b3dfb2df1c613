/**
 * The container sandbox as a process sees it: only its volumes are writable,
 * it runs as the pod's user and groups without capabilities, and the host's
 * file system is untouched. Needs root (mount namespaces); skipped otherwise.
 */

import assert from "node:assert/strict";
import { tempDir } from "../../harness/process.ts";
import { sandboxScript, shellQuote } from "./sandbox.ts";

const root = Deno.uid() === 0;

/** Runs `check` (sh) in a sandbox with one writable volume at `/var/lib/wormhole`. */
async function inSandbox(check: string, readOnlyVolume = false) {
  await using dir = await tempDir();
  const volume = `${dir.path}/state`;
  const secret = `${dir.path}/secret`;
  await Deno.mkdir(volume);
  // Owned by root and the fsGroup (2000), as the kubelet leaves it: writable through the group.
  await Deno.chown(volume, 0, 2000);
  await Deno.chmod(volume, 0o2775);
  await Deno.mkdir(secret);
  await Deno.writeTextFile(`${secret}/token`, "t");
  const script = sandboxScript({
    scratch: dir.path,
    ownedDirs: ["/var/lib/wormhole"],
    imageUid: 1337,
    imageGid: 1337,
    binds: [
      { source: volume, target: "/var/lib/wormhole", readOnly: readOnlyVolume },
      { source: secret, target: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
    ],
    readOnlyRoot: true,
    uid: 1337,
    gid: 1337,
    groups: [2000],
    noNewPrivs: true,
    dropAllCapabilities: true,
    workdir: "/var/lib/wormhole",
  });
  const out = await new Deno.Command("unshare", {
    args: [
      "--mount",
      "--propagation=private",
      "--",
      "sh",
      "-c",
      script,
      "sh",
      "HOME=/",
      "/bin/sh",
      "-c",
      check,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: text(out.stdout).trim(), stderr: text(out.stderr) };
}

Deno.test({
  name:
    "sandbox: the container writes its volume only, as uid 1337 in its fsGroup, without capabilities",
  ignore: !root,
  async fn() {
    const result = await inSandbox([
      "id -u; id -g; id -G; pwd; echo HOME=$HOME",
      "grep CapEff /proc/self/status",
      "echo ok > /var/lib/wormhole/written && echo volume-writable",
      "for p in / /var/tmp /var/lib /etc /run /var/run/secrets/kubernetes.io/serviceaccount; do",
      '  if touch "$p/probe-file" 2>/dev/null; then echo "WRITABLE $p"; fi',
      "done",
      "cat /var/run/secrets/kubernetes.io/serviceaccount/token; echo",
    ].join("\n"));
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.split("\n");
    assert.deepEqual(lines.slice(0, 5), [
      "1337",
      "1337",
      "1337 2000",
      "/var/lib/wormhole",
      "HOME=/",
    ]);
    assert.match(lines[5], /^CapEff:\s+0+$/);
    assert.equal(lines[6], "volume-writable");
    assert.deepEqual(lines.filter((line) => line.startsWith("WRITABLE")), []);
    assert.equal(lines.at(-1), "t");
  },
});

Deno.test({
  name: "sandbox: a readOnly volume is read-only, and the host never sees the mount points",
  ignore: !root,
  async fn() {
    const result = await inSandbox(
      "touch /var/lib/wormhole/x 2>/dev/null && echo WRITABLE; true",
      true,
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, "");
    // The overlay that added them lived in the sandbox's mount namespace only.
    await assert.rejects(Deno.stat("/var/lib/wormhole"), Deno.errors.NotFound);
    await assert.rejects(Deno.stat("/run/secrets/kubernetes.io"), Deno.errors.NotFound);
  },
});

Deno.test("sandbox: shellQuote survives quotes and spaces", async () => {
  const text = `it's a "test" $HOME \\ end`;
  const out = await new Deno.Command("sh", { args: ["-c", `printf %s ${shellQuote(text)}`] })
    .output();
  assert.equal(new TextDecoder().decode(out.stdout), text);
});
