/**
 * Errors surfaced by streams and the multiplexer.
 *
 * @module
 */

/** A stream was aborted, by the peer (`remote`) or locally. */
export class StreamResetError extends Error {
  /** The reset code ({@linkcode ResetCode} values). */
  readonly code: number;
  /** True when the peer sent the reset. */
  readonly remote: boolean;

  /** Creates a reset error. */
  constructor(code: number, reason: string, remote: boolean, options?: ErrorOptions) {
    super(reason, options);
    this.name = "StreamResetError";
    this.code = code;
    this.remote = remote;
  }
}

/** The tunnel connection carrying a stream is gone. */
export class TunnelClosedError extends Error {
  /** Creates a tunnel-closed error. */
  constructor(message = "Tunnel connection closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "TunnelClosedError";
  }
}

/**
 * The peer keeps the connection's send queue growing without reading it
 * (e.g. floods pings or stream opens and never reads the answers): the
 * connection is closed rather than buffering without bound.
 */
export class SendQueueFullError extends Error {
  /** Bytes of frames that were queued when the connection was closed. */
  readonly queued: number;

  /** Creates the error. */
  constructor(queued: number, limit: number, options?: ErrorOptions) {
    super(
      `Cannot queue more than ${limit} bytes of control frames: the peer does not read`,
      options,
    );
    this.name = "SendQueueFullError";
    this.queued = queued;
  }
}
