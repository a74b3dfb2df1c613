/**
 * The app spec: what a client offers under a name. It lives here, below the
 * client and the Kubernetes layer, because both produce it (`--expose` and
 * apps files; annotated Services).
 *
 * @module
 */

/** A TCP endpoint the client can reach, offered under a name. */
export interface AppSpec {
  /** Name the app is exposed under. */
  name: string;
  /** Upstream host. */
  host: string;
  /** Upstream port. */
  port: number;
}

/**
 * An app the server offers to its clients: an upstream the server reaches,
 * and which peers may use it (`--expose` and apps files on the server;
 * central Services annotated with `…/peers`).
 */
export interface OfferSpec extends AppSpec {
  /** Names of the peers it is offered to; absent: every approved peer. */
  peers?: readonly string[];
}

/** True when `offer` is offered to the peer named `peer`. */
export function isOfferedTo(offer: OfferSpec, peer: string): boolean {
  return offer.peers === undefined || offer.peers.includes(peer);
}
