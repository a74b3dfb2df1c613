// "ssh -R": a throwaway sshd (own config, host key and user key in a temp dir, 127.0.0.1 only)
// and an OpenSSH client holding one remote forward per upstream service. Cipher: OpenSSH default.

import {
  descendants,
  makeTempDir,
  type Proc,
  removeTempDir,
  run,
  spawn,
  treeCpuSeconds,
  treeRssKiB,
} from "../lib/proc.ts";
import { freePort, waitForPort } from "../lib/net.ts";
import { startDelayProxy } from "../lib/measure.ts";
import type { BenchSystem, Ports } from "./types.ts";

const SSHD = "/usr/sbin/sshd"; // sshd refuses to re-exec itself unless started by absolute path

async function keygen(path: string) {
  const r = await run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "bench", "-f", path], {
    timeoutMs: 10_000,
    ulimit: false,
  });
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.stdout}${r.stderr}`);
}

export const ssh: BenchSystem = {
  id: "ssh",
  label: "ssh -R",
  async start(upstream: Ports, log, options = {}) {
    log(`ssh: generating keys and sshd config`);
    const dir = await makeTempDir("ssh");
    const procs: Proc[] = [];
    const stop = async () => {
      for (const p of procs.reverse()) await p.stop();
      await removeTempDir(dir);
    };
    try {
      // sshd insists on its compiled-in privilege separation directory, even with -f.
      await Deno.mkdir("/run/sshd", { recursive: true, mode: 0o755 });
      await keygen(`${dir}/host_ed25519`);
      await keygen(`${dir}/id_ed25519`);
      await Deno.copyFile(`${dir}/id_ed25519.pub`, `${dir}/authorized_keys`);
      const port = freePort();
      const config = [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${dir}/host_ed25519`,
        `PidFile ${dir}/sshd.pid`,
        "PermitRootLogin prohibit-password",
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "StrictModes no",
        "UsePAM no",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "AllowTcpForwarding yes",
        "GatewayPorts no",
        "X11Forwarding no",
        "PrintMotd no",
        "UseDNS no",
        "LogLevel INFO",
        "",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/sshd_config`, config);
      const test = await run(SSHD, ["-t", "-f", `${dir}/sshd_config`], {
        timeoutMs: 10_000,
        ulimit: false,
      });
      if (test.code !== 0) throw new Error(`sshd -t rejected the config: ${test.stdout}`);

      const sshd = spawn("sshd", SSHD, ["-f", `${dir}/sshd_config`, "-D", "-e"]);
      procs.push(sshd);
      await sshd.waitForLine((l) => l.includes("Server listening on 127.0.0.1"), 10_000);

      let dialPort = port;
      if (options.delayMs !== undefined) {
        const proxy = await startDelayProxy("ssh-delay", port, options.delayMs);
        procs.push(proxy.proc);
        dialPort = proxy.port;
        log(`ssh: client dials through a delay proxy (${options.delayMs} ms each way)`);
      }

      const entry: Ports = { iperf: freePort(), http: freePort(), tcp: freePort() };
      const forwards = (["iperf", "http", "tcp"] as const).flatMap((k) => [
        "-R",
        `127.0.0.1:${entry[k]}:127.0.0.1:${upstream[k]}`,
      ]);
      const clientArgs = [
        "-F",
        "/dev/null", // ignore ~/.ssh/config and /etc/ssh/ssh_config
        "-i",
        `${dir}/id_ed25519`,
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ExitOnForwardFailure=yes",
        "-o",
        "LogLevel=ERROR",
        "-p",
        String(dialPort),
        "-N",
        ...forwards,
        "root@127.0.0.1",
      ];
      const client = spawn("ssh", "ssh", clientArgs);
      procs.push(client);
      await waitForPort(entry.http, 15_000, () => client.alive);
      await waitForPort(entry.tcp, 15_000, () => client.alive);

      // The cipher is left at OpenSSH's default: the client's first preference (which the
      // default sshd accepts). Record it, and the versions, for the results file.
      const g = await run("ssh", ["-F", "/dev/null", "-G", "127.0.0.1"], {
        timeoutMs: 5000,
        ulimit: false,
      });
      const ciphers = g.stdout.match(/^ciphers (.+)$/m)?.[1] ?? "";
      const version = await run("ssh", ["-V"], { timeoutMs: 5000, ulimit: false });

      return {
        entry,
        // sshd: only its per-connection session processes (the listener itself is excluded)
        rss: async () => {
          const sessions = await descendants(sshd.pid);
          return {
            server: await treeRssKiB(sessions, false),
            client: await treeRssKiB([client.pid]),
          };
        },
        // sshd: the listener and its session processes, including sessions that ended
        // (the listener reaps them, so their time is in its cutime/cstime)
        cpu: async () => ({
          server: await treeCpuSeconds([sshd.pid]),
          client: await treeCpuSeconds([client.pid]),
        }),
        info: {
          version: (version.stdout + version.stderr).trim(),
          cipher: ciphers.split(",")[0] ?? "default",
          sshdPort: port,
          entry,
          delayMs: options.delayMs,
        },
        stop,
      };
    } catch (e) {
      const tails = procs.map((p) => `${p.name}: ${p.tail(3)}`).join("; ");
      await stop();
      throw new Error(`${e instanceof Error ? e.message : e}${tails ? ` [${tails}]` : ""}`);
    }
  },
};
