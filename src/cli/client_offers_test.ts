import assert from "node:assert/strict";
import { MemoryServiceSink, ProxyServiceController } from "../k8s/mod.ts";
import { until } from "../testing.ts";
import { OfferedServices } from "./client_offers.ts";

const offer = (app: string, listenPort: number, port = 5432) => ({
  app,
  endpoint: `0.0.0.0:${listenPort}`,
  peer: "central",
  listenPort,
  port,
});

function targetPort(sink: MemoryServiceSink, name: string): number | undefined {
  const spec = sink.peek("Service", name)?.spec as { ports: { targetPort: number }[] } | undefined;
  return spec?.ports[0].targetPort;
}

Deno.test("client offers: each offer's listener becomes a proxy Service <server>-<app>, following port changes and withdrawals", async () => {
  const sink = new MemoryServiceSink("edge-ns");
  const controller = new ProxyServiceController({
    sink,
    selector: { app: "wormhole-client" },
    // Real timers, short: a withdrawn offer's Service goes after this grace period.
    graceMs: 1,
  });
  controller.start();
  const services = new OfferedServices(controller);
  try {
    services.update([offer("db", 40001), offer("cache", 40002, 6379)]);
    await controller.idle();
    assert.deepEqual(sink.names("Service"), ["central-cache", "central-db"]);
    assert.equal(targetPort(sink, "central-db"), 40001);
    assert.deepEqual(
      (sink.peek("Service", "central-db")!.spec as { selector: unknown }).selector,
      { app: "wormhole-client" },
    );

    // Same offers again: nothing is written.
    const writes = sink.writes.length;
    services.update([offer("cache", 40002, 6379), offer("db", 40001)]);
    await controller.idle();
    assert.equal(sink.writes.length, writes);

    // A new listener port (a reconnect that could not get the old one) moves the targetPort.
    services.update([offer("db", 40003), offer("cache", 40002, 6379)]);
    await controller.idle();
    assert.equal(targetPort(sink, "central-db"), 40003);

    services.update([offer("db", 40003)]);
    await until(() => sink.peek("Service", "central-cache") === undefined, "cache's Service gone");
    await controller.idle();
    assert.deepEqual(sink.names("Service"), ["central-db"]);
  } finally {
    await services.close();
  }
});
