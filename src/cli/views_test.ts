/**
 * Golden files of what the admin commands print (`testdata/*.txt`). After an
 * intended change, rewrite them with `UPDATE_GOLDEN=1 deno test -A src/cli/views_test.ts`
 * and review the diff.
 */

import assert from "node:assert/strict";
import type {
  AppDetail,
  DeniedEntry,
  OfferEntry,
  PeerDetail,
  RequestDetail,
} from "../admin/mod.ts";
import {
  APPS_VIEW,
  DENIED_VIEW,
  OFFERS_VIEW,
  type OutputFormat,
  PEERS_VIEW,
  render,
  renderOutcome,
  REQUESTS_VIEW,
  type View,
} from "./views.ts";

const NOW = Date.parse("2026-03-01T12:00:00Z");
const FP1 = "3f2a9c0d4e5b6a7980c1d2e3f4a5b6c7d8e9f001";
const FP2 = "a0b1c2d3e4f5061728394a5b6c7d8e9fa0b1c2d3";

const REQUESTS: RequestDetail[] = [
  {
    fingerprint: FP1,
    name: "edge-1",
    remote: "10.1.2.3:51234",
    waitingSince: "2026-03-01T11:59:18Z",
  },
  { fingerprint: FP2, name: "laptop", remote: "[::1]:40000", waitingSince: "2026-03-01T10:45:00Z" },
];

const PEERS: PeerDetail[] = [
  {
    name: "edge-1",
    fingerprint: FP1,
    status: "connected",
    remote: "10.1.2.3:51234",
    connectedSince: "2026-02-27T09:30:00Z",
    lastSeen: "2026-02-27T09:30:00Z",
    apps: ["api", "web"],
    bytesIn: 1_288_490_189,
    bytesOut: 52_428_800,
    streamsOpen: 12,
    streamsTotal: 40_311,
    bytesInPerSecond: 2_621_440,
    bytesOutPerSecond: 51_200,
    connectionsPerSecond: 3,
  },
  {
    name: "old-site",
    fingerprint: FP2,
    status: "offline",
    remote: null,
    connectedSince: null,
    lastSeen: "2026-01-02T03:04:05Z",
    apps: [],
    bytesIn: 0,
    bytesOut: 0,
    streamsOpen: 0,
    streamsTotal: 0,
    bytesInPerSecond: 0,
    bytesOutPerSecond: 0,
    connectionsPerSecond: 0,
  },
];

const OFFERS: OfferEntry[] = [
  {
    app: "billing",
    upstream: "billing.payments.svc.cluster.local:8443",
    peers: ["edge-1", "edge-2"],
    streamsOpen: 2,
    streamsTotal: 311,
    bytesIn: 52_000,
    bytesOut: 7_340_032,
  },
  {
    app: "time",
    upstream: "127.0.0.1:37",
    streamsOpen: 0,
    streamsTotal: 0,
    bytesIn: 0,
    bytesOut: 0,
  },
];

const APPS: AppDetail[] = [
  {
    peer: "edge-1",
    app: "api",
    endpoint: "edge-1-api.wormhole:8080",
    bytesIn: 1536,
    bytesOut: 900,
    streamsOpen: 2,
    streamsTotal: 311,
    bytesInPerSecond: 0,
    bytesOutPerSecond: 0,
    connectionsPerSecond: 1,
  },
  {
    peer: "edge-1",
    app: "web",
    endpoint: "127.0.0.1:30001",
    bytesIn: 1_288_488_653,
    bytesOut: 52_427_900,
    streamsOpen: 10,
    streamsTotal: 40_000,
    bytesInPerSecond: 2_621_440,
    bytesOutPerSecond: 51_200,
    connectionsPerSecond: 2,
  },
];

const DENIED: DeniedEntry[] = [
  {
    fingerprint: FP2,
    name: "intruder",
    reason: "declined",
    since: "2026-03-01T11:00:00Z",
    until: "2026-03-02T11:00:00Z",
  },
  { fingerprint: FP1, name: "", reason: "revoked", since: "2026-02-01T00:00:00Z", until: null },
];

async function golden(name: string, actual: string): Promise<void> {
  const url = new URL(`testdata/${name}.txt`, import.meta.url);
  if (Deno.env.get("UPDATE_GOLDEN") === "1") await Deno.writeTextFile(url, actual + "\n");
  const expected = await Deno.readTextFile(url);
  assert.equal(actual + "\n", expected, `${name} differs from its golden file`);
}

function cases<T>(name: string, view: View<T>, items: T[]): [string, () => Promise<void>][] {
  const formats: OutputFormat[] = ["table", "wide", "json"];
  return [
    ...formats.map((format): [string, () => Promise<void>] => [
      `${name}-${format}`,
      () => golden(`${name}-${format}`, render(view, items, format, NOW)),
    ]),
    [`${name}-empty`, () => golden(`${name}-empty`, render(view, [], "table", NOW))],
  ];
}

for (
  const [name, run] of [
    ...cases("requests", REQUESTS_VIEW, REQUESTS),
    ...cases("peers", PEERS_VIEW, PEERS),
    ...cases("apps", APPS_VIEW, APPS),
    ...cases("denied", DENIED_VIEW, DENIED),
    ...cases("offers", OFFERS_VIEW, OFFERS),
  ]
) {
  Deno.test(`views: ${name} matches its golden file`, run);
}

Deno.test("views: an action prints a sentence, or its result and subject as JSON", async () => {
  const outcome = { result: "accepted", subject: FP1, text: `Accepted ${FP1}` };
  assert.equal(renderOutcome(outcome, "table"), `Accepted ${FP1}`);
  assert.equal(renderOutcome(outcome, "wide"), `Accepted ${FP1}`);
  await golden("accept-json", renderOutcome(outcome, "json"));
});

Deno.test("views: the REPLICA column shows in -o wide only when the server runs --ha", async () => {
  const ha = REQUESTS.map((r, i) => ({ ...r, replica: `wormhole-server-${i}` }));
  await golden("requests-wide-ha", render(REQUESTS_VIEW, ha, "wide", NOW));
  assert.ok(!render(REQUESTS_VIEW, ha, "table", NOW).includes("REPLICA"));
  assert.ok(!render(REQUESTS_VIEW, REQUESTS, "wide", NOW).includes("REPLICA"));
});
