/** Values merging, `--set` and whole-chart rendering of the `helm template` stand-in. */

import assert from "node:assert/strict";
import { applySet, loadChart, mergeValues, renderChart } from "./chart.ts";

const chart = loadChart(new URL("../../deploy/helm/wormhole/", import.meta.url));

Deno.test("chart: --set parses paths, lists, indexes, escaped dots and typed scalars", () => {
  const values: Record<string, unknown> = {};
  applySet(values, "a.b=1,a.c=true,a.d=null,a.e=text,l={x,y},m[1].n=z");
  applySet(values, "ann.example\\.com/key=v");
  assert.deepEqual(values, {
    a: { b: 1, c: true, d: null, e: "text" },
    l: ["x", "y"],
    m: [null, { n: "z" }],
    ann: { "example.com/key": "v" },
  });
  const strings: Record<string, unknown> = {};
  applySet(strings, "a=1,b=true", true);
  assert.deepEqual(strings, { a: "1", b: "true" });
  assert.throws(() => applySet({}, "novalue"), /no "="/);
});

Deno.test("chart: values files merge in order, --set wins, a null deletes a default", () => {
  const values = mergeValues(chart, {
    valuesFiles: [
      { server: { enabled: true, acceptor: "dummy" } },
      { server: { acceptor: "server", tolerations: [{ key: "a" }] } },
    ],
    set: ["server.path=/x", "log=null"],
  });
  const server = values.server as Record<string, unknown>;
  assert.equal(server.enabled, true);
  assert.equal(server.acceptor, "server");
  assert.deepEqual(server.tolerations, [{ key: "a" }]);
  assert.equal(server.path, "/x");
  // Defaults the user did not touch stay.
  assert.equal(server.pullPolicy, (chart.values.server as Record<string, unknown>).pullPolicy);
  assert.ok(!("log" in values));
  // The chart's own values are not modified.
  assert.equal((chart.values.server as Record<string, unknown>).enabled, false);
});

Deno.test("chart: the default render is empty; client values are required when it is enabled", () => {
  assert.deepEqual(renderChart(chart).manifests, []);
  assert.throws(
    () => renderChart(chart, { set: ["client.enabled=true", "client.name=edge"] }),
    /client-deployment\.yaml:\d+: .*client\.serverDsn is required/,
  );
});

Deno.test("chart: lookup answers from the cluster objects given", () => {
  const secret = {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "wormhole-server-admin-token", namespace: "ns" },
    data: { "admin-token": btoa("kept") },
  };
  const render = (cluster: typeof secret[]) =>
    renderChart(chart, { namespace: "ns", set: ["server.enabled=true"], cluster })
      .manifests.find((m) => m.kind === "Secret") as unknown as { data: Record<string, string> };
  assert.equal(atob(render([secret]).data["admin-token"]), "kept");
  assert.match(atob(render([]).data["admin-token"]), /^[A-Za-z0-9]{40}$/);
});

Deno.test("chart: values the schema rejects fail the render, as with Helm", () => {
  assert.throws(
    () => renderChart(chart, { set: ["server.enabled=yes", "server.nosuchkey=1"] }),
    (error: Error) =>
      /values don't meet the specifications of the schema of chart wormhole/.test(error.message) &&
      /\$\.server\.enabled: "yes" is not of type boolean/.test(error.message) &&
      /\$\.server: unknown key nosuchkey/.test(error.message),
  );
});
