/**
 * Errors raised when bytes on the wire do not form valid protocol v1 input.
 *
 * @module
 */

/** Why a record or payload could not be decoded. */
export type ProtocolErrorCode =
  | "truncated"
  | "oversized"
  | "unknown-kind"
  | "unknown-version"
  | "malformed";

/**
 * Input from the peer is not valid protocol v1. The connection that produced
 * it cannot be trusted any further and should be closed.
 */
export class ProtocolError extends SyntaxError {
  /** Machine-readable reason. */
  readonly code: ProtocolErrorCode;

  /** Creates a protocol error with a machine-readable `code`. */
  constructor(code: ProtocolErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.code = code;
  }
}
