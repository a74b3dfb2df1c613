/**
 * Acceptors decide whether a peer that said hello may use the tunnel.
 *
 * @module
 */

/** What an acceptor knows about a peer asking to join. */
export interface JoinRequest {
  /** The name the peer gave in its hello. */
  name: string;
  /** The peer's remote address, `host:port`. */
  remote: string;
  /** Aborted when the peer goes away before a decision. */
  signal: AbortSignal;
}

/** The outcome of a join request. */
export type Decision = { accepted: true } | { accepted: false; reason: string };

/** Decides on join requests; may take as long as an operator needs. */
export interface Acceptor {
  /** A short name for logs, e.g. `dummy`. */
  readonly kind: string;
  /** Decides on `request`. */
  decide(request: JoinRequest): Promise<Decision>;
}

/** Accepts every peer. For local development and trusted networks only. */
export class DummyAcceptor implements Acceptor {
  /** @inheritdoc */
  readonly kind = "dummy";
  /** @inheritdoc */
  decide(): Promise<Decision> {
    return Promise.resolve({ accepted: true });
  }
}
