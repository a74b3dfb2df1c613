/**
 * Test helpers of the transport modules (not exported by `mod.ts`): a raw
 * WebSocket client that sends exactly the frames a test makes, hostile ones
 * included.
 *
 * @module
 */

import { applyMask, FrameParser, Opcode } from "./ws_frame.ts";

/** A raw client connection after its upgrade. */
export interface RawWebSocket {
  conn: Deno.TcpConn;
  /** The status line of the server's answer. */
  status: string;
  /** Bytes the server sent past its answer's head. */
  leftover: Uint8Array;
}

/** Connects to 127.0.0.1:`port` and sends an upgrade request for `path`; returns the answer. */
export async function rawUpgrade(port: number, path = "/wh/tunnel"): Promise<RawWebSocket> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = [
    `GET ${path} HTTP/1.1`,
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    "",
    "",
  ].join("\r\n");
  // A server that refuses the connection may reset it under our write or read.
  const sent = await writeAll(conn, new TextEncoder().encode(request)).then(
    () => true,
    () => false,
  );
  let head = new Uint8Array(0);
  const buffer = new Uint8Array(4096);
  for (let reads = 0; sent && reads < 100; reads++) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) break;
    const joined = new Uint8Array(head.length + n);
    joined.set(head);
    joined.set(buffer.subarray(0, n), head.length);
    head = joined;
    const text = new TextDecoder().decode(head);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      return { conn, status: text.slice(0, text.indexOf("\r\n")), leftover: head.slice(end + 4) };
    }
  }
  return { conn, status: "", leftover: head };
}

/** One client frame with any FIN bit, masked (or not, when `masked` is false). */
export function rawFrame(
  opcode: number,
  payload: Uint8Array,
  options: { fin?: boolean; masked?: boolean; length?: number } = {},
): Uint8Array {
  const fin = options.fin ?? true;
  const masked = options.masked ?? true;
  const length = options.length ?? payload.length;
  const header = new Uint8Array(2 + 8 + (masked ? 4 : 0));
  header[0] = (fin ? 0x80 : 0) | opcode;
  header[1] = (masked ? 0x80 : 0) | 127;
  new DataView(header.buffer).setBigUint64(2, BigInt(length));
  const body = payload.slice();
  if (masked) {
    const mask = crypto.getRandomValues(new Uint8Array(4));
    header.set(mask, 10);
    applyMask(body, mask);
  }
  const frame = new Uint8Array(header.length + body.length);
  frame.set(header);
  frame.set(body, header.length);
  return frame;
}

/**
 * Reads server frames until a Close arrives (its code) or the connection
 * ends (null); `onFrame` sees every frame before the Close.
 */
export async function readCloseCode(
  raw: RawWebSocket,
  onFrame?: (opcode: number) => void,
): Promise<number | null> {
  const parser = new FrameParser(1 << 20);
  const buffer = new Uint8Array(65536);
  let chunk: Uint8Array | null = raw.leftover;
  for (let reads = 0; chunk !== null && reads < 1_000_000; reads++) {
    for (const frame of parser.push(chunk)) {
      onFrame?.(frame.opcode);
      if (frame.opcode === Opcode.Close) {
        return frame.payload.length >= 2 ? (frame.payload[0] << 8) | frame.payload[1] : 1005;
      }
    }
    const n = await raw.conn.read(buffer).catch(() => null);
    chunk = n === null ? null : buffer.slice(0, n);
  }
  return null;
}

/**
 * Writes `frame` again and again, up to `limit` bytes in all, until a write
 * fails because the server closed the connection; returns the bytes written.
 */
export async function writeUntilClosed(
  conn: Deno.Conn,
  frame: () => Uint8Array,
  limit: number,
): Promise<number> {
  let written = 0;
  try {
    while (written < limit) {
      const bytes = frame();
      await writeAll(conn, bytes);
      written += bytes.length;
    }
  } catch {
    // The server closed the connection.
  }
  return written;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let at = 0;
  while (at < data.length) at += await conn.write(data.subarray(at));
}
