/**
 * Property tests of the versioned store: historical lists and replayed changes agree with the
 * states the store went through, and compaction turns old versions into 410 Expired.
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import type { KubeObject } from "./object.ts";
import { Registry } from "./registry.ts";
import { SERVICES } from "./resources.ts";
import { KubeStatusError } from "./status.ts";
import { ObjectStore } from "./store.ts";

type Op =
  | { kind: "put"; namespace: string; name: string; label: string }
  | { kind: "delete"; namespace: string; name: string }
  | { kind: "compact" };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant("put" as const),
    namespace: fc.constantFrom("ns1", "ns2"),
    name: fc.constantFrom("a", "b", "c"),
    label: fc.constantFrom("x", "y"),
  }),
  fc.record({
    kind: fc.constant("delete" as const),
    namespace: fc.constantFrom("ns1", "ns2"),
    name: fc.constantFrom("a", "b", "c"),
  }),
  fc.constant({ kind: "compact" as const }),
);

function snapshot(objects: KubeObject[]): string[] {
  return objects.map((o) =>
    `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}:${o.metadata.labels?.l}`
  );
}

Deno.test("store: lists at old versions and replayed changes match the history", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
      const store = new ObjectStore();
      const registry = new Registry(store);
      const states = new Map<number, string[]>([[0, []]]);
      let lastRevision = 0;
      for (const o of ops) {
        if (o.kind === "compact") {
          store.compact();
          continue;
        }
        const exists = store.get(SERVICES, o.namespace, o.name) !== undefined;
        if (o.kind === "delete") {
          if (exists) registry.delete(SERVICES, o.namespace, o.name);
        } else {
          const body = {
            metadata: { name: o.name, namespace: o.namespace, labels: { l: o.label } },
            spec: { ports: [{ port: 80 }] },
          };
          const write = { fieldManager: "t" };
          if (exists) registry.replace(SERVICES, o.namespace, o.name, body, write);
          else registry.create(SERVICES, o.namespace, body, write);
        }
        assert.ok(store.revision >= lastRevision, "resourceVersion never goes back");
        lastRevision = store.revision;
        states.set(store.revision, snapshot(store.list(SERVICES)));
      }
      let previous: string[] = [];
      for (let rv = 0; rv <= store.revision; rv++) {
        const expected = states.get(rv) ?? previous;
        previous = expected;
        if (rv < store.compactedRevision) {
          assert.throws(
            () => store.list(SERVICES, undefined, rv),
            (e: unknown) => e instanceof KubeStatusError && e.status.code === 410,
          );
          assert.throws(
            () => store.changesSince(rv),
            (e: unknown) => e instanceof KubeStatusError && e.status.code === 410,
          );
          continue;
        }
        assert.deepEqual(snapshot(store.list(SERVICES, undefined, rv)), expected, `list@${rv}`);
        const replayed = new Map(
          store.list(SERVICES, undefined, rv).map((
            o,
          ) => [`${o.metadata.namespace}/${o.metadata.name}`, o]),
        );
        for (const change of store.changesSince(rv)) {
          if (change.resource !== SERVICES) continue;
          const key = `${change.object.metadata.namespace}/${change.object.metadata.name}`;
          if (change.type === "DELETED") replayed.delete(key);
          else replayed.set(key, change.object);
        }
        const sorted = [...replayed.entries()].sort(([a], [b]) => a.localeCompare(b));
        assert.deepEqual(
          snapshot(sorted.map(([, o]) => o)),
          snapshot(store.list(SERVICES)),
          `replay from ${rv}`,
        );
      }
    }),
  );
});
