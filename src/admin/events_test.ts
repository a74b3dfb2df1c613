import assert from "node:assert/strict";
import type { AdminState, PeerEntry, RequestEntry, TrafficEntry } from "./state.ts";
import { adminHandler } from "./api.ts";
import { EventHub } from "./events.ts";

const FP = "0123456789abcdef0123456789abcdef01234567";
/** Longer than any test: looks happen only through `changed()`. */
const NEVER_MS = 3_600_000;

/** A server's state the test changes by hand. */
function mutableState() {
  const now = {
    requests: [] as RequestEntry[],
    peers: [] as PeerEntry[],
    apps: [] as { app: string; endpoint: string; peer: string }[],
    traffic: [] as TrafficEntry[],
    denied: [] as { fingerprint: string; name: string; reason: string; since: string }[],
  };
  const state: AdminState = {
    ready: () => true,
    apps: () => now.apps,
    requests: () => now.requests,
    peers: () => now.peers,
    denied: () => now.denied.map((d) => ({ ...d, until: null })),
    stats: () => ({ traffic: now.traffic }),
  };
  return { now, state };
}

/** Reads Server-Sent Events one at a time. */
function eventReader(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    async next(): Promise<{ event: string; data: Record<string, unknown> } | null> {
      for (;;) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (block.startsWith(":")) continue;
          const event = /^event: (.*)$/m.exec(block)?.[1] ?? "";
          const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "null");
          return { event, data };
        }
        const chunk = await reader.read();
        if (chunk.done) return null;
        buffer += chunk.value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("events: requests waiting, approved and declined, peers up and down, apps exposed and withdrawn", async () => {
  const { now, state } = mutableState();
  const hub = new EventHub(state, { intervalMs: NEVER_MS });
  const events = eventReader(hub.subscribe());
  try {
    now.requests = [{ fingerprint: FP, name: "edge", remote: "10.0.0.1:4000", since: "t0" }];
    hub.changed();
    assert.deepEqual(await events.next(), {
      event: "request.waiting",
      data: { fingerprint: FP, name: "edge", remote: "10.0.0.1:4000", waitingSince: "t0" },
    });
    now.requests = [];
    now.peers = [{ name: "edge", fingerprint: FP, connected: true, apps: [], lastSeen: "t1" }];
    now.peers[0].remote = "10.0.0.1:4000";
    now.apps = [{ app: "web", endpoint: "127.0.0.1:3000", peer: "edge" }];
    hub.changed();
    assert.deepEqual(await events.next(), {
      event: "request.approved",
      data: { fingerprint: FP, name: "edge" },
    });
    assert.deepEqual(await events.next(), {
      event: "peer.up",
      data: { name: "edge", remote: "10.0.0.1:4000" },
    });
    assert.deepEqual(await events.next(), {
      event: "app.exposed",
      data: { app: "web", endpoint: "127.0.0.1:3000", peer: "edge" },
    });
    const other = "f".repeat(40);
    now.requests = [{ fingerprint: other, name: "intruder", remote: "10.0.0.9:1", since: "t2" }];
    now.peers = [];
    now.apps = [];
    hub.changed();
    assert.equal((await events.next())?.event, "request.waiting");
    assert.deepEqual(await events.next(), {
      event: "peer.down",
      data: { name: "edge", remote: "10.0.0.1:4000" },
    });
    assert.equal((await events.next())?.event, "app.withdrawn");
    now.requests = [];
    now.denied = [{ fingerprint: other, name: "intruder", reason: "declined", since: "t3" }];
    hub.changed();
    assert.deepEqual(await events.next(), {
      event: "request.declined",
      data: { fingerprint: other, name: "intruder" },
    });
  } finally {
    await events.cancel();
  }
  assert.equal(hub.size, 0, "a cancelled stream unsubscribes");
});

Deno.test("events: traffic samples carry counters and per-second rates", async () => {
  const { now, state } = mutableState();
  now.apps = [{ app: "web", endpoint: "127.0.0.1:3000", peer: "edge" }];
  const counters = { bytesIn: 0, bytesOut: 0, streamsOpen: 0, streamsTotal: 0 };
  now.traffic = [{ peer: "edge", app: "web", ...counters }];
  const hub = new EventHub(state, { intervalMs: 20 });
  const events = eventReader(hub.subscribe());
  try {
    const first = await events.next();
    assert.equal(first?.event, "traffic");
    assert.equal((first?.data.apps as unknown[]).length, 1);
    now.traffic = [{
      peer: "edge",
      app: "web",
      bytesIn: 5000,
      bytesOut: 700,
      streamsOpen: 1,
      streamsTotal: 2,
    }];
    // Samples taken before the change may be queued (at most the queue); one after it shows it.
    let sample: Record<string, number> | undefined;
    for (let i = 0; i < 300 && !sample?.bytesIn; i++) {
      sample = ((await events.next())?.data.apps as Record<string, number>[])[0];
    }
    assert.equal(sample?.bytesIn, 5000);
    assert.equal(sample?.bytesOut, 700);
    assert.equal(sample?.streamsOpen, 1);
    assert.equal(sample?.streamsTotal, 2);
    assert.ok(sample!.bytesInPerSecond > 0, "a rate after bytes arrived");
    assert.ok(sample!.connectionsPerSecond > 0);
  } finally {
    await events.cancel();
  }
});

Deno.test("events: a subscriber that does not read is dropped after its queue; the others go on", async () => {
  const { now, state } = mutableState();
  const hub = new EventHub(state, { intervalMs: NEVER_MS, queueLimit: 4 });
  const slow = hub.subscribe();
  const fast = eventReader(hub.subscribe());
  try {
    for (let i = 0; i < 10; i++) {
      now.apps = [{ app: `app${i}`, endpoint: "127.0.0.1:1", peer: "edge" }];
      hub.changed();
      // The fast one sees each change at once, whatever the slow one does.
      if (i > 0) assert.equal((await fast.next())?.event, "app.withdrawn");
      assert.deepEqual((await fast.next())?.data, now.apps[0]);
    }
    assert.equal(hub.size, 1, "the slow subscriber is gone");
    // The slow one finds its queue, then why it ended, then the end.
    const seen: string[] = [];
    const reader = eventReader(slow);
    for (let event = await reader.next(); event; event = await reader.next()) {
      seen.push(event.event);
    }
    assert.ok(seen.length <= 5, `at most the queue and the last word: ${seen}`);
    assert.equal(seen.at(-1), "dropped");
  } finally {
    await fast.cancel();
  }
});

Deno.test("events: aborting the admin API's signal ends every stream", async () => {
  const { state } = mutableState();
  const abort = new AbortController();
  const handle = adminHandler(state, { signal: abort.signal, eventsIntervalMs: NEVER_MS });
  const response = await handle(new Request("http://127.0.0.1/v1/events"));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const events = eventReader(response);
  abort.abort();
  assert.equal(await events.next(), null);
  const after = await handle(new Request("http://127.0.0.1/v1/events"));
  assert.equal(await eventReader(after).next(), null, "no new stream after the end");
});

Deno.test("events: an API with a lifetime samples all along; ?detail=1 shows the last interval's rates", async () => {
  const { now, state } = mutableState();
  now.apps = [{ app: "web", endpoint: "127.0.0.1:3000", peer: "edge" }];
  now.peers = [{ name: "edge", fingerprint: FP, connected: true, apps: ["web"], lastSeen: "t" }];
  now.traffic = [{
    peer: "edge",
    app: "web",
    bytesIn: 0,
    bytesOut: 0,
    streamsOpen: 0,
    streamsTotal: 0,
  }];
  const abort = new AbortController();
  const handle = adminHandler(state, { signal: abort.signal, eventsIntervalMs: 10 });
  const detail = async (path: string) =>
    (await (await handle(new Request(`http://127.0.0.1${path}?detail=1`))).json())[0];
  try {
    now.traffic = [{
      peer: "edge",
      app: "web",
      bytesIn: 4096,
      bytesOut: 1024,
      streamsOpen: 1,
      streamsTotal: 5,
    }];
    // Bounded: a sample within a few intervals sees the change, with no subscriber at all.
    let app: Record<string, number> = {};
    for (let i = 0; i < 1000 && !app.connectionsPerSecond; i++) {
      app = await detail("/v1/apps");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(app.connectionsPerSecond > 0, JSON.stringify(app));
    assert.ok(app.bytesInPerSecond > 0 && app.bytesOutPerSecond > 0, JSON.stringify(app));
    const peer = await detail("/v1/peers");
    assert.ok(peer.bytesInPerSecond >= 0 && typeof peer.connectionsPerSecond === "number");
  } finally {
    // Stops the sampling timer (the sanitizer checks that nothing is left running).
    abort.abort();
  }
});
