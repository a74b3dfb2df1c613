import assert from "node:assert/strict";
import { HandshakeError } from "../crypto/mod.ts";
import { WebSocketProtocolError } from "../transport/mod.ts";
import { handshakeFailureCode } from "./failure_code.ts";

Deno.test("handshake failure code: regression: a DOMException is labelled by meaning, not by its code", () => {
  // The peer left while the operator decided: the decision's abort (was reason="20").
  const abort = new DOMException("The signal has been aborted", "AbortError");
  assert.equal(handshakeFailureCode(abort, undefined, true), "closed");
  // Web Crypto refusing input without the peer leaving (was reason="0").
  const crypto = new DOMException("Invalid key data", "DataError");
  assert.equal(handshakeFailureCode(crypto, undefined, false), "internal");
});

Deno.test("handshake failure code: a HandshakeError's code, or websocket when the framing refused first", () => {
  const malformed = new HandshakeError(
    "malformed",
    "Cannot import the client key: not an RSA SPKI",
  );
  assert.equal(handshakeFailureCode(malformed, undefined, false), "malformed");
  assert.equal(
    handshakeFailureCode(new HandshakeError("closed", "gone"), undefined, true),
    "closed",
  );
  const framing = new WebSocketProtocolError("Cannot parse frame: client frames must be masked");
  assert.equal(handshakeFailureCode(malformed, framing, true), "websocket");
});
