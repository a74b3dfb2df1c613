/**
 * Frame kinds and the in-memory frame shape of wormhole protocol v1.
 *
 * On the wire every frame is a 10-byte header followed by its payload:
 *
 * ```
 * 0        1        2                 6                 10
 * +--------+--------+-----------------+-----------------+----------------
 * | version|  kind  | stream id (u32) |  length (u32)   | payload …
 * +--------+--------+-----------------+-----------------+----------------
 * ```
 *
 * All integers are big-endian. One WebSocket message (a "record") carries one
 * frame or a batch of frames back to back.
 *
 * @module
 */

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** Size in bytes of a frame header. */
export const HEADER_SIZE = 10;

/** Default largest payload a single frame may carry (64 KiB). */
export const DEFAULT_MAX_PAYLOAD = 65536;

/** Stream id 0 addresses the connection itself (ping, go-away, control). */
export const CONNECTION_STREAM = 0;

/** The kinds of frame protocol v1 knows. */
export const FrameKind = {
  /** Opens a stream; payload: the UTF-8 name of the app to connect to. */
  Open: 0x01,
  /** Stream bytes. */
  Data: 0x02,
  /** Grants the peer more send credit on a stream; payload: u32 increment. */
  Window: 0x03,
  /** Half-close: the sender will send no more data on the stream. */
  Fin: 0x04,
  /** Aborts a stream in both directions; payload: u16 code + UTF-8 reason. */
  Reset: 0x05,
  /** Liveness probe; payload: 8 opaque bytes echoed by {@linkcode FrameKind.Pong}. */
  Ping: 0x06,
  /** Answer to a ping. */
  Pong: 0x07,
  /** The sender is about to close the connection; payload: u16 code + UTF-8 reason. */
  GoAway: 0x08,
  /** First control message of each side: who it is and its stream settings. */
  Hello: 0x09,
  /** Control: an app became available on the sending client. */
  AppAnnounce: 0x0a,
  /** Control: an app is no longer available on the sending client. */
  AppWithdraw: 0x0b,
  /**
   * Control: the server offers one of its apps to this client (payload as
   * AppAnnounce). Sent only to a client whose hello has
   * {@linkcode HelloFeature.Offers}: older decoders reject unknown kinds.
   */
  AppOffer: 0x0c,
  /** Control: the server no longer offers that app to this client (payload as AppWithdraw). */
  AppOfferWithdraw: 0x0d,
} as const;

/** A frame kind value. */
export type FrameKind = typeof FrameKind[keyof typeof FrameKind];

const KIND_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(FrameKind).map(([name, value]) => [value, name]),
);

/** Returns true when `kind` is a frame kind protocol v1 knows. */
export function isFrameKind(kind: number): kind is FrameKind {
  return kind in KIND_NAMES;
}

/** Human-readable name of a frame kind, for logs and errors. */
export function frameKindName(kind: number): string {
  return KIND_NAMES[kind] ?? `0x${kind.toString(16).padStart(2, "0")}`;
}

/** One decoded (or to-be-encoded) frame. */
export interface Frame {
  /** What the frame means. */
  kind: FrameKind;
  /** The stream it belongs to; 0 for connection-level frames. */
  stream: number;
  /** Payload bytes; a view into the received record when decoded. */
  payload: Uint8Array;
}

/** Shared empty payload for frames that carry none. */
export const EMPTY: Uint8Array = new Uint8Array(0);
