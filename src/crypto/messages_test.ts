import assert from "node:assert/strict";
import fc from "fast-check";
import { HandshakeError } from "./errors.ts";
import {
  appendSignature,
  decodeMessage,
  encodeClientHello,
  encodeFinished,
  encodePending,
  encodeRejected,
  encodeServerHelloBody,
  MAX_TEXT_BYTES,
  MessageType,
} from "./messages.ts";

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

function samples(): Uint8Array[] {
  const body = encodeServerHelloBody({
    name: "gateway",
    spki: bytes(294, 1),
    nonce: bytes(32, 2),
    share: bytes(32, 3),
    wrapped: bytes(256, 4),
  });
  return [
    encodeClientHello({
      name: "laptop",
      spki: bytes(294, 5),
      nonce: bytes(32, 6),
      share: bytes(32, 7),
    }),
    encodePending("wait"),
    appendSignature(body, bytes(256, 8)),
    encodeFinished(MessageType.ClientFinished, bytes(32, 9)),
    encodeFinished(MessageType.ServerFinished, bytes(32, 10)),
    encodeRejected("no"),
  ];
}

Deno.test("handshake messages round-trip", () => {
  const [hello, pending, serverHello, clientFinished, serverFinished, rejected] = samples().map(
    decodeMessage,
  );
  assert.deepEqual(hello, {
    type: MessageType.ClientHello,
    name: "laptop",
    spki: bytes(294, 5),
    nonce: bytes(32, 6),
    share: bytes(32, 7),
  });
  assert.deepEqual(pending, { type: MessageType.Pending, message: "wait" });
  assert.equal(serverHello.type, MessageType.ServerHello);
  if (serverHello.type === MessageType.ServerHello) {
    assert.equal(serverHello.name, "gateway");
    assert.deepEqual(serverHello.wrapped, bytes(256, 4));
    assert.deepEqual(serverHello.signature, bytes(256, 8));
    assert.equal(serverHello.signedLength, samples()[2].length - 2 - 256);
  }
  assert.deepEqual(clientFinished, { type: MessageType.ClientFinished, mac: bytes(32, 9) });
  assert.deepEqual(serverFinished, { type: MessageType.ServerFinished, mac: bytes(32, 10) });
  assert.deepEqual(rejected, { type: MessageType.Rejected, reason: "no" });
});

Deno.test("handshake messages: an unknown version is a version error", () => {
  for (const message of samples()) {
    const other = message.slice();
    other[0] = 2;
    assert.throws(
      () => decodeMessage(other),
      (e: unknown) => (e as HandshakeError).code === "version",
    );
  }
});

Deno.test("handshake messages: every truncation and any trailing byte is malformed", () => {
  for (const message of samples()) {
    for (let length = 0; length < message.length; length++) {
      assert.throws(
        () => decodeMessage(message.subarray(0, length)),
        (e: unknown) => e instanceof HandshakeError && e.code === "malformed",
        `length ${length} of ${message.length}`,
      );
    }
    const longer = new Uint8Array(message.length + 1);
    longer.set(message);
    assert.throws(() => decodeMessage(longer), /1 unexpected bytes/);
  }
});

Deno.test("handshake messages: text is bounded and free of control characters", () => {
  const long = decodeMessage(encodePending("é".repeat(MAX_TEXT_BYTES)));
  assert.ok(long.type === MessageType.Pending);
  assert.equal(long.message, "é".repeat(MAX_TEXT_BYTES / 2));
  const cleaned = decodeMessage(encodeRejected("bad\x1b[31m\nthing"));
  assert.deepEqual(cleaned, { type: MessageType.Rejected, reason: "bad [31m thing" });
  const raw = encodeRejected("ok");
  raw[4] = 0x07;
  assert.throws(() => decodeMessage(raw), /control characters/);
  assert.throws(
    () =>
      encodeClientHello({
        name: "a\nb",
        spki: bytes(1, 0),
        nonce: bytes(32, 0),
        share: bytes(32, 0),
      }),
    RangeError,
  );
});

Deno.test("handshake messages: property: any bytes decode or throw HandshakeError", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 600 }),
      fc.constantFrom(1, 2, 3, 4, 5, 6),
      (tail, type) => {
        const input = new Uint8Array(2 + tail.length);
        input.set([1, type]);
        input.set(tail, 2);
        try {
          decodeMessage(input);
        } catch (error) {
          assert.ok(error instanceof HandshakeError);
        }
      },
    ),
    { numRuns: 2000 },
  );
});
