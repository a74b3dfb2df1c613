import assert from "node:assert/strict";
import { PortAllocator, PortsExhaustedError } from "./port_allocator.ts";

/**
 * A range of `size` ports free a moment ago, below the ephemeral range
 * (32768 and up on Linux), so that no test binding port 0 can take one of
 * them before this test does.
 */
function freeRange(size: number): { from: number; to: number } {
  for (let from = 20_000 + (Deno.pid % 1000) * 10; from < 32_000; from += size) {
    const held: Deno.TcpListener[] = [];
    try {
      for (let port = from; port < from + size; port++) {
        held.push(Deno.listen({ hostname: "127.0.0.1", port }));
      }
      return { from, to: from + size - 1 };
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    } finally {
      for (const listener of held) listener.close();
    }
  }
  throw new Error(`No ${size} consecutive free ports below 32000`);
}

Deno.test("port allocator: a pair gets its previous port back after closing it", () => {
  const book = new Map<string, number>();
  const ports = new PortAllocator("127.0.0.1", undefined, book);
  const first = ports.listen("edge/web");
  const port = first.addr.port;
  assert.equal(book.get("edge/web"), port);
  first.close();
  const again = ports.listen("edge/web");
  assert.equal(again.addr.port, port);
  again.close();
});

Deno.test("port allocator: a range is used in order, spares other pairs' ports, then is exhausted", () => {
  const range = freeRange(3);
  const book = new Map<string, number>([["old/app", range.from + 1]]);
  const ports = new PortAllocator("127.0.0.1", range, book);
  const a = ports.listen("edge/a");
  const b = ports.listen("edge/b");
  assert.deepEqual([a.addr.port, b.addr.port], [range.from, range.to], "old/app's port is spared");
  const c = ports.listen("edge/c");
  assert.equal(c.addr.port, range.from + 1, "taken when nothing else is free");
  assert.throws(() => ports.listen("edge/d"), PortsExhaustedError);
  assert.throws(
    () => ports.listen("edge/d"),
    new RegExp(`every port in ${range.from}-${range.to} is taken`),
  );
  for (const listener of [a, b, c]) listener.close();
});

Deno.test("port allocator: a pair whose old port is taken moves on and remembers the new one", () => {
  const book = new Map<string, number>();
  const ports = new PortAllocator("127.0.0.1", undefined, book);
  const first = ports.listen("edge/web");
  const old = first.addr.port;
  // The listener stays open, as if something else had the port now.
  const second = ports.listen("edge/web");
  assert.notEqual(second.addr.port, old);
  assert.equal(book.get("edge/web"), second.addr.port);
  first.close();
  second.close();
});

Deno.test("port allocator: a remembered port outside the range (changed since) is not taken again", () => {
  const range = freeRange(1);
  // Free now, but outside the range: the range wins.
  const outside = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const old = outside.addr.port;
  outside.close();
  const book = new Map<string, number>([["edge/web", old]]);
  const listener = new PortAllocator("127.0.0.1", range, book).listen("edge/web");
  assert.equal(listener.addr.port, range.from);
  assert.equal(book.get("edge/web"), range.from);
  listener.close();
});
