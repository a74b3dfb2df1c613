// Machine description recorded next to the results.

import { run } from "./proc.ts";

async function firstLine(cmd: string, args: string[]): Promise<string | null> {
  try {
    const r = await run(cmd, args, { timeoutMs: 5000, ulimit: false });
    const text = (r.stdout + r.stderr).trim();
    return text ? text.split("\n")[0] : null;
  } catch {
    return null;
  }
}

export async function machineInfo() {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const meminfo = await Deno.readTextFile("/proc/meminfo").catch(() => "");
  const memKiB = Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0);
  const nofile = await firstLine("bash", [
    "-c",
    'ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ulimit -n',
  ]);
  return {
    cores: navigator.hardwareConcurrency,
    cpuModel: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? "unknown",
    memTotalGiB: Math.round((memKiB / 1024 / 1024) * 10) / 10,
    kernel: Deno.osRelease(),
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    openFilesLimitForChildren: nofile,
    tools: {
      iperf3: await firstLine("iperf3", ["--version"]),
      wrk: await firstLine("wrk", ["-v"]),
      ssh: await firstLine("ssh", ["-V"]),
    },
  };
}
