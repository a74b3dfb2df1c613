import assert from "node:assert/strict";
import { MemoryStateBackend, StateStore } from "../state/mod.ts";
import { PortAllocator } from "./port_allocator.ts";
import { quietPorts } from "../testing.ts";
import { MAX_PORTS_PER_PEER, pairKey, PortAssignments, PORTS_ENTRY } from "./port_assignments.ts";

async function restartedAllocator(
  backend: MemoryStateBackend,
  range?: { from: number; to: number },
) {
  const ports = new PortAssignments(await StateStore.open(backend));
  return { ports, allocator: new PortAllocator("127.0.0.1", range, ports) };
}

Deno.test("port assignments: a pair gets its port back from the state after a restart, while it is free", async () => {
  const backend = new MemoryStateBackend();
  const first = await restartedAllocator(backend);
  const web = first.allocator.listen(pairKey("edge", "web"));
  const db = first.allocator.listen(pairKey("edge", "db"));
  const [webPort, dbPort] = [web.addr.port, db.addr.port];
  web.close();
  db.close();
  await first.ports.flush();
  // Oldest first: the order of assignment survives a restart.
  assert.deepEqual(JSON.parse((await backend.read()).entries[PORTS_ENTRY]).ports, [
    { peer: "edge", app: "web", port: webPort },
    { peer: "edge", app: "db", port: dbPort },
  ]);

  const second = await restartedAllocator(backend);
  const squatter = Deno.listen({ hostname: "127.0.0.1", port: dbPort });
  const webAgain = second.allocator.listen(pairKey("edge", "web"));
  const dbMoved = second.allocator.listen(pairKey("edge", "db"));
  assert.equal(webAgain.addr.port, webPort);
  assert.notEqual(dbMoved.addr.port, dbPort, "taken by someone else: another port");
  await second.ports.flush();
  assert.equal(second.ports.get(pairKey("edge", "db")), dbMoved.addr.port);
  for (const listener of [squatter, webAgain, dbMoved]) listener.close();

  second.ports.forgetPeer("edge");
  await second.ports.flush();
  assert.deepEqual([...second.ports.entries()], []);
});

/**
 * A range of two neighbouring ports that are both free now, below the
 * ephemeral range: an outgoing connection of another test (or process) may
 * take any free ephemeral port between the two allocators, never these.
 */
function twoFreePorts(): { from: number; to: number } {
  const from = quietPorts(2);
  return { from, to: from + 1 };
}

Deno.test("port assignments: in a range, a free port another pair had is not handed out first", async () => {
  const backend = new MemoryStateBackend();
  const range = twoFreePorts();
  const first = await restartedAllocator(backend, range);
  const a = first.allocator.listen(pairKey("p", "a"));
  a.close();
  await first.ports.flush();
  const second = await restartedAllocator(backend, range);
  const b = second.allocator.listen(pairKey("p", "b"));
  assert.notEqual(b.addr.port, a.addr.port);
  const aAgain = second.allocator.listen(pairKey("p", "a"));
  assert.equal(aAgain.addr.port, a.addr.port);
  b.close();
  aAgain.close();
  await second.ports.flush();
});

Deno.test("port assignments: a damaged entry is ignored (ports are a convenience) and rewritten", async () => {
  const backend = new MemoryStateBackend();
  backend.external({ [PORTS_ENTRY]: "{oops" });
  const { ports, allocator } = await restartedAllocator(backend);
  const listener = allocator.listen(pairKey("edge", "web"));
  await ports.flush();
  assert.equal(
    JSON.parse((await backend.read()).entries[PORTS_ENTRY]).ports[0].port,
    listener.addr.port,
  );
  listener.close();
});

Deno.test("port assignments: regression: apps that come and go keep at most MAX_PORTS_PER_PEER ports per peer, the newest", async () => {
  const backend = new MemoryStateBackend();
  const ports = new PortAssignments(await StateStore.open(backend));
  for (let i = 0; i < MAX_PORTS_PER_PEER + 100; i++) {
    ports.set(pairKey("edge", `app-${i}`), 20_000 + i);
  }
  ports.set(pairKey("core", "db"), 19_999);
  await ports.flush();
  const reopened = new PortAssignments(await StateStore.open(backend));
  const edge = [...reopened.entries()].filter(([key]) => key.startsWith("edge\0"));
  assert.equal(edge.length, MAX_PORTS_PER_PEER);
  assert.equal(reopened.get(pairKey("edge", "app-99")), undefined, "the oldest went");
  assert.equal(reopened.get(pairKey("edge", "app-100")), 20_100);
  assert.equal(reopened.get(pairKey("core", "db")), 19_999, "other peers keep theirs");
  // The order survives the restart: the next one drops the oldest that was kept.
  reopened.set(pairKey("edge", "one-more"), 30_000);
  await reopened.flush();
  assert.equal(reopened.get(pairKey("edge", "app-100")), undefined);
  assert.equal(reopened.get(pairKey("edge", "app-101")), 20_101);
});
