import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CloseCode,
  closePayload,
  encodeClientFrame,
  encodeFrame,
  frameInPlace,
  FrameParser,
  Opcode,
  type WebSocketProtocolError,
} from "./ws_frame.ts";

/** Unmasks a client frame the way a server would. */
function unmask(frame: Uint8Array): { opcode: number; payload: Uint8Array } {
  let length = frame[1] & 0x7f;
  let at = 2;
  if (length === 126) {
    length = (frame[2] << 8) | frame[3];
    at = 4;
  } else if (length === 127) {
    length = Number(new DataView(frame.buffer, frame.byteOffset + 2, 8).getBigUint64(0));
    at = 10;
  }
  assert.equal(frame[1] & 0x80, 0x80, "client frames are masked");
  const mask = frame.subarray(at, at + 4);
  const payload = frame.slice(at + 4, at + 4 + length);
  for (let i = 0; i < payload.length; i++) payload[i] ^= mask[i & 3];
  return { opcode: frame[0] & 0x0f, payload };
}

Deno.test("ws frame: client frames unmask to their payload, copied or framed in place", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 70000 }),
      fc.integer({ min: 0, max: 3 }),
      (payload, skew) => {
        const copied = encodeClientFrame(Opcode.Binary, payload);
        assert.deepEqual(unmask(copied), { opcode: Opcode.Binary, payload });
        const spare = new Uint8Array(16 + skew + payload.length);
        const view = spare.subarray(16 + skew);
        view.set(payload);
        const inPlace = frameInPlace(Opcode.Binary, view)!;
        assert.deepEqual(unmask(inPlace), { opcode: Opcode.Binary, payload });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("ws frame: no headroom, no in-place framing", () => {
  assert.equal(frameInPlace(Opcode.Binary, new Uint8Array(10)), null);
});

/** A server frame (unmasked). */
function serverFrame(opcode: number, payload: Uint8Array, fin = true): Uint8Array {
  const length = payload.length;
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = new Uint8Array(header + length);
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (header === 2) out[1] = length;
  else if (header === 4) {
    out[1] = 126;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = 127;
    new DataView(out.buffer, 2, 8).setBigUint64(0, BigInt(length));
  }
  out.set(payload, header);
  return out;
}

Deno.test("ws frame: the parser reassembles frames however the bytes are split", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 3000 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 5000 }), { minLength: 1, maxLength: 20 }),
      (payloads, cuts) => {
        const wire = payloads.map((p) => serverFrame(Opcode.Binary, p));
        const all = new Uint8Array(wire.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const frame of wire) {
          all.set(frame, at);
          at += frame.length;
        }
        const parser = new FrameParser(1 << 20);
        const got: Uint8Array[] = [];
        let offset = 0;
        for (const cut of [...cuts, all.length]) {
          const end = Math.min(all.length, offset + cut);
          for (const f of parser.push(all.slice(offset, end))) got.push(f.payload.slice());
          offset = end;
          if (offset === all.length) break;
        }
        assert.deepEqual(got, payloads);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("ws frame: masked, oversized and reserved-bit frames from the server are refused", () => {
  const masked = serverFrame(Opcode.Binary, new Uint8Array(4));
  masked[1] |= 0x80;
  assert.throws(() => new FrameParser(1024).push(masked), /must not be masked/);
  assert.throws(
    () => new FrameParser(1024).push(serverFrame(Opcode.Binary, new Uint8Array(2000))),
    /length 2000 exceeds 1024/,
  );
  const reserved = serverFrame(Opcode.Binary, new Uint8Array(1));
  reserved[0] |= 0x40;
  assert.throws(() => new FrameParser(1024).push(reserved), /reserved bits/);
});

Deno.test("ws frame: a server's parser unmasks client frames however the bytes are split", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 70000 }), { minLength: 1, maxLength: 4 }),
      fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 20 }),
      (payloads, cuts) => {
        const wire = payloads.map((p) => encodeClientFrame(Opcode.Binary, p));
        const all = new Uint8Array(wire.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const frame of wire) {
          all.set(frame, at);
          at += frame.length;
        }
        const parser = new FrameParser(1 << 20, { masked: true });
        const got: Uint8Array[] = [];
        let offset = 0;
        for (let i = 0; offset < all.length; i++) {
          const end = Math.min(all.length, offset + (cuts[i] ?? all.length));
          for (const f of parser.push(all.slice(offset, end))) got.push(f.payload.slice());
          offset = end;
        }
        assert.deepEqual(got, payloads);
      },
    ),
    { numRuns: 100 },
  );
});

Deno.test("ws frame: server frames are unmasked, copied or framed in place", () => {
  for (const length of [0, 125, 126, 65535, 65536]) {
    const payload = pattern(length);
    const copied = encodeFrame(Opcode.Binary, payload, false);
    const spare = new Uint8Array(16 + length);
    spare.set(payload, 16);
    const inPlace = frameInPlace(Opcode.Binary, spare.subarray(16), false)!;
    for (const frame of [copied, inPlace]) {
      const [parsed] = new FrameParser(1 << 20).push(frame.slice());
      assert.equal(parsed.opcode, Opcode.Binary);
      assert.deepEqual(parsed.payload, payload);
    }
  }
});

Deno.test("ws frame: a server's parser refuses unmasked frames, and oversized ones with 1009", () => {
  const parser = () => new FrameParser(1024, { masked: true });
  assert.throws(
    () => parser().push(serverFrame(Opcode.Binary, new Uint8Array(4))),
    /must be masked/,
  );
  const big = encodeClientFrame(Opcode.Binary, new Uint8Array(2000));
  assert.throws(
    () => parser().push(big.subarray(0, 8)),
    (error: WebSocketProtocolError) =>
      error.closeCode === CloseCode.TooBig && /length 2000 exceeds 1024/.test(error.message),
  );
});

/** `length` bytes of a repeating pattern. */
function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i * 31 + 7) & 0xff);
}

Deno.test("ws frame: a close reason is cut to 123 bytes of UTF-8, never inside a character", () => {
  const decode = (payload: Uint8Array) =>
    new TextDecoder("utf-8", { fatal: true }).decode(payload.subarray(2));
  const ascii = closePayload(CloseCode.Normal, "x".repeat(200));
  assert.equal(ascii.length, 125);
  assert.deepEqual([ascii[0], ascii[1]], [0x03, 0xe8]);
  assert.equal(decode(ascii), "x".repeat(123));
  // 2-byte characters: 61 fit (122 bytes), the 62nd would be cut in half.
  const accents = closePayload(CloseCode.Normal, "é".repeat(100));
  assert.equal(decode(accents), "é".repeat(61));
  // 4-byte characters after one ASCII byte: 30 fit (121 bytes).
  assert.equal(
    decode(closePayload(CloseCode.Normal, "a" + "🙂".repeat(40))),
    "a" + "🙂".repeat(30),
  );
  assert.equal(closePayload(CloseCode.Normal, "short").length, 7);
  assert.equal(closePayload(CloseCode.Normal, "").length, 2);
});

Deno.test("ws frame: frames read through one reused buffer and spare() never alias that buffer", () => {
  // Reads the way WebSocketLink does: into the rest of a frame being assembled
  // when there is one, else into one reused buffer pushed as transient. The
  // reused buffer is scribbled over after every push: frames kept without a
  // copy must still hold their bytes at the end.
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 70000 }), { minLength: 1, maxLength: 5 }),
      fc.array(fc.integer({ min: 1, max: 9000 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 1, max: 70000 }),
      fc.boolean(),
      (payloads, reads, bufferSize, masked) => {
        const wire = payloads.map((p) =>
          masked ? encodeClientFrame(Opcode.Binary, p) : serverFrame(Opcode.Binary, p)
        );
        const all = new Uint8Array(wire.reduce((n, f) => n + f.length, 0));
        let at = 0;
        for (const frame of wire) {
          all.set(frame, at);
          at += frame.length;
        }
        const parser = new FrameParser(1 << 20, { masked });
        const buffer = new Uint8Array(bufferSize);
        const kept: Uint8Array[] = [];
        let offset = 0;
        for (let i = 0; offset < all.length; i++) {
          const spare = parser.spare;
          const into = spare ?? buffer;
          // A read returns at most what was asked and what the peer sent.
          const n = Math.min(into.length, all.length - offset, reads[i % reads.length]);
          into.set(all.subarray(offset, offset + n));
          offset += n;
          kept.push(
            ...(spare ? parser.filled(n) : parser.push(buffer.subarray(0, n), true)).map((f) =>
              f.payload
            ),
          );
          buffer.fill(0xee);
        }
        assert.equal(parser.spare, null);
        assert.deepEqual(kept, payloads);
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("ws frame: filled() refuses bytes no frame has room for", () => {
  const parser = new FrameParser(1 << 20);
  assert.throws(() => parser.filled(1), /Cannot take 1 bytes: no frame has room for them/);
  const frame = serverFrame(Opcode.Binary, new Uint8Array(300));
  assert.deepEqual(parser.push(frame.subarray(0, 100), true), []);
  assert.equal(parser.spare?.length, 300 - (100 - 4));
  assert.throws(() => parser.filled(205), /Cannot take 205 bytes/);
  assert.equal(parser.filled(204).length, 1);
});
