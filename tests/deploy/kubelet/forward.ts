/**
 * A listener whose every connection is piped to a target chosen per
 * connection: kube-proxy's Service routing, the API server's TLS front and
 * `kubectl port-forward` of the test cluster are all one of these.
 *
 * @module
 */

import { pipeBoth } from "./pipe.ts";

/** Chooses where a connection goes; `null` refuses it (closed at once). */
export type Route = () => Promise<Deno.Conn | null>;

/** Pipes each accepted connection to `route()`; closes everything on `close()`. */
export class Forwarder {
  readonly #conns = new Set<Deno.Conn>();
  readonly #work = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  /** Connections accepted so far. */
  accepted = 0;

  constructor(readonly listener: Deno.Listener, route: Route) {
    this.#loop = (async () => {
      for await (const conn of listener) {
        this.accepted++;
        this.#conns.add(conn);
        const work: Promise<void> = (async () => {
          const target = await route().catch(() => null);
          if (!target) return;
          this.#conns.add(target);
          try {
            await pipeBoth(conn, target);
          } finally {
            this.#conns.delete(target);
          }
        })().catch(() => {}).finally(() => {
          try {
            conn.close();
          } catch {
            // Closed by the pipe.
          }
          this.#conns.delete(conn);
          this.#work.delete(work);
        });
        this.#work.add(work);
      }
    })().catch(() => {});
  }

  /** The TCP port, for a TCP listener. */
  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }

  /** Stops accepting, ends every piped connection and waits for them. */
  async close(): Promise<void> {
    try {
      this.listener.close();
    } catch {
      // Already closed.
    }
    for (const conn of this.#conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await this.#loop;
    await Promise.all([...this.#work]);
  }
}
