import assert from "node:assert/strict";
import { mergeApps, parseAddress, parseAppsFile, parseExpose } from "./apps.ts";

Deno.test("apps file: a server's items may name the peers they are offered to", async () => {
  const text =
    "- name: db\n  address: 10.0.0.5:5432\n  peers: [edge-1, edge-2]\n- web=127.0.0.1:80\n";
  assert.deepEqual(await parseAppsFile(text, "offers.yaml", { peers: true }), [
    { name: "db", host: "10.0.0.5", port: 5432, peers: ["edge-1", "edge-2"] },
    { name: "web", host: "127.0.0.1", port: 80 },
  ]);
});

Deno.test("apps file: peers are refused in a client's file, and must be a list of names", async () => {
  const item = (peers: string) => `[{"name": "db", "address": "h:1", "peers": ${peers}}]`;
  await assert.rejects(
    parseAppsFile(item(`["edge-1"]`), "apps.json"),
    /apps\.json, item 0: peers: only a server's apps file offers to peers/,
  );
  await assert.rejects(
    parseAppsFile(item(`"edge-1"`), "f", { peers: true }),
    /peers: expected a non-empty list/,
  );
  await assert.rejects(parseAppsFile(item(`[]`), "f", { peers: true }), /non-empty list/);
  await assert.rejects(
    parseAppsFile(item(`["bad name"]`), "f", { peers: true }),
    /peers: "bad name"/,
  );
});

Deno.test("apps: merging keeps the first list's app of a name", () => {
  const app = (name: string, port: number) => ({ name, host: "h", port });
  assert.deepEqual(
    mergeApps([app("a", 1)], [app("a", 2), app("b", 2)], [app("b", 3), app("c", 3)]),
    [app("a", 1), app("b", 2), app("c", 3)],
  );
});

Deno.test("apps file: a YAML error is one line naming the file's line and column", async () => {
  // The error is on the file's fourth line (a tab indents it), after two blank ones.
  const text = "\n\n- name: web\n\taddress: 127.0.0.1:80\n";
  await assert.rejects(parseAppsFile(text, "apps.yaml"), (error: Error) => {
    assert.ok(error instanceof SyntaxError);
    assert.match(error.message, /^Cannot parse apps\.yaml: .+ \(line 4, column 1\)$/);
    return true;
  });
});

Deno.test("expose: a bad address says everything wrong with it once, with the app's name", () => {
  const cases: [string, string][] = [
    [
      "web=:99999",
      'Invalid address ":99999" for app "web": no host, and port 99999 is not in 1-65535 (expected host:port)',
    ],
    ["web=host", 'Invalid address "host" for app "web": no port (expected host:port)'],
    ["web=host:0", 'Invalid address "host:0" for app "web": port 0 is not in 1-65535'],
    ["web=[::1]:x", 'Invalid address "[::1]:x" for app "web": port "x" is not a number'],
    [
      "web=::1:80",
      'Invalid address "::1:80" for app "web": "::1" is not a host (an IPv6 address goes in brackets: [::1]:80)',
    ],
    ["name=db,address=:1", 'Invalid address ":1" for app "db": no host (expected host:port)'],
    ["h:70000", 'Invalid address "h:70000": port 70000 is not in 1-65535'],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => parseExpose(spec), { name: "RangeError", message }, spec);
  }
  assert.deepEqual(parseExpose("web=[::1]:80"), { name: "web", host: "::1", port: 80 });
  assert.deepEqual(parseAddress(" db.local:5432 "), { host: "db.local", port: 5432 });
});
