// Makes sure the external tools the bench needs are installed (Debian packages via apt-get).

import { run } from "./proc.ts";

export interface Tool {
  bin: string;
  pkg: string;
}

export const TOOLS = {
  iperf3: { bin: "iperf3", pkg: "iperf3" },
  wrk: { bin: "wrk", pkg: "wrk" },
  ssh: { bin: "ssh", pkg: "openssh-client" },
  sshKeygen: { bin: "ssh-keygen", pkg: "openssh-client" },
  sshd: { bin: "/usr/sbin/sshd", pkg: "openssh-server" },
} satisfies Record<string, Tool>;

async function present(bin: string): Promise<boolean> {
  if (bin.startsWith("/")) {
    return await Deno.stat(bin).then((s) => s.isFile, () => false);
  }
  const r = await run("which", [bin], { timeoutMs: 5000, ulimit: false });
  return r.code === 0;
}

/** Install (apt-get) whatever of `tools` is missing. Throws if it is still missing afterwards. */
export async function ensureTools(tools: Tool[], allowInstall: boolean, log: (s: string) => void) {
  const missing: Tool[] = [];
  for (const t of tools) if (!(await present(t.bin))) missing.push(t);
  if (!missing.length) return;
  const pkgs = [...new Set(missing.map((t) => t.pkg))];
  if (!allowInstall) throw new Error(`missing tools: ${pkgs.join(", ")} (and --no-install given)`);
  log(`installing ${pkgs.join(" ")} with apt-get ...`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  const upd = await run("apt-get", ["update"], { timeoutMs: 300_000, env, ulimit: false });
  if (upd.code !== 0) throw new Error(`apt-get update failed: ${upd.stderr.slice(-500)}`);
  const inst = await run(
    "apt-get",
    ["install", "-y", "--no-install-recommends", ...pkgs],
    { timeoutMs: 600_000, env, ulimit: false },
  );
  if (inst.code !== 0) throw new Error(`apt-get install failed: ${inst.stderr.slice(-500)}`);
  for (const t of missing) {
    if (!(await present(t.bin))) {
      throw new Error(`${t.bin} still missing after installing ${t.pkg}`);
    }
  }
}
