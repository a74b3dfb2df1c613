/**
 * RFC 6455 WebSocket framing for both sides of the tunnel: encoding of
 * masked client frames and unmasked server frames, and incremental parsing
 * of either, with a size limit checked before a payload is buffered. Pure
 * code.
 *
 * @module
 */

/** WebSocket opcodes. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

/** One parsed frame. */
export interface WsFrame {
  /** Last fragment of its message. */
  fin: boolean;
  /** Opcode. */
  opcode: number;
  /** Unmasked payload. */
  payload: Uint8Array;
}

/** WebSocket close codes (RFC 6455 section 7.4.1) the tunnel sends. */
export const CloseCode = {
  Normal: 1000,
  Protocol: 1002,
  Unsupported: 1003,
  TooBig: 1009,
} as const;

/** The peer sent something that is not valid WebSocket framing, or too much of it. */
export class WebSocketProtocolError extends SyntaxError {
  /** The close code that tells the peer why ({@linkcode CloseCode}). */
  readonly closeCode: number;

  /** Creates the error; `closeCode` defaults to 1002 (protocol error). */
  constructor(message: string, closeCode: number = CloseCode.Protocol) {
    super(message);
    this.name = "WebSocketProtocolError";
    this.closeCode = closeCode;
  }
}

/** Longest close reason: a control frame's 125 payload bytes less the 2-byte code. */
export const MAX_CLOSE_REASON = 123;

const closeEncoder = new TextEncoder();

/**
 * The payload of a close frame: `code`, then `reason` as UTF-8 cut to
 * {@linkcode MAX_CLOSE_REASON} bytes, on a character boundary (the peer must
 * fail a connection whose close reason is not valid UTF-8).
 */
export function closePayload(code: number, reason: string): Uint8Array {
  const payload = new Uint8Array(2 + MAX_CLOSE_REASON);
  payload[0] = code >>> 8;
  payload[1] = code & 0xff;
  // encodeInto writes whole characters only.
  const { written } = closeEncoder.encodeInto(reason, payload.subarray(2));
  return payload.subarray(0, 2 + written);
}

/**
 * XORs `data` with the 4-byte `mask` in place (RFC 6455 section 5.3), a
 * word at a time where the buffer allows: unmasking runs over every byte a
 * client sends.
 */
export function applyMask(data: Uint8Array, mask: Uint8Array): void {
  const length = data.length;
  let i = Math.min(length, (4 - (data.byteOffset & 3)) & 3);
  for (let j = 0; j < i; j++) data[j] ^= mask[j & 3];
  const words = (length - i) >>> 2;
  if (words > 0) {
    const rotated = new Uint8Array(4);
    for (let j = 0; j < 4; j++) rotated[j] = mask[(i + j) & 3];
    const maskWord = new Uint32Array(rotated.buffer)[0];
    const view = new Uint32Array(data.buffer, data.byteOffset + i, words);
    for (let w = 0; w < words; w++) view[w] ^= maskWord;
    i += words << 2;
  }
  for (; i < length; i++) data[i] ^= mask[i & 3];
}

const POOL_SIZE = 4096;
let maskPool = new Uint8Array(0);
let maskAt = POOL_SIZE;

/** Four unpredictable bytes for a frame mask, drawn from a random pool. */
function nextMask(): Uint8Array {
  if (maskAt + 4 > maskPool.length) {
    maskPool = crypto.getRandomValues(new Uint8Array(POOL_SIZE));
    maskAt = 0;
  }
  const mask = maskPool.subarray(maskAt, maskAt + 4);
  maskAt += 4;
  return mask;
}

/** Room a copied payload gets in front: the longest client header, rounded up to a word. */
const COPY_HEADROOM = 16;

/**
 * Encodes one masked client frame (FIN set) into a new buffer; the caller's
 * payload is left untouched.
 */
export function encodeClientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  return encodeFrame(opcode, payload, true);
}

/**
 * Encodes one frame (FIN set), masked as a client's or unmasked as a
 * server's, into a new buffer; the caller's payload is left untouched.
 */
export function encodeFrame(opcode: number, payload: Uint8Array, masked: boolean): Uint8Array {
  const copy = new Uint8Array(COPY_HEADROOM + payload.length).subarray(COPY_HEADROOM);
  copy.set(payload);
  return frameInPlace(opcode, copy, masked)!;
}

/**
 * Frames `payload` in place, using the headroom in front of it in its
 * buffer: as a masked client frame (the default; the payload is masked
 * where it lies, so it is overwritten) or an unmasked server frame. Returns
 * the frame, or `null` when there is not enough headroom (then use
 * {@linkcode encodeFrame}).
 */
export function frameInPlace(
  opcode: number,
  payload: Uint8Array,
  masked = true,
): Uint8Array | null {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const maskBit = masked ? 0x80 : 0;
  const header = 2 + lengthBytes + (masked ? 4 : 0);
  if (payload.byteOffset < header) return null;
  const buffer = payload.buffer as ArrayBuffer;
  const start = payload.byteOffset - header;
  const frame = new Uint8Array(buffer, start, header + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = maskBit | length;
  } else if (lengthBytes === 2) {
    frame[1] = maskBit | 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = maskBit | 127;
    new DataView(buffer, start + 2, 8).setBigUint64(0, BigInt(length));
  }
  if (masked) {
    const mask = nextMask();
    frame.set(mask, 2 + lengthBytes);
    applyMask(payload, mask);
  }
  return frame;
}

interface PartialFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
  filled: number;
  mask: Uint8Array | null;
}

/**
 * Incremental parser of frames from the other side. Feed it chunks; it
 * returns whole frames, unmasked. A frame that fits in one chunk is returned
 * as a view into that chunk (so fed chunks must not be reused, and are
 * unmasked in place) unless the chunk is pushed as `transient`; a larger one
 * is assembled once into a buffer of its exact size, which a reader may fill
 * directly ({@linkcode FrameParser.spare}). A frame's length is checked
 * against {@linkcode maxFrame} before any of its payload is kept.
 */
export class FrameParser {
  /** Largest frame payload accepted; may be changed between chunks. */
  maxFrame: number;
  #masked: boolean;
  /** Header bytes of a frame split across chunks. */
  #head: Uint8Array = new Uint8Array(0);
  /** A frame whose payload is still arriving. */
  #partial: PartialFrame | null = null;

  /**
   * Creates a parser refusing frames larger than `maxFrame` bytes. Frames
   * must be masked when `masked` (a server reading a client), and must not
   * be otherwise (a client reading a server).
   */
  constructor(maxFrame: number, options?: { masked?: boolean }) {
    this.maxFrame = maxFrame;
    this.#masked = options?.masked ?? false;
  }

  /**
   * The part of a frame's payload still to come, while a frame is being
   * assembled (null otherwise): a reader may read into it and report the
   * bytes with {@linkcode filled}, which saves a copy of every large frame.
   */
  get spare(): Uint8Array | null {
    const partial = this.#partial;
    return partial ? partial.payload.subarray(partial.filled) : null;
  }

  /**
   * Takes `n` bytes written at the start of {@linkcode spare}; returns the
   * frame if they complete it.
   */
  filled(n: number): WsFrame[] {
    const partial = this.#partial;
    if (!partial || n < 0 || partial.filled + n > partial.payload.length) {
      throw new RangeError(`Cannot take ${n} bytes: no frame has room for them`);
    }
    partial.filled += n;
    if (partial.filled < partial.payload.length) return [];
    if (partial.mask) applyMask(partial.payload, partial.mask);
    this.#partial = null;
    return [{ fin: partial.fin, opcode: partial.opcode, payload: partial.payload }];
  }

  /**
   * Adds `chunk` and returns every frame now complete. With `transient`,
   * nothing returned or kept refers to `chunk` (whole frames in it are
   * copied out), so the caller may reuse it at once: a read buffer.
   *
   * @throws {WebSocketProtocolError} on frames masked the wrong way, reserved bits, oversized
   *   frames (close code 1009).
   */
  push(chunk: Uint8Array, transient = false): WsFrame[] {
    const frames: WsFrame[] = [];
    let data = chunk;
    let at = 0;
    const partial = this.#partial;
    if (partial) {
      const n = Math.min(partial.payload.length - partial.filled, data.length);
      partial.payload.set(data.subarray(0, n), partial.filled);
      partial.filled += n;
      at = n;
      if (partial.filled < partial.payload.length) return frames;
      if (partial.mask) applyMask(partial.payload, partial.mask);
      frames.push({ fin: partial.fin, opcode: partial.opcode, payload: partial.payload });
      this.#partial = null;
    }
    if (this.#head.length > 0) {
      const joined = new Uint8Array(this.#head.length + data.length - at);
      joined.set(this.#head);
      joined.set(data.subarray(at), this.#head.length);
      this.#head = new Uint8Array(0);
      data = joined;
      at = 0;
      // The joined copy is the parser's own: frames in it may stay views.
      transient = false;
    }
    while (at < data.length) {
      const left = data.length - at;
      if (left < 2) break;
      const b0 = data[at];
      const b1 = data[at + 1];
      if (b0 & 0x70) throw new WebSocketProtocolError("Cannot parse frame: reserved bits set");
      const masked = (b1 & 0x80) !== 0;
      if (masked !== this.#masked) {
        throw new WebSocketProtocolError(
          this.#masked
            ? "Cannot parse frame: client frames must be masked"
            : "Cannot parse frame: server frames must not be masked",
        );
      }
      let length = b1 & 0x7f;
      let header = 2;
      if (length === 126) {
        if (left < 4) break;
        length = (data[at + 2] << 8) | data[at + 3];
        header = 4;
      } else if (length === 127) {
        if (left < 10) break;
        const big = new DataView(data.buffer, data.byteOffset + at + 2, 8).getBigUint64(0);
        if (big > BigInt(this.maxFrame)) {
          throw new WebSocketProtocolError(
            `Cannot parse frame: length ${big} exceeds ${this.maxFrame}`,
            CloseCode.TooBig,
          );
        }
        length = Number(big);
        header = 10;
      }
      if (length > this.maxFrame) {
        throw new WebSocketProtocolError(
          `Cannot parse frame: length ${length} exceeds ${this.maxFrame}`,
          CloseCode.TooBig,
        );
      }
      let mask: Uint8Array | null = null;
      if (masked) {
        if (left < header + 4) break;
        mask = data.slice(at + header, at + header + 4);
        header += 4;
      }
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const start = at + header;
      if (data.length - start >= length) {
        const payload = transient
          ? data.slice(start, start + length)
          : data.subarray(start, start + length);
        if (mask) applyMask(payload, mask);
        frames.push({ fin, opcode, payload });
        at = start + length;
        continue;
      }
      const payload = new Uint8Array(length);
      payload.set(data.subarray(start));
      this.#partial = { fin, opcode, payload, filled: data.length - start, mask };
      return frames;
    }
    if (at < data.length) this.#head = data.slice(at);
    return frames;
  }
}
