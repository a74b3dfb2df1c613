/**
 * Sequential writer and reader of handshake message fields: fixed-size byte
 * strings and byte strings with a big-endian u16 length prefix (internal).
 * The reader throws only {@linkcode HandshakeError} `malformed`.
 *
 * @module
 */

import { HandshakeError } from "./errors.ts";

/** Sequential writer of fixed and length-prefixed fields. */
export class FieldWriter {
  #parts: Uint8Array[] = [];
  #size = 0;

  /** One byte. */
  u8(value: number): this {
    return this.fixed(Uint8Array.of(value));
  }

  /** Bytes as they are (the reader knows their length). */
  fixed(bytes: Uint8Array): this {
    this.#parts.push(bytes);
    this.#size += bytes.length;
    return this;
  }

  /** Bytes preceded by their length as a big-endian u16. */
  var(bytes: Uint8Array): this {
    if (bytes.length > 0xffff) {
      throw new RangeError(`Cannot encode field of ${bytes.length} bytes: limit is 65535`);
    }
    return this.u8(bytes.length >>> 8).u8(bytes.length & 0xff).fixed(bytes);
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

/** Sequential reader matching {@linkcode FieldWriter}. */
export class FieldReader {
  #bytes: Uint8Array;
  #at = 0;

  /** Reads `bytes`; `what` names the message in errors. */
  constructor(bytes: Uint8Array, readonly what: string) {
    this.#bytes = bytes;
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

  /** `size` bytes (a view, not a copy). */
  fixed(size: number, field: string): Uint8Array {
    this.#need(size, field);
    const out = this.#bytes.subarray(this.#at, this.#at + size);
    this.#at += size;
    return out;
  }

  /** A u16-length-prefixed field of `min`..`max` bytes. */
  var(field: string, min: number, max: number): Uint8Array {
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

  /** A `malformed` handshake error about this message. */
  error(problem: string, options?: ErrorOptions): HandshakeError {
    return new HandshakeError("malformed", `Cannot decode ${this.what}: ${problem}`, options);
  }

  #need(size: number, field: string): void {
    const left = this.#bytes.length - this.#at;
    if (left < size) {
      throw this.error(`needs ${size} bytes for ${field} at offset ${this.#at}, ${left} left`);
    }
  }
}
