import assert from "node:assert/strict";
import { hostName, isIpAddress, isLoopback, refusal } from "./guard.ts";

function request(method: string, headers: Record<string, string>): Request {
  return new Request("http://127.0.0.1:8081/v1/requests/x", { method, headers });
}

const JSON_TYPE = { "content-type": "application/json" };

Deno.test("guard: reads pass from IP addresses, localhost and listed names; other names get 403", () => {
  for (
    const host of ["127.0.0.1:8081", "10.1.2.3:8081", "[::1]:8081", "localhost:8081", "LOCALHOST"]
  ) {
    assert.equal(refusal(request("GET", { host }), []), null, host);
  }
  assert.equal(
    refusal(request("GET", { host: "wormhole-admin.wormhole.svc:8081" }), [
      "wormhole-admin.wormhole.svc",
    ]),
    null,
  );
  // DNS rebinding: the attacker's name resolves to 127.0.0.1.
  const refused = refusal(request("GET", { host: "evil.example:8081" }), []);
  assert.equal(refused?.status, 403);
  assert.match(
    refused!.error,
    /Host "evil.example:8081" is not a name of this admin API.*--admin-hosts/,
  );
});

Deno.test("guard: regression: a simple cross-site POST cannot approve (text/plain, no-cors)", () => {
  // What a page on any site can send without a preflight.
  const refused = refusal(
    request("POST", { host: "127.0.0.1:8081", "content-type": "text/plain" }),
    [],
  );
  assert.equal(refused?.status, 415);
  assert.match(refused!.error, /Content-Type: application\/json/);
  assert.equal(refusal(request("POST", { host: "127.0.0.1:8081" }), [])?.status, 415);
  assert.equal(refusal(request("DELETE", { host: "127.0.0.1:8081" }), [])?.status, 415);
});

Deno.test("guard: writes from another origin or site are refused; same-origin and the CLI pass", () => {
  const host = "127.0.0.1:8081";
  const cross = refusal(request("POST", { host, origin: "http://evil.example", ...JSON_TYPE }), []);
  assert.equal(cross?.status, 403);
  assert.match(cross!.error, /origin "http:\/\/evil.example"/);
  assert.equal(
    refusal(request("POST", { host, "sec-fetch-site": "cross-site", ...JSON_TYPE }), [])?.status,
    403,
  );
  assert.equal(
    refusal(request("POST", { host, origin: "http://127.0.0.1:8081", ...JSON_TYPE }), []),
    null,
  );
  assert.equal(
    refusal(request("DELETE", { host, "sec-fetch-site": "same-origin", ...JSON_TYPE }), []),
    null,
  );
  // The CLI: no Origin, JSON content type.
  assert.equal(refusal(request("POST", { host, ...JSON_TYPE }), []), null);
  assert.equal(
    refusal(request("POST", { host, "content-type": "application/json; charset=utf-8" }), []),
    null,
  );
});

Deno.test("guard: regression: isLoopback is exact", () => {
  for (const host of ["127.0.0.1", "127.255.0.9", "localhost", "::1", "[::1]"]) {
    assert.equal(isLoopback(host), true, host);
  }
  for (
    const host of [
      "127.evil.example",
      "127.0.0.1.nip.io",
      "127.1",
      "0.0.0.0",
      "::",
      "10.0.0.1",
      "1270.0.0.1",
      "127.0.0.256",
    ]
  ) {
    assert.equal(isLoopback(host), false, host);
  }
});

Deno.test("guard: host names and IP addresses", () => {
  assert.equal(hostName("[::1]:8081"), "::1");
  assert.equal(hostName("Example.COM:80"), "example.com");
  assert.equal(hostName("10.0.0.1"), "10.0.0.1");
  assert.equal(isIpAddress("10.0.0.1"), true);
  assert.equal(isIpAddress("fe80::1"), true);
  assert.equal(isIpAddress("10.0.0"), false);
  assert.equal(isIpAddress("evil.example"), false);
});
