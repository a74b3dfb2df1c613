/**
 * Errors of the Kubernetes integration.
 *
 * @module
 */

/**
 * A request to the Kubernetes API failed: the server answered with an error
 * status, or no answer came at all (`status` 0, `reason` `NetworkError`).
 */
export class KubernetesApiError extends Error {
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** The `reason` of the API's `Status` object (e.g. `NotFound`, `Conflict`), or `NetworkError`. */
  readonly reason: string;

  /** Creates the error. */
  constructor(status: number, reason: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KubernetesApiError";
    this.status = status;
    this.reason = reason;
  }

  /** True for 404 Not Found. */
  get notFound(): boolean {
    return this.status === 404;
  }

  /** True for 410 Gone: a resourceVersion or continue token too old to serve. */
  get expired(): boolean {
    return this.status === 410;
  }
}

/** A watch kept failing and gave up; the process should exit so that it is restarted. */
export class KubernetesWatchError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "KubernetesWatchError";
  }
}
