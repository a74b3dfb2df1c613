/**
 * `--watch` ends on Ctrl-C at once, even while the server is slow to send a
 * list: every list command, as a real process, against an admin API on
 * loopback that answers the first list and holds every later one until the
 * watcher hangs up.
 */

import assert from "node:assert/strict";
import { WormholeProcess } from "./harness/process.ts";
import { eventually } from "./harness/net.ts";

/** An admin API whose lists after the first never answer, and which records who hung up. */
function slowAdmin() {
  const encoder = new TextEncoder();
  let events: ReadableStreamDefaultController<Uint8Array> | undefined;
  const seen = { lists: 0, held: 0, heldAborted: 0, eventsClosed: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
    if (new URL(request.url).pathname === "/v1/events") {
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          events = controller;
          controller.enqueue(encoder.encode(": wormhole events\n\n"));
        },
        cancel() {
          seen.eventsClosed++;
        },
      });
      return new Response(body, { headers: { "content-type": "text/event-stream" } });
    }
    if (++seen.lists > 1) {
      // Held until the client goes away: a server too busy to answer.
      seen.held++;
      await new Promise((resolve) => request.signal.addEventListener("abort", resolve));
      seen.heldAborted++;
    }
    return Response.json([]);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    seen,
    /** Sends one change event to the watcher. */
    event: () => events?.enqueue(encoder.encode("event: peers\ndata: {}\n\n")),
    close: async () => {
      try {
        events?.close();
      } catch {
        // Already cancelled by the watcher.
      }
      await server.shutdown();
    },
  };
}

for (const noun of ["peers", "apps", "requests", "denied", "offers"]) {
  Deno.test(`cli watch: ${noun} list --watch exits 0 on SIGINT while a list is pending, and hangs up`, async () => {
    const admin = slowAdmin();
    try {
      const watcher = new WormholeProcess([
        noun,
        "list",
        "--watch",
        "-o",
        "json",
        "--admin",
        admin.url,
      ]);
      try {
        await eventually(() => watcher.stdout.length === 1, "the first list");
        admin.event();
        await eventually(() => admin.seen.held === 1, "the second list, held by the server");
        let exited: Deno.CommandStatus | null = null;
        watcher.exited().then((status) => exited = status);
        watcher.kill("SIGINT");
        const status = await eventually(() => exited, "the watcher to exit");
        assert.equal(status.code, 0, watcher.dump());
        assert.deepEqual(watcher.stdout, ["[]"], "one list, nothing after the interrupt");
        assert.deepEqual(watcher.rawStderr, []);
      } finally {
        await watcher.stop();
      }
      // Nothing of the watcher is left: the held list and the event stream were hung up.
      await eventually(() => admin.seen.heldAborted === 1, "the held list to be aborted");
      await eventually(() => admin.seen.eventsClosed === 1, "the event stream to be closed");
    } finally {
      await admin.close();
    }
  });
}
