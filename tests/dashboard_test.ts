/**
 * The dashboard in a real browser (headless Chromium over the DevTools
 * Protocol) against real server and client processes: approve a waiting
 * client, watch its traffic, revoke it; the token flow; a phone in dark
 * mode; and a page on another origin that tries to approve. Every page must
 * end without console errors or CSP violations.
 *
 * Screenshots go to `.artifacts/dashboard/` (git-ignored). With
 * `UPDATE_SCREENSHOT=1` the overview also replaces `docs/dashboard.png`,
 * the README's picture.
 */

import assert from "node:assert/strict";
import { Browser, CHROMIUM, type Page, type PageProblem } from "./harness/browser.ts";
import { startClient, startServer, tempDir } from "./harness/process.ts";
import { startFakeKube } from "./fake_kube/mod.ts";
import { appPort, echoUpstream, eventually, exchange, randomBytes } from "./harness/net.ts";

if (!CHROMIUM) {
  console.log(
    "chromium not found: the dashboard browser tests are skipped (apt-get install chromium)",
  );
}

const ROOT = new URL("../", import.meta.url);
const ARTIFACTS = new URL(".artifacts/dashboard/", ROOT);
const MANUAL = ["--acceptor", "server"];

async function screenshot(page: Page, name: string): Promise<void> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  await page.screenshot(new URL(name, ARTIFACTS).pathname);
}

/** The text of `selector` in the page, or null when nothing matches. */
function text(page: Page, selector: string): Promise<string | null> {
  return page.evaluate<string | null>(
    `document.querySelector(${JSON.stringify(selector)})?.textContent ?? null`,
  );
}

/** Whether `selector` takes room on the screen (not hidden, by attribute or style). */
function visible(page: Page, selector: string): Promise<boolean> {
  return page.evaluate(
    `(document.querySelector(${JSON.stringify(selector)})?.getClientRects().length ?? 0) > 0`,
  );
}

function click(page: Page, selector: string): Promise<void> {
  return page.evaluate(`document.querySelector(${JSON.stringify(selector)}).click()`);
}

function live(page: Page): Promise<boolean> {
  return eventually(
    async () => await page.evaluate(`document.getElementById("status").dataset.state`) === "live",
    "the dashboard to receive events",
  );
}

function assertNoProblems(problems: PageProblem[], allowed: RegExp[] = []): void {
  const left = problems.filter((p) => !allowed.some((pattern) => pattern.test(p.text)));
  assert.deepEqual(left, [], "no console errors, exceptions or CSP violations");
}

Deno.test({
  name:
    "dashboard: a waiting client is approved with a click, its traffic shows, revoke disconnects it",
  ignore: !CHROMIUM,
  async fn() {
    await using dir = await tempDir();
    await using upstream = echoUpstream();
    const server = await startServer(`${dir.path}/server`, MANUAL);
    await using _server = server.proc;
    await using client = startClient(server.url, `${dir.path}/client`, [
      "--name",
      "edge-berlin",
      "--expose",
      `echo=${upstream.address}`,
    ]);
    const fingerprint = String(
      (await client.waitForLog((l) => l.msg.startsWith("Sending public key"))).fingerprint,
    );
    await client.waitForLog("waiting for the operator to approve this key");
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    await page.emulate({ width: 1100, height: 900, mobile: false, dark: false });
    // No token on loopback: the dashboard opens straight away.
    await page.goto(`${server.admin}/`);
    await live(page);
    assert.equal(await visible(page, "#login"), false, "no token form without a token");
    const row = `#requests tr[data-key="${fingerprint}"]`;
    const waiting = await eventually(() => text(page, row), "the waiting client in the table");
    assert.match(waiting, /edge-berlin/);
    assert.match(waiting, /127\.0\.0\.1:\d+/);
    // The fingerprint in groups of four, to compare with what the client logged.
    assert.ok(waiting.includes(fingerprint.match(/.{4}/g)!.join("")), waiting);
    assert.equal(
      await page.evaluate(
        `document.querySelectorAll(${JSON.stringify(row + " span.fp > span")}).length`,
      ),
      10,
    );
    await screenshot(page, "waiting.png");

    await click(page, `${row} button[data-action="approve"]`);
    await client.waitForLog("accepted by server");
    const port = await appPort(server.admin, "echo");
    const appRow = `#apps tr[data-key="edge-berlin/echo"]`;
    assert.equal(
      await eventually(() => text(page, `${appRow} [data-field="bytesIn"]`), "the app's row"),
      "0 B",
    );
    const payload = randomBytes(300_000);
    assert.equal((await exchange(port, payload)).length, payload.length);
    // 300,000 bytes echoed back (a sample taken during the transfer may show less first).
    await eventually(
      async () => await text(page, `${appRow} [data-field="bytesIn"]`) === "293 KiB",
      "the app's byte counter to rise to 293 KiB",
    );
    // The peer's counter follows the same samples.
    await eventually(
      async () =>
        await text(page, `#peers tr[data-key="edge-berlin"] [data-field="bytesIn"]`) ===
          "293 KiB",
      "the peer's byte counter to rise to 293 KiB",
    );
    assert.equal(await visible(page, "#offers-section"), false, "nothing offered: no section");
    // A lone server (no --ha) has no replica column.
    assert.equal(
      await page.evaluate(`document.querySelectorAll("[data-field=replica]").length`),
      0,
    );
    assert.equal(await text(page, "#peers thead th:nth-child(2)"), "STATUS");
    assert.match(await text(page, `#peers tr[data-key="edge-berlin"]`) ?? "", /connected/);

    // The README's picture: one client waiting, one connected with traffic.
    await using second = startClient(server.url, `${dir.path}/client2`, ["--name", "edge-paris"]);
    await second.waitForLog("waiting for the operator to approve this key");
    await eventually(
      async () => (await text(page, "#requests"))?.includes("edge-paris"),
      "the second client in the table",
    );
    await eventually(
      () =>
        page.evaluate(
          `(document.querySelector('${appRow} polyline')?.getAttribute("points") ?? "")` +
            `.split(" ").length >= 4`,
        ),
      "a few throughput samples in the sparkline",
    );
    await page.evaluate(`document.activeElement?.blur()`);
    await screenshot(page, "overview.png");
    if (Deno.env.get("UPDATE_SCREENSHOT") === "1") {
      await page.screenshot(new URL("docs/dashboard.png", ROOT).pathname);
    }

    // Revoke asks for a second click.
    const revoke = `#peers tr[data-key="edge-berlin"] button[data-action="revoke"]`;
    await click(page, revoke);
    assert.match(await text(page, revoke) ?? "", /Revoke edge-berlin\?/);
    await click(page, revoke);
    await client.waitForLog(
      (l) => l.msg === "the server refused this client" && /revoked/.test(String(l.reason)),
    );
    await eventually(
      async () =>
        (await text(page, "#peers")) === null ||
        !(await text(page, "#peers"))!.includes("edge-berlin"),
      "the revoked peer to leave the table",
    );
    assert.match(await text(page, "#denied") ?? "", /edge-berlin\s*revoked/);
    assert.match(await text(page, "#events") ?? "", /peer edge-berlin down/);
    // Lifting the denial lets the key ask again: it waits for approval once more.
    await click(page, `#denied tr[data-key="${fingerprint}"] button[data-action="lift"]`);
    await eventually(() => text(page, row), "the lifted key waiting again");
    assert.match(await text(page, "#denied") ?? "", /No key is denied/);
    assertNoProblems(page.problems);
  },
});

Deno.test({
  name:
    "dashboard: with a token it asks once, keeps it in sessionStorage, never in a URL or cookie",
  ignore: !CHROMIUM,
  async fn() {
    await using dir = await tempDir();
    const token = "dashboard-s3cr3t";
    const server = await startServer(`${dir.path}/server`, ["--admin-token", token]);
    await using _server = server.proc;
    await using _client = startClient(server.url, `${dir.path}/client`, [
      "--name",
      "edge-tokyo",
      "--expose",
      "web=127.0.0.1:9",
    ]);
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    await page.emulate({ width: 390, height: 844, mobile: true, dark: true });
    await page.goto(`${server.admin}/`);
    await eventually(() => visible(page, "#login"), "the token form");
    assert.equal(await visible(page, "#main"), false);
    await page.evaluate(`document.getElementById("token").value = ${JSON.stringify(token)}`);
    await click(page, `#login button[type="submit"]`);
    await live(page);
    await eventually(
      async () => (await text(page, "#apps"))?.includes("edge-tokyo"),
      "the app with the token",
    );
    assert.equal(await page.evaluate(`sessionStorage.getItem("wormhole.adminToken")`), token);
    assert.equal(await page.evaluate(`document.cookie`), "");
    assert.doesNotMatch(await page.evaluate<string>(`location.href`), new RegExp(token));
    // A reload in the same tab needs no second login.
    await page.goto();
    await live(page);
    assert.equal(await visible(page, "#login"), false);
    assert.equal(await visible(page, "#main"), true);

    // A phone in dark mode: dark background, nothing wider than the screen.
    const background = await page.evaluate<string>(
      `getComputedStyle(document.body).backgroundColor`,
    );
    const [r, g, b] = background.match(/\d+/g)!.map(Number);
    assert.ok(r + g + b < 150, `dark background: ${background}`);
    assert.ok(
      await page.evaluate(`document.documentElement.scrollWidth <= window.innerWidth`),
      "no sideways scrolling of the page",
    );
    await screenshot(page, "phone-dark.png");
    // The first load without the token was refused (401s are the browser's network errors).
    assertNoProblems(page.problems, [/status of 401/]);

    // The policy blocks injected inline script and style, and the test sees it do so.
    await page.evaluate(`(() => {
      const script = document.createElement("script");
      script.textContent = "window.injected = true";
      document.body.append(script);
      document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
    })()`);
    assert.equal(await page.evaluate(`window.injected === true`), false);
    await eventually(
      () => page.problems.some((p) => /CSP violation: style-src/.test(p.text)),
      "the style violation reported",
    );
    assert.ok(page.problems.some((p) => /CSP violation: script-src/.test(p.text)));
  },
});

Deno.test({
  name: "dashboard: a page on another origin cannot approve a waiting client",
  ignore: !CHROMIUM,
  async fn() {
    await using dir = await tempDir();
    const server = await startServer(`${dir.path}/server`, MANUAL);
    await using _server = server.proc;
    await using client = startClient(server.url, `${dir.path}/client`, ["--name", "edge-target"]);
    const fingerprint = String(
      (await client.waitForLog((l) => l.msg.startsWith("Sending public key"))).fingerprint,
    );
    await client.waitForLog("waiting for the operator to approve this key");
    await using evil = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      () =>
        new Response("<!doctype html><title>another site</title>", {
          headers: { "content-type": "text/html" },
        }),
    );
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${evil.addr.port}/`);
    const target = `${server.admin}/v1/requests/${fingerprint}`;
    const outcomes = await page.evaluate<string[]>(`(async () => {
      const tries = [
        { method: "POST", headers: { "content-type": "application/json" }, body: "{}" },
        { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: "{}" },
        { method: "POST", mode: "no-cors" },
        { method: "DELETE", headers: { "content-type": "application/json" } },
      ];
      const out = [];
      for (const init of tries) {
        try {
          const response = await fetch(${JSON.stringify(target)}, init);
          out.push(response.type + " " + response.status);
        } catch (error) {
          out.push("refused: " + error.name);
        }
      }
      return out;
    })()`);
    // CORS: the JSON writes never get past the preflight; the simple ones get an opaque 403.
    assert.deepEqual(outcomes, [
      "refused: TypeError",
      "opaque 0",
      "opaque 0",
      "refused: TypeError",
    ]);
    const pending = await (await fetch(`${server.admin}/v1/requests`)).json();
    assert.deepEqual(pending, [fingerprint], "still waiting, not approved or declined");
    const denied = await (await fetch(`${server.admin}/v1/denied`)).json();
    assert.deepEqual(denied, []);
    assert.equal(client.logs.some((l) => l.msg === "accepted by server"), false);
  },
});

Deno.test({
  name:
    "dashboard: under --ha the REPLICA column shows which replica holds each peer and app (a lone server has none)",
  ignore: !CHROMIUM,
  async fn() {
    await using kube = await startFakeKube({ namespaces: ["default", "wormhole"] });
    await using dir = await tempDir();
    await using upstream = echoUpstream();
    const replica = (name: string) => [
      ...["--acceptor", "dummy", "--kubernetes", "--kubernetes-namespace", "wormhole"],
      ...["--kubernetes-labels", "app=wormhole-server"],
      ...["--state", "kubernetes", "--ha", "--replica-name", name],
      ...["--advertise-address", "127.0.0.1"],
    ];
    // a first: it creates the shared key that b then reads from the Secret.
    const a = await startServer(`${dir.path}/a`, replica("wormhole-server-a"), kube.env);
    await using _a = a.proc;
    const b = await startServer(`${dir.path}/b`, replica("wormhole-server-b"), kube.env);
    await using _b = b.proc;
    await using _onA = startClient(a.url, `${dir.path}/edge-a`, [
      "--name",
      "edge-a",
      "--expose",
      `echo=${upstream.address}`,
    ]);
    await using _onB = startClient(b.url, `${dir.path}/edge-b`, ["--name", "edge-b"]);
    // b's peer reaches a through the shared state, which raises no event on a: the page loads after.
    await eventually(async () => {
      const peers = await (await fetch(`${a.admin}/v1/peers`)).json() as string[];
      const apps = await (await fetch(`${a.admin}/v1/apps`)).json() as unknown[];
      return peers.length === 2 && apps.length === 1;
    }, "both peers and edge-a's app in replica a's lists");
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    await page.emulate({ width: 1100, height: 900, mobile: false, dark: false });
    // Replica a's dashboard: its own peer and, from the shared state, b's.
    await page.goto(`${a.admin}/`);
    await live(page);
    const cell = (row: string) => text(page, `${row} [data-field="replica"]`);
    assert.equal(
      await eventually(() => cell(`#peers tr[data-key="edge-b"]`), "edge-b's row"),
      "wormhole-server-b",
    );
    assert.equal(await cell(`#peers tr[data-key="edge-a"]`), "wormhole-server-a");
    assert.equal(await text(page, "#peers thead th:nth-child(2)"), "REPLICA");
    assert.equal(
      await eventually(() => cell(`#apps tr[data-key="edge-a/echo"]`), "edge-a's app row"),
      "wormhole-server-a",
    );
    await screenshot(page, "ha.png");
    assertNoProblems(page.problems);
  },
});

Deno.test({
  name:
    "dashboard: a server's offers show with whom they are offered to and their traffic; a server that offers nothing shows no such section",
  ignore: !CHROMIUM,
  async fn() {
    await using dir = await tempDir();
    await using db = echoUpstream();
    const appsFile = `${dir.path}/offers.yaml`;
    await Deno.writeTextFile(
      appsFile,
      `- name: db\n  address: ${db.address}\n  peers: [edge-1, edge-2]\n`,
    );
    const server = await startServer(`${dir.path}/server`, ["--apps-file", appsFile]);
    await using _server = server.proc;
    await using client = startClient(server.url, `${dir.path}/edge-1`, [
      "--name",
      "edge-1",
      "--admin-port",
      "0",
    ]);
    const clientAdmin = String((await client.waitForLog("admin listening")).url);
    const port = await appPort(clientAdmin, "db", "central");
    await using browser = await Browser.launch();
    const page = await browser.newPage();
    await page.emulate({ width: 1100, height: 900, mobile: false, dark: false });
    await page.goto(`${server.admin}/`);
    await live(page);
    const row = `#offers tr[data-key="db"]`;
    const offered = await eventually(() => text(page, row), "the offer in the table");
    assert.match(offered, new RegExp(`^db${db.address.replaceAll(".", "\\.")}edge-1, edge-2`));
    assert.equal(await visible(page, "#offers-section"), true);

    const payload = randomBytes(100_000);
    assert.equal((await exchange(port, payload)).length, payload.length);
    // The client's bytes to the central app are IN for the server, the answers OUT.
    await eventually(
      async () =>
        await text(page, `${row} [data-field="bytesIn"]`) === "98 KiB" &&
        await text(page, `${row} [data-field="bytesOut"]`) === "98 KiB",
      "the offer's counters to rise to 98 KiB",
    );

    // The offer withdrawn (apps file emptied): the section goes.
    await Deno.writeTextFile(appsFile, "[]\n");
    await eventually(
      async () => !await visible(page, "#offers-section"),
      "the offers section to hide once nothing is offered",
    );
    assertNoProblems(page.problems);
  },
});
