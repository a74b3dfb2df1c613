/**
 * Typed payloads of the frames that carry more than raw bytes: window
 * updates, resets, go-aways, pings and the control messages (hello, app
 * announced, app withdrawn; app offered and offer withdrawn share the last
 * two's payloads).
 *
 * Every `decode*` function throws only {@linkcode ProtocolError}.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import { FieldReader, FieldWriter } from "./fields.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Longest reason string carried by a reset or go-away, in bytes. */
export const MAX_REASON_BYTES = 256;

/** Longest name (peer or app) carried by the protocol, in bytes. */
export const MAX_NAME_BYTES = 253;

/** Why a stream was reset. */
export const ResetCode = {
  /** The upstream refused the connection or could not be reached. */
  Refused: 1,
  /** The client does not know the requested app. */
  UnknownApp: 2,
  /** The peer broke the protocol on this stream (e.g. exceeded its window). */
  Protocol: 3,
  /** An unexpected local failure. */
  Internal: 4,
  /** The stream's local end went away (socket error, shutdown). */
  Aborted: 5,
} as const;
/** A reset code value. */
export type ResetCode = typeof ResetCode[keyof typeof ResetCode];

/** Why a connection is going away. */
export const GoAwayCode = {
  /** Orderly shutdown. */
  Normal: 0,
  /** The peer sent something invalid. */
  Protocol: 1,
  /** A newer connection of the same peer replaced this one. */
  Replaced: 2,
  /** The peer did not answer pings. */
  Timeout: 3,
  /** The server refuses this peer. */
  Rejected: 4,
  /** An unexpected local failure. */
  Internal: 5,
} as const;
/** A go-away code value. */
export type GoAwayCode = typeof GoAwayCode[keyof typeof GoAwayCode];

/** Payload of a Reset or GoAway frame. */
export interface Reason {
  /** Machine-readable code ({@linkcode ResetCode} or {@linkcode GoAwayCode}). */
  code: number;
  /** Short human-readable explanation. */
  reason: string;
}

/** The first control message each side sends. */
export interface Hello {
  /** Peer name (the client's `--name`; the server's own label). */
  name: string;
  /** Receive window the sender grants per stream, in bytes. */
  window: number;
  /** Largest frame payload the sender accepts. */
  maxPayload: number;
  /** Software identification, e.g. `wormhole/0.1.0`. */
  software: string;
  /**
   * What the sender understands beyond protocol v1's first release, as
   * {@linkcode HelloFeature} bits; 0 (or absent) from a peer that predates
   * the field.
   */
  features?: number;
}

/**
 * Bits of {@linkcode Hello.features}. A side uses a feature only when the
 * peer's hello has its bit: a peer that predates it would close the
 * connection on a frame kind it does not know.
 */
export const HelloFeature = {
  /**
   * From a client: send me AppOffer and AppOfferWithdraw, and accept my
   * streams to the apps offered. A server sends its offers only to clients
   * with this bit; from a server it says it may offer apps.
   */
  Offers: 1,
} as const;

/** An app offered by a client. */
export interface AppInfo {
  /** App name, unique per peer. */
  name: string;
  /** The app's original port (0 when unknown); used to shape proxy Services. */
  port: number;
}

function truncateUtf8(text: string, maxBytes: number): Uint8Array {
  const bytes = encoder.encode(text);
  if (bytes.length <= maxBytes) return bytes;
  let end = maxBytes;
  // Do not cut a multi-byte character in half.
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function utf8(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new ProtocolError("malformed", `Cannot decode ${what}: invalid UTF-8`, { cause });
  }
}

function need(payload: Uint8Array, size: number, what: string): DataView {
  if (payload.length < size) {
    throw new ProtocolError(
      "truncated",
      `Cannot decode ${what}: needs ${size} bytes, got ${payload.length}`,
    );
  }
  return new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
}

/** Encodes a window increment (1 to 2^32-1 bytes). */
export function encodeWindow(increment: number): Uint8Array {
  if (!Number.isInteger(increment) || increment < 1 || increment > 0xffffffff) {
    throw new RangeError(`Cannot encode window increment ${increment}: not in 1..2^32-1`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, increment);
  return out;
}

/** Decodes a window increment. */
export function decodeWindow(payload: Uint8Array): number {
  const view = need(payload, 4, "window update");
  if (payload.length !== 4) {
    throw new ProtocolError("malformed", `Cannot decode window update: length ${payload.length}`);
  }
  const increment = view.getUint32(0);
  if (increment === 0) {
    throw new ProtocolError("malformed", "Cannot decode window update: increment is 0");
  }
  return increment;
}

/** Encodes a reset or go-away payload; the reason is cut to 256 bytes. */
export function encodeReason({ code, reason }: Reason): Uint8Array {
  const text = truncateUtf8(reason, MAX_REASON_BYTES);
  const out = new Uint8Array(2 + text.length);
  new DataView(out.buffer).setUint16(0, code);
  out.set(text, 2);
  return out;
}

/** Decodes a reset or go-away payload. */
export function decodeReason(payload: Uint8Array): Reason {
  const view = need(payload, 2, "reason");
  if (payload.length > 2 + MAX_REASON_BYTES) {
    throw new ProtocolError(
      "oversized",
      `Cannot decode reason: length ${payload.length - 2} exceeds ${MAX_REASON_BYTES}`,
    );
  }
  return { code: view.getUint16(0), reason: utf8(payload.subarray(2), "reason") };
}

/** Encodes an app name for an Open frame. */
export function encodeOpen(app: string): Uint8Array {
  return encodeName(app, "app name");
}

/** Decodes the app name of an Open frame. */
export function decodeOpen(payload: Uint8Array): string {
  return decodeName(payload, "app name");
}

function encodeName(name: string, what: string): Uint8Array {
  const bytes = encoder.encode(name);
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) {
    throw new RangeError(
      `Cannot encode ${what} "${name}": length ${bytes.length} not in 1..${MAX_NAME_BYTES}`,
    );
  }
  return bytes;
}

function decodeName(bytes: Uint8Array, what: string): string {
  if (bytes.length === 0 || bytes.length > MAX_NAME_BYTES) {
    throw new ProtocolError(
      "malformed",
      `Cannot decode ${what}: length ${bytes.length} not in 1..${MAX_NAME_BYTES}`,
    );
  }
  return utf8(bytes, what);
}

/** Encodes a hello message. */
export function encodeHello(hello: Hello): Uint8Array {
  return new FieldWriter()
    .u32(hello.window)
    .u32(hello.maxPayload)
    .var(encodeName(hello.name, "peer name"))
    .var(truncateUtf8(hello.software, MAX_NAME_BYTES))
    .u32(hello.features ?? 0)
    .bytes();
}

/**
 * Decodes a hello message. Bytes after the known fields are ignored, so later
 * versions can append fields: `features` (a u32 after `software`) is read
 * when there are 4 bytes for it and is 0 otherwise, which is how a hello
 * from a peer that predates it reads.
 */
export function decodeHello(payload: Uint8Array): Hello {
  const reader = new FieldReader(payload, "hello");
  const window = reader.u32();
  const maxPayload = reader.u32();
  const name = decodeName(reader.var("peer name"), "peer name");
  const software = utf8(reader.var("software"), "software");
  const features = payload.length - reader.offset >= 4 ? reader.u32() : 0;
  if (window < 1024) {
    throw new ProtocolError("malformed", `Cannot decode hello: window ${window} below 1024`);
  }
  if (maxPayload < 1024) {
    throw new ProtocolError(
      "malformed",
      `Cannot decode hello: max payload ${maxPayload} below 1024`,
    );
  }
  return { window, maxPayload, name, software, features };
}

/** Encodes an app-announced message. */
export function encodeAppAnnounce(app: AppInfo): Uint8Array {
  if (!Number.isInteger(app.port) || app.port < 0 || app.port > 65535) {
    throw new RangeError(`Cannot encode app "${app.name}": port ${app.port} not in 0..65535`);
  }
  return new FieldWriter().u16(app.port).var(encodeName(app.name, "app name")).bytes();
}

/** Decodes an app-announced message. */
export function decodeAppAnnounce(payload: Uint8Array): AppInfo {
  const reader = new FieldReader(payload, "app announcement");
  const port = reader.u16();
  const name = decodeName(reader.var("app name"), "app name");
  return { name, port };
}

/** Encodes an app-withdrawn message. */
export function encodeAppWithdraw(name: string): Uint8Array {
  return encodeName(name, "app name");
}

/** Decodes an app-withdrawn message. */
export function decodeAppWithdraw(payload: Uint8Array): string {
  return decodeName(payload, "app name");
}
