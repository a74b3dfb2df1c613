/**
 * Hooks into what the server exposes, and the list that calls them.
 *
 * @module
 */

import type { Logger } from "../log/mod.ts";
import type { AppInfo } from "../protocol/mod.ts";

/** What happened to an exposed app. */
export interface AppEvent {
  /** The peer offering the app. */
  peer: string;
  /** The app as announced. */
  app: AppInfo;
  /** The server's listener port for it. */
  port: number;
  /** `host:port` of the listener. */
  endpoint: string;
}

/**
 * Hooks into what the server exposes. The Kubernetes sink is one: it turns
 * exposed apps into Services. Hooks must not throw.
 */
export interface ServerObserver {
  /** A peer was accepted and connected. */
  peerConnected?(peer: string): void;
  /** A peer's connection ended (its apps were withdrawn first). */
  peerDisconnected?(peer: string): void;
  /** A listener was opened for an app. */
  appExposed?(event: AppEvent): void;
  /** An app's listener was closed: `withdrawn` by the peer, or its peer is `gone`. */
  appWithdrawn?(event: AppEvent & { reason: "withdrawn" | "gone" }): void;
  /**
   * The endpoint `/v1/apps` shows for an app instead of the listener's
   * `host:port` (e.g. `<service>.<namespace>:<port>` in Kubernetes).
   */
  endpoint?(event: AppEvent): string | undefined;
  /**
   * Whether this observer is ready for traffic; the server is ready only
   * while every observer that has this says so (the Kubernetes sink: once it
   * has synced its Services with the API server).
   */
  ready?(): boolean;
}

/** The server's observers; a hook that throws is logged and the others still run. */
export class Observers {
  #list: readonly ServerObserver[];
  #log: Logger;

  /** Calls `list`, logging failures to `log`. */
  constructor(list: readonly ServerObserver[], log: Logger) {
    this.#list = list;
    this.#log = log;
  }

  /** Calls `call` with every observer. */
  notify(call: (observer: ServerObserver) => void): void {
    for (const observer of this.#list) {
      try {
        call(observer);
      } catch (error) {
        this.#log.error("observer failed", { error });
      }
    }
  }

  /** The endpoint the first observer that has one shows for `event`, else the listener's. */
  endpoint(event: AppEvent): string {
    for (const observer of this.#list) {
      const shown = observer.endpoint?.(event);
      if (shown) return shown;
    }
    return event.endpoint;
  }

  /** Whether every observer that can tell is ready. */
  ready(): boolean {
    return this.#list.every((observer) => observer.ready?.() ?? true);
  }
}
