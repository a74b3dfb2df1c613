/**
 * A client of the admin API, used by the CLI.
 *
 * @module
 */

import type { AppEntry, DeniedEntry, PeerEntry } from "./api.ts";

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

  /** Creates a client of the API at `base` (e.g. `http://127.0.0.1:8081`). */
  constructor(base: string, options?: { token?: string }) {
    this.#base = base.replace(/\/+$/, "");
    this.#token = options?.token;
  }

  async #request(method: string, path: string): Promise<unknown> {
    const headers: Record<string, string> = { accept: "application/json" };
    // Writes must say JSON: the API's guard against cross-site requests.
    if (method !== "GET") headers["content-type"] = "application/json";
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(this.#base + path, { method, headers });
    } catch (cause) {
      throw new AdminError(
        `Cannot reach the admin API at ${this.#base}: ${(cause as Error).message}. ` +
          `Give its URL with --admin (or WORMHOLE_ADMIN); in Kubernetes run the command in the ` +
          `server pod (kubectl exec deploy/<server> -- wormhole …) or forward the port ` +
          `(kubectl port-forward deploy/<server> 8081)`,
        undefined,
        { cause },
      );
    }
    const text = await response.text();
    if (!response.ok) {
      let detail = text.trim();
      try {
        detail = (JSON.parse(text) as { error?: string }).error ?? detail;
      } catch {
        // Not JSON: show the text as it is.
      }
      const hint = response.status === 401
        ? " (set --admin-token or WORMHOLE_ADMIN_TOKEN to the server's token)"
        : "";
      throw new AdminError(
        `${method} ${this.#base}${path} failed with ${response.status}: ${detail}${hint}`,
        response.status,
      );
    }
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new AdminError(
        `${method} ${this.#base}${path} returned invalid JSON`,
        response.status,
        {
          cause,
        },
      );
    }
  }

  /** `GET /v1/apps`. */
  async apps(): Promise<AppEntry[]> {
    return await this.#request("GET", "/v1/apps") as AppEntry[];
  }

  /** `GET /v1/requests`: fingerprints waiting for approval. */
  async requests(): Promise<string[]> {
    return await this.#request("GET", "/v1/requests") as string[];
  }

  /** `POST /v1/requests/{fp}`: accept. */
  async accept(fingerprint: string): Promise<void> {
    await this.#request("POST", `/v1/requests/${encodeURIComponent(fingerprint)}`);
  }

  /** `DELETE /v1/requests/{fp}`: decline. */
  async decline(fingerprint: string): Promise<void> {
    await this.#request("DELETE", `/v1/requests/${encodeURIComponent(fingerprint)}`);
  }

  /** `GET /v1/peers`. */
  async peers(): Promise<PeerEntry[]> {
    return await this.#request("GET", "/v1/peers") as PeerEntry[];
  }

  /** `DELETE /v1/peers/{name}`: revoke. */
  async revoke(name: string): Promise<void> {
    await this.#request("DELETE", `/v1/peers/${encodeURIComponent(name)}`);
  }

  /** `GET /v1/denied`: keys the server refuses now. */
  async denied(): Promise<DeniedEntry[]> {
    return await this.#request("GET", "/v1/denied") as DeniedEntry[];
  }

  /** `DELETE /v1/denied/{fp}`: lift a denial. */
  async removeDenied(fingerprint: string): Promise<void> {
    await this.#request("DELETE", `/v1/denied/${encodeURIComponent(fingerprint)}`);
  }
}
