/**
 * A client of the admin API, used by the CLI.
 *
 * @module
 */

import type { AppEntry } from "./api.ts";

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
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    let response: Response;
    try {
      response = await fetch(this.#base + path, { method, headers });
    } catch (cause) {
      throw new AdminError(
        `Cannot reach the admin API at ${this.#base}: ${(cause as Error).message}`,
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
      throw new AdminError(
        `${method} ${path} failed with ${response.status}: ${detail}`,
        response.status,
      );
    }
    if (text === "") return undefined;
    try {
      return JSON.parse(text);
    } catch (cause) {
      throw new AdminError(`${method} ${path} returned invalid JSON`, response.status, { cause });
    }
  }

  /** `GET /v1/apps`. */
  async apps(): Promise<AppEntry[]> {
    return await this.#request("GET", "/v1/apps") as AppEntry[];
  }
}
