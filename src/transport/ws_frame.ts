/**
 * RFC 6455 WebSocket framing for the client side of the tunnel: encoding of
 * masked client frames and incremental parsing of server frames. Pure code.
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

/** The peer sent something that is not valid WebSocket framing. */
export class WebSocketProtocolError extends SyntaxError {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "WebSocketProtocolError";
  }
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
  const copy = new Uint8Array(COPY_HEADROOM + payload.length).subarray(COPY_HEADROOM);
  copy.set(payload);
  return frameInPlace(opcode, copy)!;
}

/**
 * Frames `payload` as a masked client frame in place, using the headroom in
 * front of it in its buffer and masking it where it lies. Returns the frame,
 * or `null` when there is not enough headroom (then use
 * {@linkcode encodeClientFrame}). `payload` is overwritten.
 */
export function frameInPlace(opcode: number, payload: Uint8Array): Uint8Array | null {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 65536 ? 2 : 8;
  const header = 2 + lengthBytes + 4;
  if (payload.byteOffset < header) return null;
  const buffer = payload.buffer as ArrayBuffer;
  const start = payload.byteOffset - header;
  const frame = new Uint8Array(buffer, start, header + length);
  frame[0] = 0x80 | opcode;
  if (lengthBytes === 0) {
    frame[1] = 0x80 | length;
  } else if (lengthBytes === 2) {
    frame[1] = 0x80 | 126;
    frame[2] = length >>> 8;
    frame[3] = length & 0xff;
  } else {
    frame[1] = 0x80 | 127;
    new DataView(buffer, start + 2, 8).setBigUint64(0, BigInt(length));
  }
  const mask = nextMask();
  frame.set(mask, 2 + lengthBytes);
  let i = 0;
  if (payload.byteOffset % 4 === 0) {
    const words = length >>> 2;
    const maskWord = new Uint32Array(new Uint8Array(mask).buffer)[0];
    const view = new Uint32Array(buffer, payload.byteOffset, words);
    for (let w = 0; w < words; w++) view[w] ^= maskWord;
    i = words << 2;
  }
  for (; i < length; i++) payload[i] ^= mask[i & 3];
  return frame;
}

/**
 * Incremental parser of frames from the server. Feed it chunks; it returns
 * whole frames. A frame that fits in one chunk is returned as a view into
 * that chunk (so fed chunks must not be reused); a larger one is assembled
 * once into a buffer of its exact size.
 */
export class FrameParser {
  #maxFrame: number;
  /** Header bytes of a frame split across chunks. */
  #head: Uint8Array = new Uint8Array(0);
  /** A frame whose payload is still arriving. */
  #partial: { fin: boolean; opcode: number; payload: Uint8Array; filled: number } | null = null;

  /** Creates a parser refusing frames larger than `maxFrame` bytes. */
  constructor(maxFrame: number) {
    this.#maxFrame = maxFrame;
  }

  /**
   * Adds `chunk` and returns every frame now complete.
   *
   * @throws {WebSocketProtocolError} on masked server frames, reserved bits, oversized frames.
   */
  push(chunk: Uint8Array): WsFrame[] {
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
    }
    while (at < data.length) {
      const left = data.length - at;
      if (left < 2) break;
      const b0 = data[at];
      const b1 = data[at + 1];
      if (b0 & 0x70) throw new WebSocketProtocolError("Cannot parse frame: reserved bits set");
      if (b1 & 0x80) {
        throw new WebSocketProtocolError("Cannot parse frame: server frames must not be masked");
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
        if (big > BigInt(this.#maxFrame)) {
          throw new WebSocketProtocolError(
            `Cannot parse frame: length ${big} exceeds ${this.#maxFrame}`,
          );
        }
        length = Number(big);
        header = 10;
      }
      if (length > this.#maxFrame) {
        throw new WebSocketProtocolError(
          `Cannot parse frame: length ${length} exceeds ${this.#maxFrame}`,
        );
      }
      const fin = (b0 & 0x80) !== 0;
      const opcode = b0 & 0x0f;
      const start = at + header;
      if (data.length - start >= length) {
        frames.push({ fin, opcode, payload: data.subarray(start, start + length) });
        at = start + length;
        continue;
      }
      const payload = new Uint8Array(length);
      payload.set(data.subarray(start));
      this.#partial = { fin, opcode, payload, filled: data.length - start };
      return frames;
    }
    if (at < data.length) this.#head = data.slice(at);
    return frames;
  }
}
