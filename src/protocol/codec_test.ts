import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeFrames, encodedSize, encodeFrames, encodeInto } from "./codec.ts";
import { ProtocolError, type ProtocolErrorCode } from "./errors.ts";
import {
  DEFAULT_MAX_PAYLOAD,
  type Frame,
  FrameKind,
  frameKindName,
  HEADER_SIZE,
  isFrameKind,
  PROTOCOL_VERSION,
} from "./frame.ts";
import { concat } from "./testing.ts";

const KINDS = Object.values(FrameKind);

const frameArb = (maxPayload = DEFAULT_MAX_PAYLOAD): fc.Arbitrary<Frame> =>
  fc.record({
    kind: fc.constantFrom(...KINDS),
    stream: fc.integer({ min: 0, max: 0xffffffff }),
    payload: fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
      { weight: 1, arbitrary: bigPayload(maxPayload) },
    ),
  });

// Large payloads up to `max` bytes, filled from a seed (cheaper than arbitrary bytes).
const bigPayload = (max: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(
    fc.oneof(fc.nat({ max }), fc.integer({ min: max - 2, max })),
    fc.integer({ min: 1, max: 0x7fffffff }),
  ).map(([length, seed]) => {
    const out = new Uint8Array(length);
    let x = seed;
    for (let i = 0; i < length; i++) {
      x = (x * 1103515245 + 12345) >>> 0;
      out[i] = x >>> 24;
    }
    return out;
  });

function header(version: number, kind: number, stream: number, length: number): Uint8Array {
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  out[0] = version;
  out[1] = kind;
  view.setUint32(2, stream);
  view.setUint32(6, length);
  return out;
}

function protocolError(code: ProtocolErrorCode, message?: string | RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
    assert.equal(error.code, code);
    if (typeof message === "string") assert.equal(error.message, message);
    else if (message) assert.match(error.message, message);
    return true;
  };
}

function assertFrameEqual(actual: Frame, expected: Frame) {
  assert.equal(actual.kind, expected.kind);
  assert.equal(actual.stream, expected.stream);
  assert.equal(actual.payload.length, expected.payload.length);
  const at = actual.payload.findIndex((byte, i) => byte !== expected.payload[i]);
  assert.equal(at, -1, `payloads differ at byte ${at}`);
}

Deno.test("codec: a single frame round-trips through encode and decode", () => {
  fc.assert(
    fc.property(frameArb(), (frame) => {
      const record = encodeFrames([frame]);
      assert.equal(record.length, HEADER_SIZE + frame.payload.length);
      const decoded = decodeFrames(record);
      assert.equal(decoded.length, 1);
      assertFrameEqual(decoded[0], frame);
    }),
    { numRuns: 300 },
  );
});

Deno.test("codec: a batch of frames round-trips in order", () => {
  fc.assert(
    fc.property(fc.array(frameArb(), { minLength: 1, maxLength: 12 }), (frames) => {
      const record = encodeFrames(frames);
      assert.equal(record.length, encodedSize(frames));
      const decoded = decodeFrames(record);
      assert.equal(decoded.length, frames.length);
      decoded.forEach((frame, i) => assertFrameEqual(frame, frames[i]));
    }),
    { numRuns: 150 },
  );
});

Deno.test("codec: the header layout is version, kind, u32 stream, u32 length, big-endian", () => {
  const record = encodeFrames([
    { kind: FrameKind.Data, stream: 0x01020304, payload: new Uint8Array([9, 8, 7]) },
  ]);
  assert.deepEqual(
    Array.from(record),
    [PROTOCOL_VERSION, FrameKind.Data, 1, 2, 3, 4, 0, 0, 0, 3, 9, 8, 7],
  );
});

Deno.test("codec: decoded payloads are views into the record with the right bytes", () => {
  fc.assert(
    fc.property(
      fc.array(frameArb(256), { minLength: 1, maxLength: 8 }),
      fc.nat({ max: 17 }),
      (frames, pad) => {
        // Place the record at an odd offset inside a larger buffer.
        const size = encodedSize(frames);
        const backing = new Uint8Array(pad + size + 5);
        assert.equal(encodeInto(frames, backing, pad), pad + size);
        const record = backing.subarray(pad, pad + size);
        const decoded = decodeFrames(record);
        let at = pad;
        decoded.forEach((frame, i) => {
          assertFrameEqual(frame, frames[i]);
          assert.equal(frame.payload.buffer, backing.buffer, "payload is not a view");
          assert.equal(frame.payload.byteOffset, at + HEADER_SIZE);
          at += HEADER_SIZE + frame.payload.length;
        });
      },
    ),
    { numRuns: 200 },
  );
});

Deno.test("codec: writing to the record is visible through a decoded payload (no copy)", () => {
  const record = encodeFrames([
    { kind: FrameKind.Data, stream: 1, payload: new Uint8Array([1, 2, 3]) },
  ]);
  const [frame] = decodeFrames(record);
  record[HEADER_SIZE + 1] = 42;
  assert.equal(frame.payload[1], 42);
});

Deno.test("codec: zero-length payloads round-trip", () => {
  const frames: Frame[] = [
    { kind: FrameKind.Fin, stream: 7, payload: new Uint8Array(0) },
    { kind: FrameKind.Fin, stream: 9, payload: new Uint8Array(0) },
  ];
  const decoded = decodeFrames(encodeFrames(frames));
  assert.equal(decoded.length, 2);
  decoded.forEach((frame, i) => assertFrameEqual(frame, frames[i]));
});

Deno.test("codec: random bytes never make decodeFrames throw anything but ProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
      try {
        decodeFrames(bytes, { maxPayload: 64 });
      } catch (error) {
        assert.ok(error instanceof ProtocolError, `threw ${error}`);
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("codec: near-valid records never make decodeFrames throw anything but ProtocolError", () => {
  // Valid version byte and known kinds most of the time, so the decoder gets deep.
  const chunk = fc.tuple(
    fc.constantFrom(PROTOCOL_VERSION, PROTOCOL_VERSION, PROTOCOL_VERSION, 0, 2, 255),
    fc.integer({ min: 0, max: 14 }),
    fc.integer({ min: 0, max: 0xffffffff }),
    fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff })),
    fc.uint8Array({ maxLength: 40 }),
  ).map(([v, k, s, l, p]) => concat(header(v, k, s, l), p));
  fc.assert(
    fc.property(fc.array(chunk, { minLength: 1, maxLength: 4 }), fc.nat(), (chunks, cut) => {
      const whole = concat(...chunks);
      const record = whole.subarray(0, whole.length === 0 ? 0 : cut % (whole.length + 1));
      try {
        const frames = decodeFrames(record, { maxPayload: 32 });
        for (const frame of frames) {
          assert.ok(isFrameKind(frame.kind));
          assert.ok(frame.payload.length <= 32);
        }
      } catch (error) {
        assert.ok(error instanceof ProtocolError, `threw ${error}`);
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("codec: an empty record is rejected as truncated", () => {
  assert.throws(() => decodeFrames(new Uint8Array(0)), protocolError("truncated", /empty/));
});

Deno.test("codec: a truncated header is rejected", () => {
  const record = encodeFrames([{ kind: FrameKind.Data, stream: 1, payload: new Uint8Array(4) }]);
  for (let cut = 1; cut < HEADER_SIZE; cut++) {
    assert.throws(
      () => decodeFrames(record.subarray(0, cut)),
      protocolError("truncated", `Cannot decode frame: header needs 10 bytes, ${cut} left`),
    );
  }
  // A truncated header after a complete frame, too.
  const two = concat(record, record.subarray(0, 3));
  assert.throws(() => decodeFrames(two), protocolError("truncated", /header needs 10 bytes, 3/));
});

Deno.test("codec: a truncated payload is rejected", () => {
  const record = concat(header(PROTOCOL_VERSION, FrameKind.Data, 1, 10), new Uint8Array(3));
  assert.throws(
    () => decodeFrames(record),
    protocolError("truncated", "Cannot decode Data frame: length 10 but 3 bytes left"),
  );
});

Deno.test("codec: an oversized frame is rejected before its payload is awaited", () => {
  const record = header(PROTOCOL_VERSION, FrameKind.Data, 1, 70000);
  assert.throws(
    () => decodeFrames(record),
    protocolError("oversized", "Cannot decode frame: length 70000 exceeds 65536"),
  );
});

Deno.test("codec: unknown kinds are rejected", () => {
  for (const kind of [0, 0x0e, 0x7f, 0xff]) {
    assert.equal(isFrameKind(kind), false);
    assert.throws(
      () => decodeFrames(header(PROTOCOL_VERSION, kind, 0, 0)),
      protocolError("unknown-kind", `Cannot decode frame: unknown kind ${kind}`),
    );
  }
});

Deno.test("codec: every known kind is accepted and named", () => {
  for (const [name, kind] of Object.entries(FrameKind)) {
    assert.equal(isFrameKind(kind), true);
    assert.equal(frameKindName(kind), name);
    assert.equal(decodeFrames(header(PROTOCOL_VERSION, kind, 0, 0))[0].kind, kind);
  }
  assert.equal(frameKindName(0x0e), "0x0e");
});

Deno.test("codec: unknown versions are rejected", () => {
  for (const version of [0, 2, 255]) {
    assert.throws(
      () => decodeFrames(header(version, FrameKind.Data, 1, 0)),
      protocolError("unknown-version", `Cannot decode frame: version ${version} is not 1`),
    );
  }
});

Deno.test("codec: a configured maxPayload is honoured by encode (RangeError) and decode", () => {
  const options = { maxPayload: 100 };
  const at = { kind: FrameKind.Data, stream: 3, payload: new Uint8Array(100) } as const;
  const over = { kind: FrameKind.Data, stream: 3, payload: new Uint8Array(101) } as const;
  const ok = encodeFrames([at], options);
  assert.equal(decodeFrames(ok, options)[0].payload.length, 100);
  assert.throws(() => encodeFrames([over], options), RangeError);
  assert.throws(() => encodeFrames([over], options), /length 101 exceeds 100/);
  const big = encodeFrames([over]);
  assert.throws(
    () => decodeFrames(big, options),
    protocolError("oversized", "Cannot decode frame: length 101 exceeds 100"),
  );
  // The default limit is 64 KiB exactly.
  const max = { kind: FrameKind.Data, stream: 1, payload: new Uint8Array(DEFAULT_MAX_PAYLOAD) };
  assert.equal(decodeFrames(encodeFrames([max]))[0].payload.length, DEFAULT_MAX_PAYLOAD);
  const tooBig = { kind: FrameKind.Data, stream: 1, payload: new Uint8Array(65537) };
  assert.throws(() => encodeFrames([tooBig]), RangeError);
});

Deno.test("codec: stream ids that are not u32 are refused by the encoder", () => {
  for (const stream of [-1, 0x100000000, 1.5, NaN, Infinity]) {
    assert.throws(
      () => encodeFrames([{ kind: FrameKind.Fin, stream, payload: new Uint8Array(0) }]),
      RangeError,
    );
  }
  const max = encodeFrames([{
    kind: FrameKind.Fin,
    stream: 0xffffffff,
    payload: new Uint8Array(0),
  }]);
  assert.equal(decodeFrames(max)[0].stream, 0xffffffff);
});
