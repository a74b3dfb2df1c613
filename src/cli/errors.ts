/**
 * Errors of the command line, by meaning.
 *
 * @module
 */

/**
 * The flags or arguments cannot work together or name something unusable
 * (a missing file, a reconnect maximum below its minimum): exit code 2, like
 * a flag commander rejects. Every other error is a failure at run time
 * (exit 1), whatever its type: a stack overflow is a `RangeError` too.
 *
 * @example
 * ```ts
 * import { UsageError } from "./errors.ts";
 * throw new UsageError("--tls-cert and --tls-key go together: give both or neither");
 * ```
 */
export class UsageError extends Error {
  /** Creates the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UsageError";
  }
}
