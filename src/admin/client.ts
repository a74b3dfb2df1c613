/**
 * A client of the admin API, used by the CLI.
 *
 * @module
 */

import type { AppEntry, DeniedEntry, OfferEntry, PeerEntry } from "./state.ts";
import type { AppDetail, PeerDetail, RequestDetail } from "./detail.ts";

/** The admin API could not be reached or answered with an error. */
export class AdminError extends Error {
  /** HTTP status, when there was an answer. */
  readonly status?: number;
  /** Creates the error. */
  constructor(message: string, status?: number, options?: ErrorOptions) {
    super(message, options);
    this.name = "AdminError";
    this.status = status;
  }
}

/** Talks to one admin API. */
export class AdminClient {
  #base: string;
  #token: string | undefined;
  #signal: AbortSignal | undefined;

  /**
   * Creates a client of the API at `base` (e.g. `http://127.0.0.1:8081`);
   * `signal` aborts every request it makes (a watch ended by Ctrl-C must not
   * wait for a list the server is slow to send).
   */
  constructor(base: string, options?: { token?: string; signal?: AbortSignal }) {
    this.#base = base.replace(/\/+$/, "");
    this.#token = options?.token;
    this.#signal = options?.signal;
  }

  async #fetch(
    action: string,
    method: string,
    path: string,
    signal = this.#signal,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json" };
    // Writes must say JSON: the API's guard against cross-site requests.
    if (method !== "GET") headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(this.#base + path, { method, headers, signal });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new AdminError(
        `Cannot reach the admin API at ${this.#base}: ${fetchFailure(cause)}. ` +
          `Give its URL with --admin (or WORMHOLE_ADMIN); in Kubernetes run the command in the ` +
          `server pod (kubectl exec deploy/<server> -- wormhole …) or forward the port ` +
          `(kubectl port-forward deploy/<server> 8081)`,
        undefined,
        { cause },
      );
    }
    if (!response.ok) {
      const text = await response.text();
      let detail = text.trim();
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? detail;
      } catch {
        // Not JSON: show the text as it is.
      }
      throw new AdminError(
        `Cannot ${action}: ${sentencePart(detail) || response.statusText} ` +
          `(${method} ${this.#base}${path} answered ${response.status})${
            statusHint(response.status, detail)
          }`,
        response.status,
      );
    }
    return response;
  }

  async #request(action: string, method: string, path: string): Promise<unknown> {
    const response = await this.#fetch(action, method, path);
    const text = await response.text();
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new AdminError(
        `Cannot ${action}: ${method} ${this.#base}${path} returned invalid JSON`,
        response.status,
        { cause },
      );
    }
  }

  /** `GET /v1/apps`. */
  async apps(): Promise<AppEntry[]> {
    return await this.#request("list the apps", "GET", "/v1/apps") as AppEntry[];
  }

  /** `GET /v1/requests`: fingerprints waiting for approval. */
  async requests(): Promise<string[]> {
    return await this.#request("list the waiting clients", "GET", "/v1/requests") as string[];
  }

  /** `POST /v1/requests/{fp}`: accept. */
  async accept(fingerprint: string): Promise<void> {
    await this.#request(
      `accept ${fingerprint}`,
      "POST",
      `/v1/requests/${encodeURIComponent(fingerprint)}`,
    );
  }

  /** `DELETE /v1/requests/{fp}`: decline. */
  async decline(fingerprint: string): Promise<void> {
    await this.#request(
      `decline ${fingerprint}`,
      "DELETE",
      `/v1/requests/${encodeURIComponent(fingerprint)}`,
    );
  }

  /** `GET /v1/peers`. */
  async peers(): Promise<PeerEntry[]> {
    return await this.#request("list the peers", "GET", "/v1/peers") as PeerEntry[];
  }

  /** `DELETE /v1/peers/{name}`: revoke. */
  async revoke(name: string): Promise<void> {
    await this.#request(`revoke ${name}`, "DELETE", `/v1/peers/${encodeURIComponent(name)}`);
  }

  /** `GET /v1/denied`: keys the server refuses now. */
  async denied(): Promise<DeniedEntry[]> {
    return await this.#request("list the denied keys", "GET", "/v1/denied") as DeniedEntry[];
  }

  /** `GET /v1/offers`: apps the server offers its clients. */
  async offers(): Promise<OfferEntry[]> {
    return await this.#request("list the offers", "GET", "/v1/offers") as OfferEntry[];
  }

  /** `DELETE /v1/denied/{fp}`: lift a denial. */
  async removeDenied(fingerprint: string): Promise<void> {
    await this.#request(
      `lift the denial of ${fingerprint}`,
      "DELETE",
      `/v1/denied/${encodeURIComponent(fingerprint)}`,
    );
  }

  /** `GET /v1/requests?detail=1`: requests with name, address and waiting time. */
  async requestDetails(): Promise<RequestDetail[]> {
    return await this.#request(
      "list the waiting clients",
      "GET",
      "/v1/requests?detail=1",
    ) as RequestDetail[];
  }

  /** `GET /v1/peers?detail=1`: peers with status, address and traffic. */
  async peerDetails(): Promise<PeerDetail[]> {
    return await this.#request("list the peers", "GET", "/v1/peers?detail=1") as PeerDetail[];
  }

  /** `GET /v1/apps?detail=1`: apps with traffic. */
  async appDetails(): Promise<AppDetail[]> {
    return await this.#request("list the apps", "GET", "/v1/apps?detail=1") as AppDetail[];
  }

  /**
   * `GET /v1/events`: the event names as they arrive, until `signal` aborts
   * (then it just ends) or the stream ends (then it throws an
   * {@linkcode AdminError}).
   */
  async *events(signal: AbortSignal): AsyncGenerator<string> {
    const response = await this.#fetch("follow the events", "GET", "/v1/events", signal);
    let buffer = "";
    try {
      for await (const chunk of response.body!.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let end;
        // Under load one chunk holds many events: none is handed out once the caller stopped.
        while (!signal.aborted && (end = buffer.indexOf("\n\n")) >= 0) {
          const name = /^event: (.*)$/m.exec(buffer.slice(0, end))?.[1];
          buffer = buffer.slice(end + 2);
          if (name) yield name;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      throw new AdminError(`The event stream of ${this.#base} failed: ${error}`, undefined, {
        cause: error,
      });
    }
    if (signal.aborted) return;
    throw new AdminError(`The admin API at ${this.#base} ended its event stream`);
  }
}

/**
 * Why a `fetch` failed, without the request's URL (the message names it
 * already): Deno says only "fetch failed" and keeps the reason, such as
 * "Connection refused (os error 111)", in the cause.
 */
function fetchFailure(error: unknown): string {
  const cause = (error as Error)?.cause;
  const text = cause instanceof Error ? cause.message : String((error as Error)?.message ?? error);
  return text.replace(/^error sending request for url \([^)]*\): /, "")
    .replace(/^client error \(Connect\): /, "").replace(/^tcp connect error: /, "");
}

/** `No peer named x` → `no peer named x`, to follow "Cannot …:". */
function sentencePart(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text;
}

/** What to do about an error answer, when the status tells. */
function statusHint(status: number, detail: string): string {
  if (status === 401) {
    return "; set --admin-token or WORMHOLE_ADMIN_TOKEN to the admin token of that server " +
      "or client";
  }
  if (status === 404 && detail.startsWith("Not found: ")) {
    return "; is --admin the admin API's base URL (--admin-host:--admin-port, " +
      "http://127.0.0.1:8081 by default)?";
  }
  return "";
}
