import assert from "node:assert/strict";
import { adminHandler, type AdminState } from "./api.ts";

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
