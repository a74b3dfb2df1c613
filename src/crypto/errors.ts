/**
 * Errors raised by the crypto layer, by meaning: a failed handshake, a broken
 * session, an unusable identity key. Messages never carry key material.
 *
 * @module
 */

/** Why a handshake failed. */
export type HandshakeErrorCode =
  /** A message did not arrive in time. */
  | "timeout"
  /** The server (its operator) refused the client. */
  | "rejected"
  /** The server refused a key on its deny list before any key exchange (server side). */
  | "denied"
  /** The server's key is not the one the client expected. */
  | "server-key-mismatch"
  /** The server's signature over the transcript does not verify. */
  | "bad-signature"
  /** A Finished message does not match the transcript and keys. */
  | "bad-confirmation"
  /** A message could not be decoded, or came out of order. */
  | "malformed"
  /** A message carries a protocol version this side does not speak. */
  | "version"
  /** The connection closed before the handshake completed. */
  | "closed";

/** Extra fields of a {@linkcode HandshakeError}. */
export interface HandshakeErrorOptions extends ErrorOptions {
  /** For `server-key-mismatch`: the pinned fingerprint (several: comma-separated). */
  expected?: string;
  /** For `server-key-mismatch`: the fingerprint the server presented. */
  actual?: string;
}

/** The handshake failed; the connection must be closed. */
export class HandshakeError extends Error {
  /** Machine-readable reason. */
  readonly code: HandshakeErrorCode;
  /** For `server-key-mismatch`: the pinned (expected) server fingerprint (several: comma-separated). */
  readonly expected?: string;
  /** For `server-key-mismatch`: the fingerprint the server presented. */
  readonly actual?: string;

  /** Creates a handshake error with a machine-readable `code`. */
  constructor(code: HandshakeErrorCode, message: string, options?: HandshakeErrorOptions) {
    super(message, options);
    this.name = "HandshakeError";
    this.code = code;
    if (options?.expected !== undefined) this.expected = options.expected;
    if (options?.actual !== undefined) this.actual = options.actual;
  }
}

/** Why a session broke. */
export type SessionErrorCode =
  /** A record is too short or carries an unknown version. */
  | "malformed"
  /** A record's counter is not exactly the next one (replay, reorder, loss). */
  | "counter"
  /** A record's epoch is neither the current nor the next one. */
  | "epoch"
  /** A record failed authentication (tampered, or wrong key). */
  | "authentication"
  /** The session ran out of epochs or counters. */
  | "exhausted"
  /** Web Crypto failed unexpectedly. */
  | "internal";

/** A sealed link received a record it cannot accept, or failed to seal one; the link is closed. */
export class SessionError extends Error {
  /** Machine-readable reason. */
  readonly code: SessionErrorCode;

  /** Creates a session error with a machine-readable `code`. */
  constructor(code: SessionErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SessionError";
    this.code = code;
  }
}

/** An identity key file or PEM text cannot be used. */
export class IdentityError extends Error {
  /** Creates an identity error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IdentityError";
  }
}
