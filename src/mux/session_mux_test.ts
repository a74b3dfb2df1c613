import assert from "node:assert/strict";
import { memoryLinkPair } from "../link/testing.ts";
import { clientHandshake, linkChannel, SealedLink, serverHandshake } from "../crypto/mod.ts";
import { identities } from "../crypto/testing.ts";
import { GoAwayCode, type Reason } from "../protocol/mod.ts";
import { Mux } from "./mux.ts";
import type { MuxStream } from "./stream.ts";

Deno.test("session under the multiplexer: a stream carries 8 MiB exactly; a go-away arrives", async () => {
  const ids = await identities();
  const [clientLink, serverLink] = memoryLinkPair();
  const clientChannel = linkChannel(clientLink);
  const serverChannel = linkChannel(serverLink);
  const [client, server] = await Promise.all([
    clientHandshake(clientChannel, { identity: ids.client, name: "laptop" }),
    serverHandshake(serverChannel, {
      identity: ids.server,
      name: "gateway",
      helloTimeoutMs: 60_000,
      pendingIntervalMs: 60_000,
      decide: () => Promise.resolve({ accepted: true }),
    }),
  ]);
  const serverSession = serverChannel.release();
  const clientSession = clientChannel.release();
  const options = { rekeyBytes: 1 << 20 };
  const accepted = Promise.withResolvers<MuxStream>();
  const goAway = Promise.withResolvers<Reason>();
  const serverMux = new Mux(new SealedLink(serverSession, server.keys, "server", options), {
    role: "server",
  });
  const clientMux = new Mux(new SealedLink(clientSession, client.keys, "client", options), {
    role: "client",
    onStream: accepted.resolve,
    onGoAway: goAway.resolve,
  });
  clientMux.setPeerSettings({ window: serverMux.window, maxPayload: serverMux.maxPayload });
  serverMux.setPeerSettings({ window: clientMux.window, maxPayload: clientMux.maxPayload });

  const data = new Uint8Array(8 << 20);
  for (let at = 0; at < data.length; at += 65536) {
    crypto.getRandomValues(data.subarray(at, at + 65536));
  }
  const out = serverMux.open("web");
  const writing = (async () => {
    for (let at = 0; at < data.length; at += 100_000) {
      await out.write(data.subarray(at, at + 100_000));
    }
    out.end();
  })();
  const incoming = await accepted.promise;
  const received = new Uint8Array(data.length);
  let size = 0;
  for (let chunk = await incoming.read(); chunk !== null; chunk = await incoming.read()) {
    received.set(chunk, size);
    size += chunk.length;
  }
  await writing;
  assert.equal(size, data.length);
  assert.deepEqual(
    new Uint8Array(await crypto.subtle.digest("SHA-256", received)),
    new Uint8Array(await crypto.subtle.digest("SHA-256", data)),
  );
  incoming.end();
  assert.equal(await out.read(), null);
  await Promise.all([out.closed, incoming.closed]);

  serverMux.goAway(GoAwayCode.Normal, "maintenance");
  assert.deepEqual(await goAway.promise, { code: GoAwayCode.Normal, reason: "maintenance" });
  await Promise.all([serverMux.done, clientMux.done]);
});
