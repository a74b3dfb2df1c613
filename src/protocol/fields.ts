/**
 * Sequential writer and reader of binary message fields: big-endian
 * integers, fixed-size byte strings and byte strings with a u16 length
 * prefix. Shared by the control payloads and the handshake messages; each
 * reader says which error class its problems become.
 *
 * @module
 */

import { ProtocolError } from "./errors.ts";

/** Makes the error a reader throws; `code` says whether bytes ran out or were wrong. */
export type FieldErrorFactory = (
  code: "truncated" | "malformed",
  message: string,
  options?: ErrorOptions,
) => Error;

const protocolError: FieldErrorFactory = (code, message, options) =>
  new ProtocolError(code, message, options);

/** Sequential writer of fields. */
export class FieldWriter {
  #parts: Uint8Array[] = [];
  #size = 0;

  /** One byte. */
  u8(value: number): this {
    return this.fixed(Uint8Array.of(value));
  }

  /** A big-endian u16. */
  u16(value: number): this {
    return this.fixed(Uint8Array.of(value >>> 8, value & 0xff));
  }

  /** A big-endian u32. */
  u32(value: number): this {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, value);
    return this.fixed(out);
  }

  /** Bytes as they are (the reader knows their length). */
  fixed(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#size += bytes.length;
    return this;
  }

  /**
   * Bytes preceded by their length as a big-endian u16.
   *
   * @throws {RangeError} above 65535 bytes.
   */
  var(bytes: Uint8Array): this {
    if (bytes.length > 0xffff) {
      throw new RangeError(`Cannot encode field of ${bytes.length} bytes: limit is 65535`);
    }
    return this.u16(bytes.length).fixed(bytes);
  }

  /** Bytes written so far. */
  get size(): number {
    return this.#size;
  }

  /** The concatenated fields. */
  bytes(): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(this.#size);
    let at = 0;
    for (const part of this.#parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }
}

/** Sequential reader matching {@linkcode FieldWriter}; it throws only what its factory makes. */
export class FieldReader {
  #bytes: Uint8Array;
  #at = 0;
  #makeError: FieldErrorFactory;

  /**
   * Reads `bytes`; `what` names the message in errors, `makeError` builds
   * them ({@linkcode ProtocolError} by default).
   */
  constructor(bytes: Uint8Array, readonly what: string, makeError = protocolError) {
    this.#bytes = bytes;
    this.#makeError = makeError;
  }

  /** Offset of the next unread byte. */
  get offset(): number {
    return this.#at;
  }

  /** One byte. */
  u8(): number {
    this.#need(1, "a byte");
    return this.#bytes[this.#at++];
  }

  /** A big-endian u16. */
  u16(): number {
    this.#need(2, "a u16");
    const value = (this.#bytes[this.#at] << 8) | this.#bytes[this.#at + 1];
    this.#at += 2;
    return value;
  }

  /** A big-endian u32. */
  u32(): number {
    this.#need(4, "a u32");
    const b = this.#bytes;
    const at = this.#at;
    this.#at += 4;
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  /** `size` bytes (a view, not a copy). */
  fixed(size: number, field: string): Uint8Array {
    this.#need(size, field);
    const out = this.#bytes.subarray(this.#at, this.#at + size);
    this.#at += size;
    return out;
  }

  /** A u16-length-prefixed field of `min`..`max` bytes. */
  var(field: string, min = 0, max = 0xffff): Uint8Array {
    this.#need(2, `the length of ${field}`);
    const length = (this.#bytes[this.#at] << 8) | this.#bytes[this.#at + 1];
    this.#at += 2;
    if (length < min || length > max) {
      throw this.error(`${field} is ${length} bytes, not in ${min}..${max}`);
    }
    return this.fixed(length, field);
  }

  /** Requires that every byte was read. */
  end(): void {
    const left = this.#bytes.length - this.#at;
    if (left !== 0) throw this.error(`${left} unexpected bytes at offset ${this.#at}`);
  }

  /** A `malformed` error about this message. */
  error(problem: string, options?: ErrorOptions): Error {
    return this.#makeError("malformed", `Cannot decode ${this.what}: ${problem}`, options);
  }

  #need(size: number, field: string): void {
    const left = this.#bytes.length - this.#at;
    if (left < size) {
      throw this.#makeError(
        "truncated",
        `Cannot decode ${this.what}: needs ${size} bytes for ${field} at offset ${this.#at}, ${left} left`,
      );
    }
  }
}
