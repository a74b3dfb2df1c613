import assert from "node:assert/strict";
import { appsFromService, isExposedValue } from "./annotations.ts";
import {
  ANNOTATION_EXPOSED,
  ANNOTATION_NAME,
  ANNOTATION_PEERS,
  ANNOTATION_PORTS,
  type Service,
} from "./objects.ts";

function service(
  annotations: Record<string, string>,
  ports: { name?: string; port: number; protocol?: string }[] = [{ port: 80 }],
  extra: { clusterIP?: string; namespace?: string; name?: string } = {},
): Service {
  return {
    metadata: {
      name: extra.name ?? "nginx",
      namespace: extra.namespace ?? "default",
      annotations,
    },
    spec: { clusterIP: extra.clusterIP ?? "10.0.0.7", ports },
  };
}

const DNS = { upstream: "dns" as const };

Deno.test("annotations: exposed values", () => {
  const table: [string | undefined, boolean][] = [
    ["1", true],
    ["yes", true],
    ["YES", true],
    ["true", true],
    ["True", true],
    [" true ", true],
    ["0", false],
    ["no", false],
    ["false", false],
    ["enabled", false],
    ["", false],
    [undefined, false],
  ];
  for (const [value, want] of table) assert.equal(isExposedValue(value), want, String(value));
});

Deno.test("annotations: table of Services and the apps they become", () => {
  const table: {
    what: string;
    svc: Service;
    options?: Parameters<typeof appsFromService>[1];
    apps: string[];
    problems?: number;
  }[] = [
    { what: "not annotated", svc: service({}), apps: [] },
    { what: "exposed=no", svc: service({ [ANNOTATION_EXPOSED]: "no" }), apps: [] },
    {
      what: "default name, dns upstream",
      svc: service({ [ANNOTATION_EXPOSED]: "yes" }),
      apps: ["default-nginx=nginx.default.svc.cluster.local:80"],
    },
    {
      what: "custom cluster domain",
      svc: service({ [ANNOTATION_EXPOSED]: "1" }),
      options: { upstream: "dns", clusterDomain: "edge.internal" },
      apps: ["default-nginx=nginx.default.svc.edge.internal:80"],
    },
    {
      what: "cluster-ip upstream",
      svc: service({ [ANNOTATION_EXPOSED]: "true" }),
      options: { upstream: "cluster-ip" },
      apps: ["default-nginx=10.0.0.7:80"],
    },
    {
      what: "cluster-ip upstream of a headless Service",
      svc: service({ [ANNOTATION_EXPOSED]: "true" }, [{ port: 80 }], { clusterIP: "None" }),
      options: { upstream: "cluster-ip" },
      apps: [],
      problems: 1,
    },
    {
      what: "name annotation, sanitized",
      svc: service({ [ANNOTATION_EXPOSED]: "1", [ANNOTATION_NAME]: " My Web " }),
      apps: ["my-web=nginx.default.svc.cluster.local:80"],
    },
    {
      what: "name annotation that cannot be fixed",
      svc: service({ [ANNOTATION_EXPOSED]: "1", [ANNOTATION_NAME]: "%%%" }),
      apps: [],
      problems: 1,
    },
    {
      what: "several ports: suffixed with names, or numbers when unnamed",
      svc: service({ [ANNOTATION_EXPOSED]: "1" }, [
        { name: "http", port: 80 },
        { port: 9090 },
        { name: "dns", port: 53, protocol: "UDP" },
      ]),
      apps: [
        "default-nginx-http=nginx.default.svc.cluster.local:80",
        "default-nginx-9090=nginx.default.svc.cluster.local:9090",
      ],
    },
    {
      what: "ports annotation by name and number, spaces trimmed",
      svc: service({ [ANNOTATION_EXPOSED]: "1", [ANNOTATION_PORTS]: " metrics , 80 " }, [
        { name: "http", port: 80 },
        { name: "https", port: 443 },
        { name: "metrics", port: 9100 },
      ]),
      apps: [
        "default-nginx-metrics=nginx.default.svc.cluster.local:9100",
        "default-nginx-http=nginx.default.svc.cluster.local:80",
      ],
    },
    {
      what: "ports annotation selecting one port: no suffix",
      svc: service({ [ANNOTATION_EXPOSED]: "1", [ANNOTATION_PORTS]: "https" }, [
        { name: "http", port: 80 },
        { name: "https", port: 443 },
      ]),
      apps: ["default-nginx=nginx.default.svc.cluster.local:443"],
    },
    {
      what: "ports annotation with unknown and UDP ports",
      svc: service({ [ANNOTATION_EXPOSED]: "1", [ANNOTATION_PORTS]: "http,nope,dns" }, [
        { name: "http", port: 80 },
        { name: "dns", port: 53, protocol: "UDP" },
      ]),
      apps: ["default-nginx=nginx.default.svc.cluster.local:80"],
      problems: 2,
    },
    {
      what: "only UDP ports",
      svc: service({ [ANNOTATION_EXPOSED]: "1" }, [{ port: 53, protocol: "UDP" }]),
      apps: [],
      problems: 1,
    },
    {
      what: "a long default name is cut to 63",
      svc: service({ [ANNOTATION_EXPOSED]: "1" }, [{ port: 80 }], {
        namespace: "n".repeat(40),
        name: "s".repeat(40),
      }),
      apps: [
        `${"n".repeat(40)}-${"s".repeat(22)}=${"s".repeat(40)}.${
          "n".repeat(40)
        }.svc.cluster.local:80`,
      ],
    },
  ];
  for (const row of table) {
    const result = appsFromService(row.svc, row.options ?? DNS);
    assert.deepEqual(
      result.apps.map((app) => `${app.name}=${app.host}:${app.port}`),
      row.apps,
      row.what,
    );
    assert.equal(result.problems.length, row.problems ?? 0, `${row.what}: ${result.problems}`);
  }
});

Deno.test("annotations: central Services are offered only to the peers they name", () => {
  const offers = { upstream: "dns", offers: true } as const;
  const exposed = { [ANNOTATION_EXPOSED]: "yes" };
  const table: { what: string; peers?: string; want: string[] | null | "all"; problems: number }[] =
    [
      { what: "no peers annotation", want: null, problems: 1 },
      { what: "empty peers", peers: " ", want: null, problems: 1 },
      { what: "every peer", peers: "*", want: "all", problems: 0 },
      { what: "a list", peers: "edge-1, edge-2,edge-1", want: ["edge-1", "edge-2"], problems: 0 },
      { what: "a bad name skipped", peers: "edge-1,bad name", want: ["edge-1"], problems: 1 },
      { what: "only bad names", peers: "bad name", want: null, problems: 2 },
    ];
  for (const row of table) {
    const annotations = row.peers === undefined
      ? exposed
      : { ...exposed, [ANNOTATION_PEERS]: row.peers };
    const result = appsFromService(service(annotations), offers);
    assert.equal(result.problems.length, row.problems, `${row.what}: ${result.problems}`);
    if (row.want === null) {
      assert.deepEqual(result.apps, [], row.what);
    } else {
      assert.equal(result.apps.length, 1, row.what);
      assert.deepEqual(result.apps[0].peers, row.want === "all" ? undefined : row.want, row.what);
    }
  }
  // An edge Service's peers annotation means nothing.
  const edge = appsFromService(service({ ...exposed, [ANNOTATION_PEERS]: "x" }), DNS);
  assert.equal(edge.apps[0].peers, undefined);
});
