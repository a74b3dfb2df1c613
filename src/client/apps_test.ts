import assert from "node:assert/strict";
import { mergeApps, parseAppsFile } from "./apps.ts";

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
