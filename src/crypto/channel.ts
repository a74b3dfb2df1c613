/**
 * The handshake's view of a record link: one handshake message per record,
 * and a way to hand the link over to the session afterwards without losing
 * the records the peer sent right behind its last handshake message.
 *
 * @module
 */

import { RecordInbox, type RecordLink } from "../link/mod.ts";
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
 * Wraps a RecordLink (before anyone else listens on it) as a HandshakeChannel.
 * `release()` ends the handshake's use of it and returns the link for the
 * session: records that arrived behind the handshake's last message (and the
 * link's end, if it already came) are replayed, in order, to the returned
 * link's listener, then everything that arrives later.
 */
export function linkChannel(link: RecordLink): HandshakeChannel & { release(): RecordLink } {
  const queue: Uint8Array[] = [];
  const waiters: Waiter[] = [];
  let ended: { error?: Error } | null = null;
  /** The session's inbound side, once released. */
  let session: RecordInbox | null = null;

  const closedError = (cause?: Error) =>
    new HandshakeError(
      "closed",
      `Cannot receive handshake message: the connection closed${cause ? `: ${cause.message}` : ""}`,
      { cause },
    );
  const releasedError = () =>
    new HandshakeError("closed", "Cannot receive handshake message: the channel was released");

  link.listen({
    record(record) {
      if (session) return session.record(record);
      const waiter = waiters.shift();
      if (waiter) waiter.resolve(record);
      else queue.push(record);
    },
    closed(error) {
      if (session) return session.end(error);
      if (ended) return;
      ended = { error };
      for (const waiter of waiters.splice(0)) waiter.reject(closedError(error));
    },
  });

  return {
    send(message) {
      if (session) throw new Error("Cannot send handshake message: the channel was released");
      link.send(message);
    },
    receive() {
      if (session) return Promise.reject(releasedError());
      if (queue.length > 0) return Promise.resolve(queue.shift()!);
      if (ended) return Promise.reject(closedError(ended.error));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    release() {
      if (session) throw new Error("Cannot release the handshake channel twice");
      const inbox = session = new RecordInbox();
      for (const waiter of waiters.splice(0)) waiter.reject(releasedError());
      for (const record of queue.splice(0)) inbox.record(record);
      if (ended) inbox.end(ended.error);
      return {
        listen: (handler) => inbox.listen(handler),
        send: (record) => link.send(record),
        get writable() {
          return link.writable;
        },
        waitWritable: () => link.waitWritable(),
        close: (reason) => link.close(reason),
      };
    },
  };
}
