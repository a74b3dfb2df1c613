/** The kubelet's probe request, byte for byte, and its outcome. */

import assert from "node:assert/strict";
import { TcpUpstream } from "../../harness/net.ts";
import { httpProbe, reachableOnPodIP, readinessBoundMs } from "./probe.ts";

/** A server that records the request head and answers `status`. */
function recorder(status: number) {
  const heads: string[] = [];
  const server = new TcpUpstream(async (conn) => {
    const buffer = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buffer);
      if (n === null) return;
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
    heads.push(text);
    await conn.write(new TextEncoder().encode(`HTTP/1.1 ${status} X\r\nContent-Length: 0\r\n\r\n`));
  });
  return { server, heads };
}

Deno.test("probe: the request is the kubelet's — no token, only Host, User-Agent, Accept, Connection", async () => {
  const { server, heads } = recorder(200);
  await using _server = server;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  const result = await httpProbe(
    conn,
    { httpGet: { path: "/readyz", port: "admin" } },
    "127.0.0.10:8081",
  );
  assert.deepEqual(result, {
    success: true,
    status: 200,
    detail: "HTTP probe succeeded with statuscode: 200",
  });
  assert.equal(
    heads[0],
    "GET /readyz HTTP/1.1\r\nHost: 127.0.0.10:8081\r\nUser-Agent: kube-probe/1.32\r\n" +
      "Accept: */*\r\nConnection: close\r\n\r\n",
  );
});

Deno.test("probe: 400 and up fail with the kubelet's message; 3xx succeeds", async () => {
  for (const [status, success] of [[401, false], [503, false], [302, true]] as const) {
    const { server } = recorder(status);
    await using _server = server;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const result = await httpProbe(conn, { httpGet: { port: 1 } }, "p:1");
    assert.equal(result.success, success, String(status));
    assert.equal(
      result.detail,
      `HTTP probe ${success ? "succeeded" : "failed"} with statuscode: ${status}`,
    );
  }
});

Deno.test("probe: the bound is initialDelay + period × failureThreshold, with Kubernetes' defaults", () => {
  assert.equal(readinessBoundMs({}), 30_000);
  assert.equal(readinessBoundMs({ periodSeconds: 5, failureThreshold: 3 }), 15_000);
  assert.equal(readinessBoundMs({ initialDelaySeconds: 2, periodSeconds: 1 }), 5_000);
});

Deno.test("probe: a socket on 0.0.0.0, :: or the pod IP is reachable at the pod IP; 127.0.0.1 is not", () => {
  const at = (address: string) => reachableOnPodIP([{ address, port: 80 }], "127.0.0.10", 80);
  assert.deepEqual(["0.0.0.0", "::", "127.0.0.10", "127.0.0.1"].map(at), [true, true, true, false]);
});
