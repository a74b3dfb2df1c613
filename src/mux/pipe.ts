/**
 * Joins a {@linkcode MuxStream} and a TCP connection: bytes flow both ways
 * with backpressure, half-close is carried across, and an error on either
 * side resets the other promptly.
 *
 * @module
 */

import { ResetCode } from "../protocol/mod.ts";
import { StreamResetError } from "./errors.ts";
import type { MuxStream } from "./stream.ts";

/** The part of `Deno.Conn` a pipe uses; tests may pass anything with this shape. */
export interface Duplex {
  /** Reads into `buffer`; resolves with the bytes read, or null at end of file. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Writes some of `data`; resolves with how many bytes were written. */
  write(data: Uint8Array): Promise<number>;
  /** Ends the writing direction (half-close). */
  closeWrite(): Promise<void>;
  /** Closes both directions. */
  close(): void;
}

/** How a piped connection ended. */
export interface PipeResult {
  /** Bytes read from the stream (received from the tunnel peer) and written to the connection. */
  bytesIn: number;
  /** Bytes read from the connection and sent into the stream (to the tunnel peer). */
  bytesOut: number;
  /** Why it ended abnormally: a reset from the peer, or a local socket error. */
  error?: Error;
}

/** First read size; reads grow to the frame size while the socket keeps them full. */
const MIN_READ = 4096;
/** Largest read: one full frame. */
const MAX_READ = 65536;

/**
 * Pipes `conn` and `stream` until both directions have ended, then closes
 * `conn`. Never rejects. `result` is updated as bytes flow, so callers can
 * read live counters from it.
 */
export async function pipe(
  stream: MuxStream,
  conn: Duplex,
  result: PipeResult = { bytesIn: 0, bytesOut: 0 },
): Promise<PipeResult> {
  let connClosed = false;
  const closeConn = () => {
    if (connClosed) return;
    connClosed = true;
    try {
      conn.close();
    } catch {
      // Already closed by the runtime.
    }
  };
  const fail = (error: unknown, code: number) => {
    const err = error instanceof Error ? error : new Error(String(error));
    result.error ??= err;
    if (!(err instanceof StreamResetError)) stream.reset(code, describe(err));
    closeConn();
  };

  const up = async () => {
    // The read buffer is reused: write() resolves once the bytes were copied
    // into a record. It grows while reads fill it and shrinks when they do
    // not, so an idle connection holds only a small one.
    let buffer = new Uint8Array(MIN_READ);
    try {
      while (true) {
        const credit = await stream.waitCredit();
        const want = Math.min(buffer.length, credit);
        const n = await conn.read(want === buffer.length ? buffer : buffer.subarray(0, want));
        if (n === null) {
          stream.end();
          return;
        }
        result.bytesOut += n;
        await stream.write(buffer.subarray(0, n));
        if (n === buffer.length && buffer.length < MAX_READ) {
          buffer = new Uint8Array(buffer.length * 2);
        } else if (n < want >>> 2 && buffer.length > MIN_READ) {
          buffer = new Uint8Array(buffer.length >>> 1);
        }
      }
    } catch (error) {
      if (!connClosed) fail(error, ResetCode.Aborted);
    }
  };

  const down = async () => {
    try {
      while (true) {
        const chunk = await stream.read();
        if (chunk === null) {
          await conn.closeWrite();
          return;
        }
        let offset = 0;
        while (offset < chunk.length) {
          const n = await conn.write(chunk.subarray(offset));
          offset += n;
          result.bytesIn += n;
        }
      }
    } catch (error) {
      if (!connClosed) fail(error, ResetCode.Aborted);
    }
  };

  // A reset (or the tunnel going away) must close the socket even while
  // both directions are blocked on it, or already finished with one.
  void stream.closed.then(() => {
    if (stream.error && !connClosed) {
      result.error ??= stream.error;
      closeConn();
    }
  });
  await Promise.all([up(), down()]);
  closeConn();
  return result;
}

function describe(error: Error): string {
  return error.name && error.name !== "Error" ? `${error.name}: ${error.message}` : error.message;
}
