/**
 * The label of a failed handshake (`wormhole_handshake_failures_total{reason}`
 * and its log line): what went wrong, never a number a runtime error
 * happens to carry.
 *
 * @module
 */

import { HandshakeError } from "../crypto/mod.ts";
import { WebSocketProtocolError } from "../transport/mod.ts";

/**
 * Why a handshake failed, by meaning: `websocket` when the WebSocket layer
 * refused the peer's input first (`linkError`: too big, text, unmasked), a
 * {@linkcode HandshakeError}'s code, `closed` when the peer went away (the
 * abort of a decision in progress rejects with a DOMException, whose `code`
 * is 20), else `internal`.
 */
export function handshakeFailureCode(
  error: unknown,
  linkError: unknown,
  peerGone: boolean,
): string {
  if (linkError instanceof WebSocketProtocolError) return "websocket";
  if (error instanceof HandshakeError) return error.code;
  return peerGone ? "closed" : "internal";
}
