import assert from "node:assert/strict";
import type { KubeApi, KubeRequest } from "./api.ts";
import { KubernetesApiError, KubernetesWatchError } from "./errors.ts";
import { type KubeObject, SERVICES } from "./objects.ts";
import { type FeedEvents, Reflector } from "./reflector.ts";
import { until } from "../testing.ts";

type Script = (query: Record<string, string>, signal: AbortSignal) => AsyncIterable<unknown>;

/** A KubeApi whose lists and watches the test scripts. */
class StubApi implements KubeApi {
  lists: Record<string, string>[] = [];
  watches: Record<string, string>[] = [];
  items: KubeObject[] = [];
  resourceVersion = "10";
  listError: Error | null = null;
  scripts: Script[] = [];

  request<T>(request: KubeRequest): Promise<T> {
    this.lists.push(request.query ?? {});
    if (this.listError) return Promise.reject(this.listError);
    return Promise.resolve(
      { metadata: { resourceVersion: this.resourceVersion }, items: this.items } as T,
    );
  }

  stream(
    _path: string,
    query: Record<string, string>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Uint8Array>> {
    this.watches.push(query);
    const script = this.scripts.shift();
    if (!script) return Promise.reject(new KubernetesApiError(0, "NetworkError", "no script"));
    const encoder = new TextEncoder();
    return Promise.resolve((async function* () {
      for await (const event of script(query, signal)) {
        yield encoder.encode(JSON.stringify(event) + "\n");
      }
    })());
  }
}

function svc(name: string, rv: string): KubeObject {
  return { metadata: { name, namespace: "ns", resourceVersion: rv } };
}

/** Records feed events as strings. */
function recorder(): FeedEvents & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    replace: (items) => log.push(`replace ${items.map((i) => i.metadata.name).join(",")}`),
    upsert: (item) => log.push(`upsert ${item.metadata.name}`),
    remove: (item) => log.push(`remove ${item.metadata.name}`),
  };
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

/** A watch body that sends nothing and ends when aborted. */
function silent(_query: Record<string, string>, signal: AbortSignal): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        await aborted(signal);
        return { done: true as const, value: undefined };
      },
    }),
  };
}

/** A watch body cut before anything came. */
function broken(): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]: () => ({
      next: () => Promise.reject(new KubernetesApiError(0, "NetworkError", "cut")),
    }),
  };
}

const FAST = { retryMinMs: 1, retryMaxMs: 2 };

Deno.test("reflector: lists, watches from the list's version, resumes after a graceful end", async () => {
  const api = new StubApi();
  api.items = [svc("a", "5")];
  api.scripts.push(async function* () {
    yield { type: "ADDED", object: svc("b", "11") };
    yield { type: "BOOKMARK", object: { metadata: { resourceVersion: "15" } } };
  });
  api.scripts.push(async function* (_query, signal) {
    yield { type: "DELETED", object: svc("a", "16") };
    await aborted(signal);
  });
  const events = recorder();
  const stop = new AbortController();
  const run = new Reflector(api, SERVICES, { policy: FAST }).run(events, stop.signal);
  await until(() => events.log.length === 3, "three events");
  stop.abort();
  await run;
  assert.deepEqual(events.log, ["replace a", "upsert b", "remove a"]);
  assert.equal(api.lists.length, 1, "no relist after a graceful end");
  assert.deepEqual(api.watches.map((q) => q.resourceVersion), ["10", "15"]);
  assert.equal(api.watches[0].allowWatchBookmarks, "true");
  assert.equal(api.watches[0].timeoutSeconds, "60");
});

Deno.test("reflector: an ERROR 410 relists", async () => {
  const api = new StubApi();
  api.scripts.push(async function* () {
    yield { type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } };
  });
  api.scripts.push(silent);
  const events = recorder();
  const stop = new AbortController();
  const run = new Reflector(api, SERVICES, { policy: FAST }).run(events, stop.signal);
  await until(() => api.watches.length === 2, "second watch");
  stop.abort();
  await run;
  assert.equal(api.lists.length, 2);
  assert.deepEqual(events.log, ["replace ", "replace "]);
});

Deno.test("reflector: a stream cut mid-body relists", async () => {
  const api = new StubApi();
  api.scripts.push(async function* () {
    yield { type: "ADDED", object: svc("b", "11") };
    throw new KubernetesApiError(0, "NetworkError", "other side closed");
  });
  api.scripts.push(silent);
  const events = recorder();
  const stop = new AbortController();
  const run = new Reflector(api, SERVICES, { policy: FAST }).run(events, stop.signal);
  await until(() => api.watches.length === 2, "second watch");
  stop.abort();
  await run;
  assert.equal(api.lists.length, 2);
  assert.deepEqual(api.watches.map((q) => q.resourceVersion), ["10", "10"]);
});

Deno.test("reflector: a stalled stream (open past its timeout) is dropped and relisted", async () => {
  const api = new StubApi();
  api.scripts.push(silent);
  api.scripts.push(silent);
  const events = recorder();
  const stop = new AbortController();
  const reflector = new Reflector(api, SERVICES, {
    policy: { ...FAST, watchTimeoutSeconds: 0, stallGraceMs: 5 },
  });
  const run = reflector.run(events, stop.signal);
  await until(() => api.watches.length === 2, "second watch");
  stop.abort();
  await run;
  assert.equal(api.lists.length, 2);
});

Deno.test("reflector: gives up after enough failures in a row, with the reason", async () => {
  const api = new StubApi();
  api.listError = new KubernetesApiError(0, "NetworkError", "connect ECONNREFUSED 127.0.0.1:1");
  const reflector = new Reflector(api, SERVICES, {
    policy: { ...FAST, maxFailures: 3, failureWindowMs: 0 },
  });
  await assert.rejects(
    reflector.run(recorder(), new AbortController().signal),
    (error: Error) =>
      error instanceof KubernetesWatchError && /3 times in a row/.test(error.message) &&
      /ECONNREFUSED/.test(error.message),
  );
  assert.equal(api.lists.length, 3);
});

Deno.test("reflector: a watch that delivers resets the failure count", async () => {
  const api = new StubApi();
  const delivering = async function* () {
    yield { type: "BOOKMARK", object: { metadata: { resourceVersion: "12" } } };
    throw new KubernetesApiError(0, "NetworkError", "cut");
  };
  api.scripts.push(broken, broken, delivering, broken, broken, silent);
  const stop = new AbortController();
  const run = new Reflector(api, SERVICES, {
    policy: { ...FAST, maxFailures: 4, failureWindowMs: 0 },
  }).run(recorder(), stop.signal);
  await until(() => api.watches.length === 6, "sixth watch");
  stop.abort();
  // Five failures, but never four in a row: the delivering watch counted as healthy.
  await run;
});
