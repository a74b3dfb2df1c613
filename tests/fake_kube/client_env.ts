/**
 * What tests of the real Kubernetes client (kubernetes-fluent-client over
 * undici) against the fake need: the client reads `KUBECONFIG` on every
 * request, and undici leaves a timer behind.
 *
 * @module
 */

/**
 * Sanitizers off for tests that use kubernetes-fluent-client, and for them only: undici (its
 * HTTP client) arms a module-global "fast timer" (undici/lib/util/timers.js, a ~500 ms tick
 * backing its connect timeouts) on every new connection; it ticks on after the timeout is
 * cleared and stops by itself up to about a second later, and no API closes it. Deno reports it
 * under both the op and the resource sanitizer. Sockets do not leak: every request closes its
 * undici Agent, and the fake server's `close()` awaits `server.finished`, which needs every
 * connection closed.
 */
export const UNDICI_TIMER = { sanitizeOps: false, sanitizeResources: false } as const;

/**
 * Points `KUBECONFIG` at `path` until disposed, then restores what it was.
 *
 * @example
 * ```ts ignore
 * using _config = usingKubeconfig(kube.kubeconfigPath);
 * ```
 */
export function usingKubeconfig(path: string): Disposable {
  const previous = Deno.env.get("KUBECONFIG");
  Deno.env.set("KUBECONFIG", path);
  return {
    [Symbol.dispose]() {
      if (previous === undefined) Deno.env.delete("KUBECONFIG");
      else Deno.env.set("KUBECONFIG", previous);
    },
  };
}
