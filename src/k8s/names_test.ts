import assert from "node:assert/strict";
import fc from "fast-check";
import { nameProblem } from "../protocol/mod.ts";
import {
  hashedServiceName,
  isDns1035,
  labelValue,
  labelValueProblem,
  parseLabels,
  proxyServiceName,
  sanitizeAppName,
  sha256Hex,
} from "./names.ts";

const VALID_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;

Deno.test("proxyServiceName: a valid label is kept; anything cleaning would change is hashed", async () => {
  const cases: [string, string, RegExp][] = [
    ["laptop", "web", /^laptop-web$/],
    ["edge-1", "db", /^edge-1-db$/],
    ["Laptop", "My_App.v2", /^laptop-my-app-v2-[0-9a-f]{8}$/],
    ["1edge", "web", /^wh-1edge-web-[0-9a-f]{8}$/],
    ["_x", "y", /^wh--x-y-[0-9a-f]{8}$/],
  ];
  for (const [peer, app, want] of cases) {
    assert.match(await proxyServiceName(peer, app), want, `${peer}/${app}`);
  }
});

Deno.test("proxyServiceName: regression: spellings of another peer's name never get its Service name", async () => {
  const plain = await proxyServiceName("edge-1", "web");
  assert.equal(plain, "edge-1-web");
  const squatters = [["Edge-1", "web"], ["edge.1", "web"], ["edge_1", "web"], ["EDGE-1", "WEB"]];
  const names = await Promise.all(squatters.map(([peer, app]) => proxyServiceName(peer, app)));
  for (const name of names) assert.notEqual(name, plain);
  assert.equal(new Set(names).size, squatters.length);
});

Deno.test("proxyServiceName: distinct pairs get distinct names unless both spell the same valid label", async () => {
  const name = fc.stringMatching(/^[A-Za-z0-9]([A-Za-z0-9._-]{0,8}[A-Za-z0-9])?$/);
  await fc.assert(
    fc.asyncProperty(name, name, name, name, async (p1, a1, p2, a2) => {
      fc.pre(p1 !== p2 || a1 !== a2);
      const [n1, n2] = [await proxyServiceName(p1, a1), await proxyServiceName(p2, a2)];
      if (n1 === n2) {
        // Only the split is ambiguous (edge + 1-web, edge-1 + web): the controller resolves it.
        assert.equal(n1, `${p1}-${a1}`);
        assert.equal(n2, `${p2}-${a2}`);
      }
      assert.notEqual(await hashedServiceName(p1, a1), await hashedServiceName(p2, a2));
    }),
    { numRuns: 500 },
  );
});

Deno.test("proxyServiceName: a long valid name is cut and suffixed with 8 hex of its SHA-256", async () => {
  const peer = "edge-cluster-in-the-north-west-region";
  const app = "monitoring-prometheus-operated-web-9090";
  const full = `${peer}-${app}`;
  const name = await proxyServiceName(peer, app);
  assert.equal(name.length, 63);
  assert.equal(name, `${full.slice(0, 54)}-${(await sha256Hex(full)).slice(0, 8)}`);
  // Same 54-character prefix, different apps: different names.
  assert.notEqual(await proxyServiceName(peer, `${app}1`), name);
  // Its hashed name, for a collision, is another one.
  assert.notEqual(await hashedServiceName(peer, app), name);
});

Deno.test("hashedServiceName: cleaned, cut to 54, suffixed with 8 hex of SHA-256 of peer NUL app", async () => {
  const peer = "Edge_Cluster.in-the-north-west-region";
  const app = "monitoring-prometheus-operated-web-9090";
  const name = await hashedServiceName(peer, app);
  assert.equal(name, await proxyServiceName(peer, app));
  const base = `${peer}-${app}`.toLowerCase().replace(/[._]/g, "-").slice(0, 54);
  assert.equal(name, `${base}-${(await sha256Hex(`${peer}\0${app}`)).slice(0, 8)}`);
  // The same text split differently: different names.
  assert.notEqual(
    await hashedServiceName("edge", "1-web"),
    await hashedServiceName("edge-1", "web"),
  );
});

Deno.test("proxyServiceName: a name of exactly 63 characters is kept", async () => {
  const peer = "p".repeat(31);
  const app = "a".repeat(31);
  assert.equal(await proxyServiceName(peer, app), `${peer}-${app}`);
  assert.match(await proxyServiceName(peer, `${app}b`), /^p{31}-a{22}-[0-9a-f]{8}$/);
});

Deno.test("proxyServiceName: always a DNS-1035 label, deterministic (any peer and app)", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.stringMatching(VALID_NAME), fc.string({ maxLength: 100 })),
      fc.oneof(fc.stringMatching(VALID_NAME), fc.string({ unit: "grapheme", maxLength: 100 })),
      async (peer, app) => {
        const name = await proxyServiceName(peer, app);
        assert.ok(isDns1035(name), `${JSON.stringify([peer, app])} → ${name}`);
        assert.equal(await proxyServiceName(peer, app), name);
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("proxyServiceName: valid peer and app names that fit are only lower-cased and cleaned", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.stringMatching(/^[a-z][a-z0-9-]{0,20}[a-z0-9]$/),
      fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}[a-z0-9]$/),
      async (peer, app) => {
        assert.equal(await proxyServiceName(peer, app), `${peer}-${app}`);
      },
    ),
  );
});

Deno.test("isDns1035: the rules", () => {
  for (const good of ["a", "a-b", "a1", "abc-123-x", "a".repeat(63)]) {
    assert.ok(isDns1035(good), good);
  }
  for (const bad of ["", "1a", "-a", "a-", "A", "a_b", "a.b", "a".repeat(64)]) {
    assert.ok(!isDns1035(bad), bad);
  }
});

Deno.test("labelValue: any text becomes a valid label value", () => {
  assert.equal(labelValue("laptop"), "laptop");
  assert.equal(labelValue("my app!"), "my-app");
  assert.equal(labelValue("-x-"), "x");
  fc.assert(
    fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), (text) => {
      assert.equal(labelValueProblem(labelValue(text)), null, labelValue(text));
    }),
  );
});

Deno.test("sanitizeAppName: lower-case, invalid characters to '-', cut to 63, or null", () => {
  const cases: [string, string | null][] = [
    ["web", "web"],
    ["My App", "my-app"],
    ["default-nginx", "default-nginx"],
    ["a_b.c", "a_b.c"],
    ["ünïcode", "n-code"],
    ["-web-", "web"],
    ["x".repeat(70), "x".repeat(63)],
    ["!!!", null],
    ["", null],
  ];
  for (const [input, want] of cases) assert.equal(sanitizeAppName(input), want, input);
  fc.assert(
    fc.property(fc.string({ maxLength: 100 }), (text) => {
      const name = sanitizeAppName(text);
      if (name !== null) assert.equal(nameProblem(name), null, name);
    }),
  );
});

Deno.test("parseLabels: k=v lists", () => {
  assert.deepEqual(parseLabels("app=wormhole-server"), { app: "wormhole-server" });
  assert.deepEqual(
    parseLabels(" app.kubernetes.io/name=wormhole , app.kubernetes.io/component=server,x="),
    { "app.kubernetes.io/name": "wormhole", "app.kubernetes.io/component": "server", x: "" },
  );
  for (const bad of ["", "app", "=x", "a=b,a=c", "a=-x", "Bad_Prefix/a=b", "a=" + "x".repeat(64)]) {
    assert.throws(() => parseLabels(bad), RangeError, bad);
  }
});
