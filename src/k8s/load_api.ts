/**
 * The one door to kubernetes-fluent-client: {@linkcode loadKubeApi} imports
 * its implementation of {@linkcode KubeApi} (`fluent.ts`) on first use.
 *
 * @module
 */

import type { KubeApi } from "./api.ts";
import type { FluentKubeApiOptions } from "./fluent.ts";

export type { FluentKubeApiOptions } from "./fluent.ts";

/**
 * Loads the kubernetes-fluent-client implementation of {@linkcode KubeApi}.
 * Its first call costs about half a second and 80 MiB, hence the dynamic
 * import: nothing else in wormhole imports it.
 */
export async function loadKubeApi(options: FluentKubeApiOptions = {}): Promise<KubeApi> {
  // A dependency of the fluent client requires node:punycode when loaded, and Node's
  // deprecation warning for it would be a stray non-log line on stderr.
  const { default: process } = await import("node:process");
  const quiet = process.noDeprecation;
  process.noDeprecation = true;
  try {
    const { FluentKubeApi } = await import("./fluent.ts");
    return new FluentKubeApi(options);
  } finally {
    process.noDeprecation = quiet;
  }
}
