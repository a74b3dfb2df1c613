import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeAppAnnounce,
  decodeAppWithdraw,
  decodeHello,
  decodeOpen,
  decodeReason,
  decodeWindow,
  encodeAppAnnounce,
  encodeAppWithdraw,
  encodeHello,
  encodeOpen,
  encodeReason,
  encodeWindow,
  type Hello,
  HelloFeature,
  MAX_NAME_BYTES,
  MAX_REASON_BYTES,
  ResetCode,
} from "./control.ts";
import { ProtocolError, type ProtocolErrorCode } from "./errors.ts";
import { concat } from "./testing.ts";

const utf8 = new TextEncoder();

function protocolError(code: ProtocolErrorCode, message?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `expected ProtocolError, got ${error}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  };
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function str(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + bytes.length);
  new DataView(out.buffer).setUint16(0, bytes.length);
  out.set(bytes, 2);
  return out;
}

/** Strings of whole code points (no lone surrogates), without a leading BOM. */
const text = (maxLength: number) =>
  fc.string({ unit: "binary", maxLength }).map((s) => s.replace(/^\uFEFF+/, ""));

/** A name whose UTF-8 form is 1..253 bytes. */
const protocolName = text(80).filter((s) => {
  const n = utf8.encode(s).length;
  return n >= 1 && n <= MAX_NAME_BYTES;
});

// ---- window ----

Deno.test("control: window increments round-trip over 1..2^32-1", () => {
  for (const n of [1, 1024, 0x7fffffff, 0xffffffff]) assert.equal(decodeWindow(encodeWindow(n)), n);
  fc.assert(fc.property(fc.integer({ min: 1, max: 0xffffffff }), (n) => {
    assert.equal(decodeWindow(encodeWindow(n)), n);
  }));
});

Deno.test("control: a zero window increment is rejected both ways", () => {
  assert.throws(() => encodeWindow(0), RangeError);
  assert.throws(() => encodeWindow(-1), RangeError);
  assert.throws(() => encodeWindow(2 ** 32), RangeError);
  assert.throws(() => encodeWindow(1.5), RangeError);
  assert.throws(
    () => decodeWindow(new Uint8Array(4)),
    protocolError("malformed", /increment is 0/),
  );
});

Deno.test("control: a window payload of the wrong length is rejected", () => {
  assert.throws(() => decodeWindow(new Uint8Array(0)), protocolError("truncated"));
  assert.throws(() => decodeWindow(new Uint8Array(3)), protocolError("truncated"));
  assert.throws(() => decodeWindow(new Uint8Array([0, 0, 0, 1, 0])), protocolError("malformed"));
});

// ---- reason ----

Deno.test("control: reasons round-trip with their code", () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), text(60), (code, reason) => {
      fc.pre(utf8.encode(reason).length <= MAX_REASON_BYTES);
      assert.deepEqual(decodeReason(encodeReason({ code, reason })), { code, reason });
    }),
    { numRuns: 500 },
  );
  const empty = encodeReason({ code: ResetCode.Refused, reason: "" });
  assert.deepEqual(Array.from(empty), [0, 1]);
  assert.deepEqual(decodeReason(empty), { code: 1, reason: "" });
});

Deno.test("control: a reason starting with U+FEFF keeps it across a round trip", () => {
  const reason = "\uFEFFzero-width no-break space first";
  assert.deepEqual(decodeReason(encodeReason({ code: 1, reason })), { code: 1, reason });
});

Deno.test("control: long reasons are cut to 256 bytes without splitting a character", () => {
  // 1-, 2-, 3- and 4-byte characters, each at every possible offset around the cut.
  for (const char of ["a", "é", "€", "😀"]) {
    for (let prefix = 0; prefix < 4; prefix++) {
      const reason = "x".repeat(prefix) + char.repeat(300);
      const payload = encodeReason({ code: 5, reason });
      const cut = payload.length - 2;
      assert.ok(cut <= MAX_REASON_BYTES, `kept ${cut} bytes`);
      assert.ok(cut > MAX_REASON_BYTES - utf8.encode(char).length, `cut too much: ${cut}`);
      const decoded = decodeReason(payload);
      assert.equal(decoded.code, 5);
      assert.ok(reason.startsWith(decoded.reason), "decoded reason is not a prefix");
      assert.equal(utf8.encode(decoded.reason).length, cut);
    }
  }
  fc.assert(
    fc.property(text(400), (reason) => {
      const payload = encodeReason({ code: 0, reason });
      assert.ok(payload.length - 2 <= MAX_REASON_BYTES);
      const decoded = decodeReason(payload).reason;
      assert.ok(reason.startsWith(decoded));
      if (utf8.encode(reason).length <= MAX_REASON_BYTES) assert.equal(decoded, reason);
    }),
    { numRuns: 300 },
  );
});

Deno.test("control: reason payloads that are too short, too long or not UTF-8 are rejected", () => {
  assert.throws(() => decodeReason(new Uint8Array(0)), protocolError("truncated"));
  assert.throws(() => decodeReason(new Uint8Array([1])), protocolError("truncated"));
  const atLimit = concat(new Uint8Array([0, 1]), new Uint8Array(MAX_REASON_BYTES).fill(0x61));
  assert.equal(decodeReason(atLimit).reason.length, MAX_REASON_BYTES);
  const over = concat(atLimit, new Uint8Array([0x61]));
  assert.throws(() => decodeReason(over), protocolError("oversized"));
  assert.throws(
    () => decodeReason(new Uint8Array([0, 1, 0xc3])),
    protocolError("malformed", /invalid UTF-8/),
  );
});

// ---- open, announce, withdraw ----

Deno.test("control: open and withdraw payloads carry the app name", () => {
  fc.assert(fc.property(protocolName, (name) => {
    assert.equal(decodeOpen(encodeOpen(name)), name);
    assert.equal(decodeAppWithdraw(encodeAppWithdraw(name)), name);
  }));
  assert.deepEqual(Array.from(encodeOpen("web")), [0x77, 0x65, 0x62]);
});

Deno.test("control: empty or over-long names are refused both ways", () => {
  const long = "a".repeat(MAX_NAME_BYTES + 1);
  for (const encode of [encodeOpen, encodeAppWithdraw]) {
    assert.throws(() => encode(""), RangeError);
    assert.throws(() => encode(long), RangeError);
    assert.equal(encode("a".repeat(MAX_NAME_BYTES)).length, MAX_NAME_BYTES);
  }
  for (const decode of [decodeOpen, decodeAppWithdraw]) {
    assert.throws(() => decode(new Uint8Array(0)), protocolError("malformed"));
    assert.throws(() => decode(utf8.encode(long)), protocolError("malformed"));
    assert.throws(() => decode(new Uint8Array([0xff])), protocolError("malformed", /UTF-8/));
  }
});

Deno.test("control: app announcements round-trip name and port", () => {
  fc.assert(fc.property(protocolName, fc.integer({ min: 0, max: 65535 }), (name, port) => {
    assert.deepEqual(decodeAppAnnounce(encodeAppAnnounce({ name, port })), { name, port });
  }));
  for (const port of [-1, 65536, 1.5, NaN]) {
    assert.throws(() => encodeAppAnnounce({ name: "web", port }), RangeError);
  }
  assert.throws(() => encodeAppAnnounce({ name: "", port: 80 }), RangeError);
  assert.throws(() => decodeAppAnnounce(new Uint8Array([0, 80])), protocolError("truncated"));
  assert.throws(
    () => decodeAppAnnounce(concat(new Uint8Array([0, 80]), str(new Uint8Array(0)))),
    protocolError("malformed"),
  );
  assert.throws(
    () => decodeAppAnnounce(concat(new Uint8Array([0, 80]), str(new Uint8Array([0x80])))),
    protocolError("malformed", /UTF-8/),
  );
});

// ---- hello ----

const helloArb: fc.Arbitrary<Hello> = fc.record({
  name: protocolName,
  window: fc.integer({ min: 1024, max: 0xffffffff }),
  maxPayload: fc.integer({ min: 1024, max: 0xffffffff }),
  software: text(60).filter((s) => utf8.encode(s).length <= MAX_NAME_BYTES),
  features: fc.nat({ max: 0xffffffff }),
});

function rawHello(window: number, maxPayload: number, name: Uint8Array, software: Uint8Array) {
  return concat(u32(window), u32(maxPayload), str(name), str(software));
}

Deno.test("control: hello round-trips", () => {
  fc.assert(fc.property(helloArb, (hello) => {
    assert.deepEqual(decodeHello(encodeHello(hello)), { ...hello });
  }));
  const hello = { name: "edge-1", window: 524288, maxPayload: 65536, software: "wormhole/0.1.0" };
  assert.deepEqual(decodeHello(encodeHello(hello)), { ...hello, features: 0 });
});

Deno.test("control: a hello from a peer that predates features reads as features 0", () => {
  const old = rawHello(4096, 4096, utf8.encode("edge-1"), utf8.encode("wormhole/0.0.9"));
  assert.equal(decodeHello(old).features, 0);
  // Fewer than 4 bytes after software are not a features field either.
  assert.equal(decodeHello(concat(old, new Uint8Array([0xff, 0xff, 0xff]))).features, 0);
});

Deno.test("control: a hello with features starts with the bytes an older decoder reads", () => {
  // An older decoder reads window, max payload, name and software and
  // ignores the rest: the features must come after them, unchanged.
  const hello = { name: "edge-1", window: 4096, maxPayload: 4096, software: "wormhole/0.2.0" };
  const withFeatures = encodeHello({ ...hello, features: HelloFeature.Offers });
  const old = rawHello(4096, 4096, utf8.encode("edge-1"), utf8.encode("wormhole/0.2.0"));
  assert.deepEqual(withFeatures.subarray(0, old.length), old);
  assert.deepEqual(withFeatures.subarray(old.length), u32(HelloFeature.Offers));
});

Deno.test("control: hello ignores trailing bytes (room for later fields)", () => {
  fc.assert(fc.property(helloArb, fc.uint8Array({ minLength: 1, maxLength: 40 }), (hello, tail) => {
    assert.deepEqual(decodeHello(concat(encodeHello(hello), tail)), { ...hello });
  }));
});

Deno.test("control: hello with a window or max payload below 1024 is rejected", () => {
  const name = utf8.encode("peer");
  const sw = utf8.encode("x");
  assert.equal(decodeHello(rawHello(1024, 1024, name, sw)).window, 1024);
  assert.throws(() => decodeHello(rawHello(1023, 65536, name, sw)), protocolError("malformed"));
  assert.throws(() => decodeHello(rawHello(0, 65536, name, sw)), protocolError("malformed"));
  assert.throws(() => decodeHello(rawHello(65536, 1023, name, sw)), protocolError("malformed"));
  assert.throws(() => decodeHello(rawHello(65536, 0, name, sw)), protocolError("malformed"));
});

Deno.test("control: hello with invalid UTF-8 is malformed", () => {
  const bad = new Uint8Array([0x61, 0xc0, 0x80]); // overlong encoding of NUL
  const good = utf8.encode("ok");
  const surrogate = new Uint8Array([0xed, 0xa0, 0x80]); // encoded U+D800
  for (const raw of [rawHello(4096, 4096, bad, good), rawHello(4096, 4096, good, bad)]) {
    assert.throws(() => decodeHello(raw), protocolError("malformed", /invalid UTF-8/));
  }
  assert.throws(
    () => decodeHello(rawHello(4096, 4096, good, surrogate)),
    protocolError("malformed", /invalid UTF-8/),
  );
});

Deno.test("control: hello truncated before its features is rejected as truncated", () => {
  const full = encodeHello({ name: "peer", window: 4096, maxPayload: 4096, software: "sw" });
  for (let cut = 0; cut < full.length - 4; cut++) {
    assert.throws(() => decodeHello(full.subarray(0, cut)), protocolError("truncated"));
  }
});

Deno.test("control: hello refuses bad names on encode and cuts long software names", () => {
  const base = { window: 4096, maxPayload: 4096, software: "s" };
  assert.throws(() => encodeHello({ ...base, name: "" }), RangeError);
  assert.throws(() => encodeHello({ ...base, name: "n".repeat(MAX_NAME_BYTES + 1) }), RangeError);
  const software = "€".repeat(200);
  const decoded = decodeHello(encodeHello({ ...base, name: "p", software }));
  assert.ok(software.startsWith(decoded.software));
  assert.ok(utf8.encode(decoded.software).length <= MAX_NAME_BYTES);
});

// ---- every decoder on random input ----

Deno.test("control: every decoder throws only ProtocolError on random bytes", () => {
  const decoders = [
    decodeWindow,
    decodeReason,
    decodeOpen,
    decodeHello,
    decodeAppAnnounce,
    decodeAppWithdraw,
  ];
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    // Hello-shaped: plausible numbers and short length prefixes so decoding gets deep.
    fc.tuple(fc.nat(), fc.nat(), fc.nat({ max: 12 }), fc.uint8Array({ maxLength: 24 })).map((
      [w, m, n, rest],
    ) => concat(u32(w), u32(m), new Uint8Array([0, n]), rest)),
  );
  fc.assert(
    fc.property(bytes, (payload) => {
      for (const decode of decoders) {
        try {
          decode(payload);
        } catch (error) {
          assert.ok(error instanceof ProtocolError, `${decode.name} threw ${error}`);
        }
      }
    }),
    { numRuns: 4000 },
  );
});
