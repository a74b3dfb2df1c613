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
