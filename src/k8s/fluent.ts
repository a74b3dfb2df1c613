/**
 * {@linkcode KubeApi} on kubernetes-fluent-client 3.11.6, the only module of
 * wormhole that imports it (loaded lazily by `loadKubeApi()`, load_api.ts).
 *
 * What is used, and why not more of it:
 *
 * - `k8sCfg()` loads the kubeconfig (`KUBECONFIG`, `~/.kube/config`, or the
 *   pod's service account) on every call, as the fluent client itself does,
 *   and gives the server URL, the Authorization header and an undici Agent
 *   with the cluster's CA and client certificate. Every request here closes
 *   its Agent afterwards; the fluent `K8s()` calls never do, which leaves
 *   one pooled connection per request behind.
 * - Requests go through the fluent client's own `fetch` (undici). `K8s().Apply`
 *   cannot be used: it hard-codes `fieldManager=pepr`, and wormhole applies
 *   as `wormhole`; `K8s().Delete` cannot send the uid/resourceVersion
 *   preconditions that make "never delete what wormhole does not own" hold.
 * - Watches are streamed here with the Agent's `request()`, not with the
 *   fluent `Watch`, which is unusable for a long-running process on Deno
 *   (measured against tests/fake_kube): a stream cut mid-body is never
 *   noticed before `lastSeenLimitSeconds`, and not at all when no event came
 *   through it yet; and every resync it does leaves the previous HTTP watch
 *   open (five resyncs, five open watches on the server). The streaming
 *   request below reports a cut stream at once ("other side closed"), and
 *   `Reflector` adds bookmarks, `timeoutSeconds` and a stall deadline.
 *
 * @module
 */

import { fetch as fluentFetch } from "kubernetes-fluent-client";
import { FetchMethods } from "kubernetes-fluent-client/dist/fluent/shared-types.js";
import { k8sCfg } from "kubernetes-fluent-client/dist/fluent/utils.js";
import type { KubeApi, KubeRequest } from "./api.ts";
import { KubernetesApiError } from "./errors.ts";

/** The parts of undici's Agent used here (the fluent types call it a node-fetch RequestInit). */
interface Agent {
  request(options: {
    origin: string;
    path: string;
    method: string;
    headers: Record<string, string>;
    signal?: AbortSignal;
  }): Promise<
    { statusCode: number; body: AsyncIterable<Uint8Array> & { text(): Promise<string> } }
  >;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

interface Connection {
  url: (path: string, query?: Record<string, string>) => URL;
  headers: Record<string, string>;
  agent: Agent;
}

async function connect(): Promise<Connection> {
  let config;
  try {
    config = await k8sCfg(FetchMethods.GET);
  } catch (error) {
    throw new KubernetesApiError(
      0,
      "NoConfig",
      `Cannot load the Kubernetes configuration: ${(error as Error).message}`,
      { cause: error },
    );
  }
  const opts = config.opts as unknown as { headers: Record<string, string>; dispatcher: Agent };
  // Keep a path prefix of the server URL (e.g. a proxy's /k8s/clusters/x).
  const base = String(config.serverUrl).replace(/\/+$/, "");
  return {
    url: (path, query = {}) => {
      const url = new URL(base + path);
      for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
      return url;
    },
    headers: { ...opts.headers },
    agent: opts.dispatcher,
  };
}

function describe(cause: unknown): string {
  const error = cause as Error & { cause?: Error };
  return error?.cause?.message
    ? `${error.message}: ${error.cause.message}`
    : String(error?.message ?? cause);
}

/** An error from an answer's body (a `Status` object) or its status line. */
function answerError(status: number, statusText: string, data: unknown, what: string) {
  const body = (typeof data === "object" && data !== null ? data : {}) as {
    reason?: string;
    message?: string;
  };
  const text = typeof data === "string" && data ? data.slice(0, 200) : statusText;
  return new KubernetesApiError(
    status,
    body.reason || statusText || "Unknown",
    `${what}: ${status} ${body.message || text}`,
  );
}

/** How long a request, or a watch until its response starts, may go unanswered: 30 s. */
export const DEFAULT_KUBE_TIMEOUT_MS = 30_000;

/** Options of {@linkcode FluentKubeApi}. */
export interface FluentKubeApiOptions {
  /**
   * How long a request may take, and a watch until its response starts, in
   * ms (default {@linkcode DEFAULT_KUBE_TIMEOUT_MS}): an API server that
   * accepts and never answers must not hold a caller for ever.
   */
  timeoutMs?: number;
}

/** {@linkcode KubeApi} on kubernetes-fluent-client's configuration and transport. */
export class FluentKubeApi implements KubeApi {
  #timeoutMs: number;

  /** An API client on the current kubeconfig or the pod's service account. */
  constructor(options: FluentKubeApiOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_KUBE_TIMEOUT_MS;
  }

  /** Sends one JSON request; see {@linkcode KubeApi.request}. */
  async request<T>(request: KubeRequest): Promise<T> {
    const what = `${request.method} ${request.path}`;
    const connection = await connect();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#timeoutMs);
    let response;
    try {
      response = await fluentFetch<T>(connection.url(request.path, request.query), {
        method: request.method,
        headers: {
          ...connection.headers,
          "Content-Type": request.contentType ?? "application/json",
          Accept: "application/json",
        },
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: deadline.signal,
        // undici's fetch takes its Agent as `dispatcher`.
        dispatcher: connection.agent as never,
      });
    } finally {
      clearTimeout(timer);
      await (deadline.signal.aborted ? connection.agent.destroy() : connection.agent.close())
        .catch(() => {});
    }
    if (response.ok) return response.data;
    if (deadline.signal.aborted) throw this.#timedOut(what, response.e);
    if (response.e !== undefined && response.data === undefined) {
      throw new KubernetesApiError(0, "NetworkError", `${what}: ${describe(response.e)}`, {
        cause: response.e,
      });
    }
    throw answerError(response.status, response.statusText, response.data, what);
  }

  /** Opens a streamed GET; see {@linkcode KubeApi.stream}. */
  async stream(
    path: string,
    query: Record<string, string>,
    signal: AbortSignal,
  ): Promise<AsyncIterable<Uint8Array>> {
    const connection = await connect();
    const url = connection.url(path, query);
    const what = `watch ${path}`;
    const release = () => connection.agent.destroy().catch(() => {});
    // Until the response starts: a watch then legitimately waits for events.
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.#timeoutMs);
    let response;
    try {
      response = await connection.agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: "GET",
        headers: { ...connection.headers, Accept: "application/json" },
        signal: AbortSignal.any([signal, deadline.signal]),
      });
    } catch (error) {
      await release();
      if (signal.aborted) return (async function* () {})();
      if (deadline.signal.aborted) throw this.#timedOut(what, error);
      throw new KubernetesApiError(0, "NetworkError", `${what}: ${describe(error)}`, {
        cause: error,
      });
    } finally {
      clearTimeout(timer);
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text().catch(() => "");
      await release();
      let data: unknown = text;
      try {
        data = JSON.parse(text);
      } catch {
        // Not JSON: keep the text.
      }
      throw answerError(response.statusCode, "", data, what);
    }
    const body = response.body;
    return (async function* () {
      try {
        for await (const chunk of body) yield chunk;
      } catch (error) {
        if (signal.aborted) return;
        throw new KubernetesApiError(0, "NetworkError", `${what}: ${describe(error)}`, {
          cause: error,
        });
      } finally {
        await release();
      }
    })();
  }

  #timedOut(what: string, cause: unknown): KubernetesApiError {
    return new KubernetesApiError(
      0,
      "Timeout",
      `${what}: no answer from the API server within ${this.#timeoutMs} ms`,
      { cause },
    );
  }
}
