/**
 * Encoding and decoding of records: one frame or a batch of frames.
 *
 * Pure functions, no I/O. Decoding never throws anything but
 * {@linkcode ProtocolError}; decoded payloads are views into the input, so
 * decoding copies nothing.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";
import {
  DEFAULT_MAX_PAYLOAD,
  type Frame,
  frameKindName,
  HEADER_SIZE,
  isFrameKind,
  PROTOCOL_VERSION,
} from "./frame.ts";

/** Options shared by the encoder and the decoder. */
export interface CodecOptions {
  /** Largest payload a frame may carry; defaults to 64 KiB. */
  maxPayload?: number;
}

/** Number of bytes `frames` take on the wire. */
export function encodedSize(frames: readonly Frame[]): number {
  let size = 0;
  for (const frame of frames) size += HEADER_SIZE + frame.payload.length;
  return size;
}

/**
 * Writes `frames` back to back into `target` at `offset` and returns the
 * offset after the last byte written. `target` must have room for
 * {@linkcode encodedSize} bytes.
 */
export function encodeInto(
  frames: readonly Frame[],
  target: Uint8Array,
  offset = 0,
  options?: CodecOptions,
): number {
  const maxPayload = options?.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  let at = offset;
  for (const { kind, stream, payload } of frames) {
    if (payload.length > maxPayload) {
      throw new RangeError(
        `Cannot encode ${
          frameKindName(kind)
        } frame: length ${payload.length} exceeds ${maxPayload}`,
      );
    }
    if (!Number.isInteger(stream) || stream < 0 || stream > 0xffffffff) {
      throw new RangeError(`Cannot encode frame: stream id ${stream} is not a u32`);
    }
    target[at] = PROTOCOL_VERSION;
    target[at + 1] = kind;
    view.setUint32(at + 2, stream);
    view.setUint32(at + 6, payload.length);
    target.set(payload, at + HEADER_SIZE);
    at += HEADER_SIZE + payload.length;
  }
  return at;
}

/**
 * Encodes one frame or a batch of frames into a single record.
 *
 * @throws {RangeError} when a payload exceeds `maxPayload` or a stream id is not a u32.
 */
export function encodeFrames(frames: readonly Frame[], options?: CodecOptions): Uint8Array {
  const record = new Uint8Array(encodedSize(frames));
  encodeInto(frames, record, 0, options);
  return record;
}

/**
 * Decodes a record into its frames. Payloads are views into `record`.
 *
 * @throws {ProtocolError} for truncated, oversized, unknown-kind or
 * unknown-version input; never anything else.
 */
export function decodeFrames(record: Uint8Array, options?: CodecOptions): Frame[] {
  const maxPayload = options?.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const frames: Frame[] = [];
  let at = 0;
  if (record.length === 0) {
    throw new ProtocolError("truncated", "Cannot decode record: it is empty");
  }
  while (at < record.length) {
    if (record.length - at < HEADER_SIZE) {
      throw new ProtocolError(
        "truncated",
        `Cannot decode frame: header needs ${HEADER_SIZE} bytes, ${record.length - at} left`,
      );
    }
    const version = record[at];
    if (version !== PROTOCOL_VERSION) {
      throw new ProtocolError(
        "unknown-version",
        `Cannot decode frame: version ${version} is not ${PROTOCOL_VERSION}`,
      );
    }
    const kind = record[at + 1];
    if (!isFrameKind(kind)) {
      throw new ProtocolError("unknown-kind", `Cannot decode frame: unknown kind ${kind}`);
    }
    const stream = view.getUint32(at + 2);
    const length = view.getUint32(at + 6);
    if (length > maxPayload) {
      throw new ProtocolError(
        "oversized",
        `Cannot decode frame: length ${length} exceeds ${maxPayload}`,
      );
    }
    const start = at + HEADER_SIZE;
    if (record.length - start < length) {
      throw new ProtocolError(
        "truncated",
        `Cannot decode ${frameKindName(kind)} frame: length ${length} but ${
          record.length - start
        } bytes left`,
      );
    }
    frames.push({ kind, stream, payload: record.subarray(start, start + length) });
    at = start + length;
  }
  return frames;
}
