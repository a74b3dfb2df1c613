import assert from "node:assert/strict";
import { adminHandler } from "./api.ts";
import type { AdminState } from "./state.ts";

const TOKEN = "s3cr3t";
const FINGERPRINT = "0123456789abcdef0123456789abcdef01234567";

/** A server's state with one peer, one app and one request, whose readiness the test sets. */
function serverState(): AdminState & { isReady: boolean } {
  return {
    isReady: false,
    ready() {
      return this.isReady;
    },
    apps: () => [{ app: "web", endpoint: "127.0.0.1:30000", peer: "laptop" }],
    requests: () => [{ fingerprint: FINGERPRINT, name: "edge", remote: "10.0.0.1", since: "" }],
    accept: () => Promise.resolve(true),
    decline: () => true,
    peers: () => [],
    revoke: () => Promise.resolve(true),
  };
}

function get(path: string, headers: Record<string, string> = {}, method = "GET"): Request {
  return new Request(`http://127.0.0.1${path}`, { method, headers });
}

Deno.test("admin: the probes answer without the token and reveal only their status", async () => {
  const state = serverState();
  const handle = adminHandler(state, { token: TOKEN });
  const cases: [string, boolean, number, unknown][] = [
    ["/healthz", false, 200, { status: "ok" }],
    ["/readyz", false, 503, { status: "not ready" }],
    ["/readyz", true, 200, { status: "ready" }],
  ];
  for (const [path, ready, status, body] of cases) {
    state.isReady = ready;
    const response = await handle(get(path));
    assert.equal(response.status, status, `${path} (ready: ${ready})`);
    assert.deepEqual(await response.json(), body, path);
  }
  for (const path of ["/healthz", "/readyz"]) {
    const post = await handle(get(path, {}, "POST"));
    assert.equal(post.status, 405, path);
    await post.body?.cancel();
  }
});

Deno.test("admin: every other route needs the token", async () => {
  const state = serverState();
  state.isReady = true;
  const handle = adminHandler(state, {
    token: TOKEN,
    metrics: { metrics: () => Promise.resolve("wormhole_up 1\n") },
  });
  const routes: [string, string][] = [
    ["GET", "/v1/apps"],
    ["GET", "/v1/requests"],
    ["POST", `/v1/requests/${FINGERPRINT}`],
    ["DELETE", `/v1/requests/${FINGERPRINT}`],
    ["GET", "/v1/peers"],
    ["DELETE", "/v1/peers/laptop"],
    ["GET", "/metrics"],
    ["GET", "/v1/events"],
    ["GET", "/v1/peers?detail=1"],
    ["GET", "/nothing-here"],
    ["GET", "/healthz/"],
  ];
  for (const [method, path] of routes) {
    const wrong: Record<string, string>[] = [{}, { authorization: "Bearer nope" }, {
      authorization: TOKEN,
    }];
    for (const headers of wrong) {
      const response = await handle(get(path, headers, method));
      assert.equal(response.status, 401, `${method} ${path} with ${JSON.stringify(headers)}`);
      await response.body?.cancel();
    }
    const allowed = await handle(get(path, { authorization: `Bearer ${TOKEN}` }, method));
    assert.notEqual(allowed.status, 401, `${method} ${path} with the token`);
    await allowed.body?.cancel();
  }
});

/** A server's state with traffic: one connected peer with an app, one offline peer. */
function trafficState(): AdminState {
  return {
    ...serverState(),
    peers: () => [
      {
        name: "laptop",
        fingerprint: FINGERPRINT,
        connected: true,
        apps: ["web"],
        lastSeen: "2026-01-01T00:00:00.000Z",
        remote: "127.0.0.1:5000",
        connectedSince: "2026-01-02T00:00:00.000Z",
      },
      {
        name: "old",
        fingerprint: "",
        connected: false,
        apps: [],
        lastSeen: "2025-01-01T00:00:00Z",
      },
    ],
    stats: () => ({
      traffic: [
        { peer: "laptop", app: "web", bytesIn: 100, bytesOut: 10, streamsOpen: 1, streamsTotal: 3 },
        { peer: "laptop", app: "gone", bytesIn: 5, bytesOut: 5, streamsOpen: 0, streamsTotal: 1 },
      ],
    }),
  };
}

Deno.test("admin: ?detail=1 adds names, addresses and traffic; the plain lists keep their shape", async () => {
  const handle = adminHandler(trafficState());
  const body = async (path: string) => await (await handle(get(path))).json();
  assert.deepEqual(await body("/v1/requests"), [FINGERPRINT]);
  assert.deepEqual(await body("/v1/requests?detail=1"), [
    { fingerprint: FINGERPRINT, name: "edge", remote: "10.0.0.1", waitingSince: "" },
  ]);
  assert.deepEqual(await body("/v1/peers"), [
    {
      name: "laptop",
      fingerprint: FINGERPRINT,
      connected: true,
      apps: ["web"],
      lastSeen: "2026-01-01T00:00:00.000Z",
    },
    { name: "old", fingerprint: "", connected: false, apps: [], lastSeen: "2025-01-01T00:00:00Z" },
  ]);
  assert.deepEqual(await body("/v1/peers?detail=1"), [
    {
      name: "laptop",
      fingerprint: FINGERPRINT,
      status: "connected",
      remote: "127.0.0.1:5000",
      connectedSince: "2026-01-02T00:00:00.000Z",
      lastSeen: "2026-01-01T00:00:00.000Z",
      apps: ["web"],
      // The sum over its apps, the withdrawn one included.
      bytesIn: 105,
      bytesOut: 15,
      streamsOpen: 1,
      streamsTotal: 4,
      // Without a lifetime signal the API does not sample: no rates.
      bytesInPerSecond: 0,
      bytesOutPerSecond: 0,
      connectionsPerSecond: 0,
    },
    {
      name: "old",
      fingerprint: "",
      status: "offline",
      remote: null,
      connectedSince: null,
      lastSeen: "2025-01-01T00:00:00Z",
      apps: [],
      bytesIn: 0,
      bytesOut: 0,
      streamsOpen: 0,
      streamsTotal: 0,
      bytesInPerSecond: 0,
      bytesOutPerSecond: 0,
      connectionsPerSecond: 0,
    },
  ]);
  assert.deepEqual(await body("/v1/apps"), [
    { app: "web", endpoint: "127.0.0.1:30000", peer: "laptop" },
  ]);
  assert.deepEqual(await body("/v1/apps?detail=1"), [
    {
      peer: "laptop",
      app: "web",
      endpoint: "127.0.0.1:30000",
      bytesIn: 100,
      bytesOut: 10,
      streamsOpen: 1,
      streamsTotal: 3,
      bytesInPerSecond: 0,
      bytesOutPerSecond: 0,
      connectionsPerSecond: 0,
    },
  ]);
});

Deno.test("admin: the dashboard's files come with a strict CSP, nosniff and no framing", async () => {
  const handle = adminHandler(serverState(), { token: TOKEN, dashboard: true });
  for (
    const [path, type] of [
      ["/", "text/html"],
      ["/dashboard.js", "text/javascript"],
      ["/dashboard.css", "text/css"],
    ]
  ) {
    // No token: the files hold no data, the page asks for the token.
    const response = await handle(get(path));
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type") ?? "", new RegExp(`^${type}`), path);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const text = await response.text();
    if (path === "/") {
      assert.doesNotMatch(text, /<script>|<style|\sstyle=|\son[a-z]+=/, "nothing inline");
    }
  }
  // Without the dashboard (the client's admin API) `/` is just another route.
  const plain = await adminHandler(serverState(), { token: TOKEN })(get("/"));
  assert.equal(plain.status, 401);
  await plain.body?.cancel();
});
