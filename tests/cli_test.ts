/**
 * The `wormhole` command line as a user meets it: usage errors, version,
 * help, environment variables, `apps list` and `testserver`.
 */

import assert from "node:assert/strict";
import {
  runWormhole,
  startClient,
  startServer,
  tempDir,
  WormholeProcess,
} from "./harness/process.ts";
import { appPort, unusedPort } from "./harness/net.ts";
import { VERSION } from "../src/version.ts";

const BAD_VALUES: [string[], Record<string, string>, RegExp][] = [
  [["server", "--port", "70000"], {}, /--port <port>' argument '70000' is invalid/],
  [["server", "--admin-port", "-1"], {}, /--admin-port <port>' argument '-1' is invalid/],
  [["server", "--port-range", "300-100"], {}, /--port-range .* argument '300-100' is invalid/],
  [["server", "--keepalive", "soon"], {}, /--keepalive .* argument 'soon' is invalid/],
  [["server", "--acceptor", "maybe"], {}, /--acceptor .* argument 'maybe' is invalid/],
  [["server", "--path", "tunnel"], {}, /--path .* argument 'tunnel' is invalid/],
  [["server", "--window", "1KiB"], {}, /--window .* argument '1KiB' is invalid/],
  [["server", "--deny-for", "forever"], {}, /--deny-for .* argument 'forever' is invalid/],
  [["server", "--state", "etcd"], {}, /--state .* argument 'etcd' is invalid/],
  [["client", "--state-secret", "Bad_Name"], {}, /--state-secret .* 'Bad_Name' is invalid/],
  [["denied", "remove", "xyz"], {}, /value 'xyz' is invalid for argument 'fingerprint'/],
  [["client", "--server", "http://example.test"], {}, /--server .* 'http:\/\/example.test'/],
  [["client", "--expose", "web=localhost"], {}, /--expose .* argument 'web=localhost' is invalid/],
  [["client", "--expose", "bad name=127.0.0.1:80"], {}, /--expose .* is invalid/],
  [
    ["client", "--expose", "web=:99999"],
    {},
    /'web=:99999' is invalid\. Invalid address ":99999" for app "web": no host, and port 99999 is not in 1-65535 \(expected host:port\)\.$/,
  ],
  [
    ["server", "--expose", "a=h:1", "--expose", "a=h:2"],
    {},
    /--expose <app>' argument 'a=h:2' is invalid\. App "a" is given to --expose twice\.$/,
  ],
  [["client", "--name", "-x-"], {}, /--name .* argument '-x-' is invalid/],
  [["client", "--log-level", "loud"], {}, /--log-level .* argument 'loud' is invalid/],
  [["server"], { WORMHOLE_PORT: "99999" }, /value '99999' from env 'WORMHOLE_PORT' is invalid/],
  [["client"], { WORMHOLE_SERVER: "ftp://x" }, /'ftp:\/\/x' from env 'WORMHOLE_SERVER'/],
  [["server"], { WORMHOLE_ADMIN_INSECURE: "maybe" }, /'maybe' from env 'WORMHOLE_ADMIN_INSECURE'/],
  [["server"], { WORMHOLE_NETWORK_POLICIES: "" }, /'' from env 'WORMHOLE_NETWORK_POLICIES'/],
  [["client"], { WORMHOLE_KUBERNETES: "maybe" }, /'maybe' from env 'WORMHOLE_KUBERNETES' is inv/],
  [["client"], { WORMHOLE_EXIT_ON_MISMATCH: "maybe" }, /'maybe' from env 'WORMHOLE_EXIT_ON_MIS/],
  [["client", "--server-fingerprint", "a,b"], {}, /fingerprint "a".*\(entry 1 of 2\)/],
  [["apps", "list", "-o", "yaml"], {}, /--output .* argument 'yaml' is invalid/],
  [["server", "--no-such-flag"], {}, /unknown option '--no-such-flag'/],
  [["server", "--max-window", "1KiB"], {}, /--max-window .* argument '1KiB' is invalid/],
  [
    ["client", "--max-window", "1MiB"],
    {},
    /Cannot use --max-window 1048576: below --window 2097152/,
  ],
  [
    ["server", "--connection-buffer", "8MiB"],
    {},
    /Cannot use --connection-buffer 8388608: below --max/,
  ],
  [
    ["client"],
    { WORMHOLE_CONNECTION_BUFFER: "lots" },
    /'lots' from env 'WORMHOLE_CONNECTION_BUFFER'/,
  ],
];

for (const [args, env, expected] of BAD_VALUES) {
  Deno.test(
    `cli: "${Object.entries(env).map(([k, v]) => `${k}=${v} `).join("")}${
      args.join(" ")
    }" exits 2 naming the flag and value`,
    async () => {
      const { code, stderr } = await runWormhole(args, env);
      assert.equal(code, 2, stderr);
      const lines = stderr.trim().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0], expected);
    },
  );
}

Deno.test("cli: server: a boolean variable set to false leaves its flag off", async () => {
  await using dir = await tempDir();
  // The token safeguard stays on: a non-loopback admin API without a token is refused.
  const refused = await runWormhole(
    ["server", "--admin-host", "0.0.0.0", "--state-dir", dir.path],
    { WORMHOLE_ADMIN_INSECURE: "false" },
  );
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /^error: Refusing to serve the admin API on 0\.0\.0\.0 without/);
  // Kubernetes mode stays off: on, it would need --kubernetes-labels and a reachable API server.
  const server = await startServer(`${dir.path}/server`, [], {
    WORMHOLE_KUBERNETES: "False",
    KUBECONFIG: "/nonexistent",
  });
  await using _server = server.proc;
  const ready = await fetch(`${server.admin}/readyz`);
  assert.equal(ready.status, 200);
  await ready.body?.cancel();
  assert.ok(!server.proc.logs.some((l) => l.msg.startsWith("kubernetes")), server.proc.dump());
  const on = await runWormhole(["server", "--state-dir", dir.path], { WORMHOLE_KUBERNETES: "on" });
  assert.equal(on.code, 2);
  assert.match(on.stderr, /--kubernetes needs --kubernetes-labels/);
});

Deno.test("cli: client: a boolean variable set to false leaves its flag off", async () => {
  await using dir = await tempDir();
  await using client = startClient("ws://127.0.0.1:9/wh/tunnel", dir.path, [], {
    WORMHOLE_KUBERNETES: "0",
    KUBECONFIG: "/nonexistent",
  });
  // Logged only when neither apps nor Kubernetes mode are there.
  await client.waitForLog((line) => line.msg.startsWith("no apps to expose yet: use --expose"));
  assert.ok(!client.logs.some((l) => l.msg.startsWith("kubernetes")), client.dump());
});

Deno.test("cli: --version prints the version", async () => {
  const { code, stdout } = await runWormhole(["--version"]);
  assert.equal(code, 0);
  assert.equal(stdout.trim(), VERSION);
});

Deno.test("cli: regression: an existing state directory open to others is tightened to 0700", async () => {
  await using dir = await tempDir();
  const state = `${dir.path}/state`;
  await Deno.mkdir(state);
  await Deno.chmod(state, 0o755);
  const { code, stderr } = await runWormhole(["keys", "fingerprint", "--state-dir", state]);
  assert.equal(code, 0, stderr);
  assert.equal((await Deno.stat(state)).mode! & 0o777, 0o700);
});

Deno.test("cli: a missing command or sub-command prints help on stderr and exits 2, one rule", async () => {
  for (const args of [[], ["requests"], ["peers"], ["apps"], ["keys"]]) {
    const { code, stdout, stderr } = await runWormhole(args);
    assert.equal(code, 2, `wormhole ${args.join(" ")}`);
    assert.equal(stdout, "", `wormhole ${args.join(" ")}`);
    assert.match(stderr, /^Usage: wormhole/, `wormhole ${args.join(" ")}`);
  }
  const asked = await runWormhole(["requests", "--help"]);
  assert.equal(asked.code, 0);
  assert.match(asked.stdout, /^Usage: wormhole requests/);
});

Deno.test("cli: --help lists the commands, and each command documents its env variables", async () => {
  const top = await runWormhole(["--help"]);
  assert.equal(top.code, 0);
  for (const command of ["server|listen", "client|join", "apps", "testserver"]) {
    assert.match(top.stdout, new RegExp(command.replace("|", "\\|")));
  }
  const server = await runWormhole(["server", "--help"]);
  assert.equal(server.code, 0);
  assert.match(server.stdout, /env: WORMHOLE_LISTEN_HOST/);
  assert.match(server.stdout, /"\/wh\/tunnel"/);
});

Deno.test("cli: apps list shows exposed apps as a table and as JSON", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  await using _client = startClient(server.url, `${dir.path}/client`, [
    "--name",
    "edge-1",
    "--expose",
    "web=127.0.0.1:9",
  ]);
  const port = await appPort(server.admin, "web");
  const table = await runWormhole(["apps", "list", "--admin", server.admin]);
  assert.equal(table.code, 0, table.stderr);
  const [header, row] = table.stdout.trim().split("\n");
  assert.match(header, /^PEER\s+APP\s+ENDPOINT\s+IN\s+OUT\s+CONNS$/);
  assert.match(row, new RegExp(`^edge-1\\s+web\\s+127\\.0\\.0\\.1:${port}\\s+0 B\\s+0 B\\s+0$`));
  const json = await runWormhole(["apps", "list", "-o", "json"], {
    WORMHOLE_ADMIN: server.admin,
  });
  assert.equal(json.code, 0, json.stderr);
  assert.deepEqual(JSON.parse(json.stdout), [
    {
      peer: "edge-1",
      app: "web",
      endpoint: `127.0.0.1:${port}`,
      bytesIn: 0,
      bytesOut: 0,
      streamsOpen: 0,
      streamsTotal: 0,
      bytesInPerSecond: 0,
      bytesOutPerSecond: 0,
      connectionsPerSecond: 0,
    },
  ]);
});

Deno.test("cli: apps list against an unreachable admin API fails with a clear message", async () => {
  const admin = `http://127.0.0.1:${unusedPort()}`;
  const { code, stderr } = await runWormhole(["apps", "list", "--admin", admin]);
  assert.equal(code, 1);
  assert.equal(stderr.trim().split("\n").length, 1, stderr);
  // The reason, not Deno's bare "fetch failed".
  assert.ok(
    stderr.startsWith(`error: Cannot reach the admin API at ${admin}: Connection refused`),
    stderr,
  );
  assert.match(stderr, /--admin .*kubectl exec .*kubectl port-forward/);
});

Deno.test("cli: a client pointed at the admin port is told the likely cause", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  const wrong = `${server.admin.replace("http://", "ws://")}/wh/tunnel`;
  await using client = startClient(wrong, `${dir.path}/client`);
  const line = await client.waitForLog("cannot connect to server");
  assert.match(
    String(line.error),
    /answered 404 Not Found \(is --server the tunnel's port, .*admin API's 8081/,
  );
});

Deno.test("cli: a refused token names the URL tried and how to give the token", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`, ["--admin-token", "s3cr3t"]);
  await using _server = server.proc;
  const { code, stderr } = await runWormhole(["requests", "list", "--admin", server.admin]);
  assert.equal(code, 1);
  assert.ok(stderr.startsWith("error: Cannot list the waiting clients: "), stderr);
  assert.ok(stderr.includes(`(GET ${server.admin}/v1/requests?detail=1 answered 401)`), stderr);
  assert.match(stderr, /set --admin-token or WORMHOLE_ADMIN_TOKEN/);
});

Deno.test("cli: admin API answers unknown routes with a JSON 404", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  await using _server = server.proc;
  const health = await fetch(`${server.admin}/healthz`);
  assert.equal(health.status, 200);
  assert.deepEqual(await health.json(), { status: "ok" });
  const missing = await fetch(`${server.admin}/nope`);
  assert.equal(missing.status, 404);
  assert.match((await missing.json()).error, /Not found/);
  const tunnelMiss = await fetch(
    server.url.replace("ws://", "http://").replace("/wh/tunnel", "/x"),
  );
  assert.equal(tunnelMiss.status, 404);
  await tunnelMiss.body?.cancel();
});

Deno.test("cli: testserver answers every request with the given text", async () => {
  await using proc = new WormholeProcess([
    "testserver",
    "--port",
    "0",
    "--response",
    "pong",
    "--log-format",
    "json",
  ]);
  const line = await proc.waitForLog("testserver listening");
  const response = await fetch(String(line.url));
  assert.equal(await response.text(), "pong");
});

Deno.test("cli: a busy port is reported in one line naming the flags and the address, exit 1", async () => {
  await using dir = await tempDir();
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busy = String(listener.addr.port);
  const cases: [string[], string][] = [
    [["server", "--host", "127.0.0.1", "--port", busy], `127.0.0.1:${busy} (--host, --port)`],
    [
      ["server", "--host", "127.0.0.1", "--port", "0", "--admin-port", busy],
      `127.0.0.1:${busy} (--admin-host, --admin-port)`,
    ],
    [
      ["client", "--server", "ws://127.0.0.1:1/wh/tunnel", "--admin-port", busy],
      `127.0.0.1:${busy} (--admin-host, --admin-port)`,
    ],
    [["testserver", "--port", busy], `127.0.0.1:${busy} (--host, --port)`],
  ];
  for (const [args, named] of cases) {
    const state = args[0] === "testserver" ? [] : ["--state-dir", dir.path];
    const { code, stderr } = await runWormhole([...args, ...state]);
    assert.equal(code, 1, stderr);
    const errors = stderr.split("\n").filter((line) => line.startsWith("error: "));
    assert.deepEqual(errors, [
      `error: Cannot listen on ${named}: the address is in use by another process`,
    ]);
  }
});

Deno.test("cli: SIGTERM stops server and client cleanly with exit code 0", async () => {
  await using dir = await tempDir();
  const server = await startServer(`${dir.path}/server`);
  const client = startClient(server.url, `${dir.path}/client`, ["--expose", "a=127.0.0.1:9"]);
  await appPort(server.admin, "a");
  assert.equal((await client.stop()).code, 0, client.dump());
  assert.equal((await server.proc.stop()).code, 0, server.proc.dump());
  await server.proc.waitForLog("server stopped");
});
