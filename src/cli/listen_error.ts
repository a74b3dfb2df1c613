/**
 * Bind failures that name the flags to change.
 *
 * @module
 */

/**
 * `error` from binding `host:port`, as one line naming the address and the
 * `flags` that set it (`--admin-host/--admin-port`), when it is a bind
 * failure; any other error as it is.
 *
 * @example
 * ```ts
 * import { listenError } from "./listen_error.ts";
 * const error = listenError(new Deno.errors.AddrInUse("os error 98"), "--port", "0.0.0.0", 8080);
 * console.log(error.message);
 * // Cannot listen on 0.0.0.0:8080 (--port): the address is in use by another process
 * ```
 */
export function listenError(error: unknown, flags: string, host: string, port: number): unknown {
  const why = error instanceof Deno.errors.AddrInUse
    ? "the address is in use by another process"
    : error instanceof Deno.errors.AddrNotAvailable
    ? "that address is not one of this machine's"
    : error instanceof Deno.errors.PermissionDenied
    ? "permission denied (ports below 1024 need privileges)"
    : undefined;
  if (why === undefined) return error;
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return new Error(`Cannot listen on ${address} (${flags}): ${why}`, { cause: error });
}
