/**
 * The handshake's view of a record link: one handshake message per record,
 * and a way to hand the link over to the session afterwards without losing
 * the records the peer sent right behind its last handshake message.
 *
 * @module
 */

import type { RecordHandler, RecordLink } from "../link/mod.ts";
import { HandshakeError } from "./errors.ts";

/** Where the handshake sends and receives its messages. */
export interface HandshakeChannel {
  /** Sends one message. */
  send(message: Uint8Array): void;
  /** Next message; rejects when the channel closes. */
  receive(): Promise<Uint8Array>;
}

interface Waiter {
  resolve(message: Uint8Array): void;
  reject(error: Error): void;
}

/**
 * Wraps a RecordLink (before anyone else listens on it) as a HandshakeChannel;
 * `release()` stops listening so the session can take the link over; records
 * that arrived after the handshake's last message stay queued and are handed
 * to the next listener in order.
 *
 * To do that, `release()` intercepts the next `link.listen(handler)` call: it
 * first gives `handler` the queued records (and the link's end, if it already
 * came), then restores `link.listen` and installs `handler` on the link.
 */
export function linkChannel(link: RecordLink): HandshakeChannel & { release(): void } {
  const queue: Uint8Array[] = [];
  const waiters: Waiter[] = [];
  let ended: { error?: Error } | null = null;
  let released = false;

  const closedError = (cause?: Error) =>
    new HandshakeError(
      "closed",
      `Cannot receive handshake message: the connection closed${cause ? `: ${cause.message}` : ""}`,
      { cause },
    );

  link.listen({
    record(record) {
      const waiter = released ? undefined : waiters.shift();
      if (waiter) waiter.resolve(record);
      else queue.push(record);
    },
    closed(error) {
      if (ended) return;
      ended = { error };
      for (const waiter of waiters.splice(0)) waiter.reject(closedError(error));
    },
  });

  return {
    send(message) {
      if (released) throw new Error("Cannot send handshake message: the channel was released");
      link.send(message);
    },
    receive() {
      if (released) {
        return Promise.reject(
          new HandshakeError(
            "closed",
            "Cannot receive handshake message: the channel was released",
          ),
        );
      }
      if (queue.length > 0) return Promise.resolve(queue.shift()!);
      if (ended) return Promise.reject(closedError(ended.error));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    release() {
      if (released) return;
      released = true;
      const abandoned = new HandshakeError(
        "closed",
        "Cannot receive handshake message: the channel was released",
      );
      for (const waiter of waiters.splice(0)) waiter.reject(abandoned);
      const own = Object.getOwnPropertyDescriptor(link, "listen");
      const original = link.listen;
      const target = link as { listen: RecordLink["listen"] };
      target.listen = (handler: RecordHandler) => {
        if (own) Object.defineProperty(link, "listen", own);
        else delete (link as { listen?: unknown }).listen;
        // Synchronous hand-over: nothing can arrive between these steps.
        while (queue.length > 0) handler.record(queue.shift()!);
        if (ended) handler.closed(ended.error);
        else original.call(link, handler);
      };
    },
  };
}
