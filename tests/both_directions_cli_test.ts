/**
 * Both directions with real processes, as the README shows them: a server
 * offering `--expose` and `--apps-file` apps (one restricted to a peer), two
 * clients listing what they are offered on their admin APIs and through
 * `wormhole apps list`, the server's side of it in `wormhole offers list`,
 * traffic through an offer, and an offer withdrawn by editing the apps file.
 */

import assert from "node:assert/strict";
import { runWormhole, startClient, startServer, tempDir } from "./harness/process.ts";
import { appPort, echoUpstream, eventually, exchangeText, waitForApps } from "./harness/net.ts";

Deno.test("both directions (processes): offers per peer from --expose and --apps-file, listed by apps list, followed live", async () => {
  await using dir = await tempDir();
  await using db = echoUpstream();
  await using pub = echoUpstream();
  const appsFile = `${dir.path}/offers.yaml`;
  await Deno.writeTextFile(appsFile, `- name: db\n  address: ${db.address}\n  peers: [edge-1]\n`);
  const server = await startServer(`${dir.path}/server`, [
    "--expose",
    `pub=${pub.address}`,
    "--apps-file",
    appsFile,
  ]);
  await using _server = server.proc;
  const client = (name: string) =>
    startClient(server.url, `${dir.path}/${name}`, ["--name", name, "--admin-port", "0"]);
  await using edge1 = client("edge-1");
  await using edge2 = client("edge-2");
  const admin1 = String((await edge1.waitForLog("admin listening")).url);
  const admin2 = String((await edge2.waitForLog("admin listening")).url);

  const dbPort = await appPort(admin1, "db", "central");
  await appPort(admin1, "pub", "central");
  await appPort(admin2, "pub", "central");
  const seen2 = await waitForApps(admin2, (apps) => apps.some((a) => a.app === "pub"));
  assert.deepEqual(seen2.map((a) => a.app), ["pub"], "edge-2 never hears of db");

  assert.equal(await exchangeText(dbPort, "select 1"), "select 1");

  const table = await runWormhole(["apps", "list", "--admin", admin1]);
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, new RegExp(`^central\\s+db\\s+127\\.0\\.0\\.1:${dbPort}\\s`, "m"));
  assert.match(table.stdout, /^central\s+pub\s+127\.0\.0\.1:\d+\s/m);
  // With the traffic through the offer (8 bytes each way, one connection).
  await eventually(async () => {
    const json = await runWormhole(["apps", "list", "-o", "json", "--admin", admin1]);
    const db = JSON.parse(json.stdout).find((a: { app: string }) => a.app === "db");
    return db.streamsTotal === 1 && db.bytesIn === 8 && db.bytesOut === 8;
  }, "db's traffic in apps list");

  // The operator's view on the server: what it offers, to whom, and the traffic (all peers').
  const offers = await runWormhole(["offers", "list", "--admin", server.admin]);
  assert.equal(offers.code, 0, offers.stderr);
  assert.match(offers.stdout, /^APP\s+UPSTREAM\s+OFFERED TO\s+IN\s+OUT\s+CONNS$/m);
  assert.match(offers.stdout, new RegExp(`^db\\s+${db.address}\\s+edge-1\\s`, "m"));
  assert.match(offers.stdout, new RegExp(`^pub\\s+${pub.address}\\s+every peer\\s`, "m"));
  await eventually(async () => {
    const json = await runWormhole(["offers", "list", "-o", "json", "--admin", server.admin]);
    const db = JSON.parse(json.stdout).find((o: { app: string }) => o.app === "db");
    return db.streamsTotal === 1 && db.bytesIn === 8 && db.bytesOut === 8;
  }, "db's traffic in offers list");
  const onClient = await runWormhole(["offers", "list", "--admin", admin1]);
  assert.equal(onClient.code, 1);
  assert.match(onClient.stderr, /Not available here: \/v1\/offers/);

  await Deno.writeTextFile(appsFile, "[]\n");
  await waitForApps(admin1, (apps) => !apps.some((a) => a.app === "db"));
  await eventually(async () => {
    const json = await runWormhole(["offers", "list", "-o", "json", "--admin", server.admin]);
    return JSON.parse(json.stdout).map((o: { app: string }) => o.app).join() === "pub";
  }, "db no longer in offers list");
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: dbPort }));
});
