/**
 * Soak: connect/disconnect cycles and many short tunnelled connections must
 * leave no file descriptors and no memory behind; many approved peers on one
 * server, with the memory each costs.
 *
 * @module
 */

import { rssKiB } from "../../bench/lib/proc.ts";
import { shortConnections, transfer } from "../load.ts";
import { format } from "../report.ts";
import { fdCount } from "../rig.ts";
import { type Context, since, sleep, startTool, toolSays, transferCheck } from "./context.ts";

/** FDs a process may hold above its start after the load (admin keep-alive sockets come and go). */
export const FD_SLACK = 5;
/** RSS growth allowed once the load has ended. */
export const RSS_SLACK = 0.10;

interface Footprint {
  fds: number;
  rssKiB: number;
}

async function footprint(pid: number): Promise<Footprint> {
  return { fds: await fdCount(pid), rssKiB: await rssKiB(pid) };
}

/** Cycles and short connections, then FDs and RSS of the server and client a against their start. */
export async function churn(ctx: Context): Promise<void> {
  const { rig, profile, checks } = ctx;
  const scenario = `churn: ${profile.cycles} reconnects, ${profile.shortConnections} short conns`;
  ctx.log(scenario);
  const tool = startTool("peers.ts", [
    rig.tunnelPort,
    1,
    "cycler",
    rig.echo.port,
    profile.cycles,
    3600,
  ]);
  try {
    const echo = (await rig.appPort("a", "echo"))!;
    const sink = (await rig.appPort("a", "sink"))!;
    // Warm up with the same kinds of load first, so that the start figures include what a
    // working process keeps anyway (V8 keeps the pages of a heap it grew once).
    await shortConnections(echo, 500);
    await transfer(sink, profile.transferMiB, profile.transferTimeoutMs);
    await sleep(Math.max(2000, 2 * profile.keepaliveMs));
    const server = rig.server!;
    const startServer = await footprint(server.pid);
    const startClient = await footprint(ctx.a.process.pid);

    const approve = await toolSays(tool, "approve", 60_000);
    await rig.approveAll(approve.approve as string[]);
    await toolSays(tool, "connected", 60_000);
    const cycled = await toolSays(tool, "cycles", profile.cycles * 2000 + 30_000);
    checks.atMost(
      scenario,
      "connect/disconnect cycles not completed",
      profile.cycles - Number(cycled.cycles),
      0,
      "",
      cycled,
    );

    const moving = transfer(sink, profile.transferMiB, profile.transferTimeoutMs);
    const conns = await shortConnections(echo, profile.shortConnections);
    const moved = await moving;
    checks.atMost(scenario, "short connections failed", conns.failures, 0, "", conns);
    transferCheck(ctx, scenario, moved);
    await tool.closeStdin();
    await tool.stop();

    // Let closes and keepalives settle, then compare.
    await sleep(Math.max(2000, 2 * profile.keepaliveMs));
    const endServer = await footprint(server.pid);
    const endClient = await footprint(ctx.a.process.pid);
    for (
      const [who, start, end] of [["server", startServer, endServer], [
        "client a",
        startClient,
        endClient,
      ]] as const
    ) {
      checks.atMost(
        scenario,
        `${who} FDs flat (start ${start.fds})`,
        end.fds,
        start.fds + FD_SLACK,
        "FDs",
        { start, end },
      );
      checks.atMost(
        scenario,
        `${who} RSS back within 10 % (start ${format(start.rssKiB / 1024)} MiB)`,
        end.rssKiB / 1024,
        (start.rssKiB * (1 + RSS_SLACK)) / 1024,
        "MiB",
        { start, end },
      );
    }
  } catch (error) {
    checks.error(scenario, error);
  } finally {
    await tool.stop();
  }
}

/** N approved peers at once; memory per peer on the server. */
export async function manyPeers(ctx: Context): Promise<void> {
  const { rig, profile, checks } = ctx;
  const scenario = `${profile.peers} approved peers`;
  ctx.log(scenario);
  const tool = startTool("peers.ts", [
    rig.tunnelPort,
    profile.peers,
    "peer",
    rig.echo.port,
    0,
    3600,
  ]);
  try {
    const server = rig.server!;
    const before = await rssKiB(server.pid);
    const approve = await toolSays(tool, "approve", 120_000 + profile.peers * 500);
    const started = performance.now();
    await rig.approveAll(approve.approve as string[]);
    const said = await toolSays(tool, "connected", 180_000);
    const tookMs = since(started);
    await sleep(1000);
    const peers = await rig.get<{ name: string; connected: boolean }[]>("/v1/peers");
    const connected = peers.filter((p) => p.name.startsWith("peer-") && p.connected).length;
    const after = await rssKiB(server.pid);
    const perPeer = (after - before) / profile.peers;
    const sink = (await rig.appPort("a", "sink"))!;
    const moved = await transfer(sink, profile.transferMiB, profile.transferTimeoutMs);
    checks.add({
      scenario,
      name: "every peer approved and connected",
      pass: connected === profile.peers,
      measured: `${connected} in ${tookMs} ms; server +${format(perPeer)} KiB/peer`,
      limit: `${profile.peers}`,
      figures: {
        connected,
        tookMs,
        rssBeforeKiB: before,
        rssAfterKiB: after,
        kibPerPeer: perPeer,
        tool: said,
      },
    });
    transferCheck(ctx, scenario, moved);
  } catch (error) {
    checks.error(scenario, error);
  } finally {
    await tool.closeStdin();
    await tool.stop();
  }
}
