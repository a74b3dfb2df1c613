/**
 * The process's memory released once each stretch of load ends (see
 * `src/memory`): wired to the data path's byte count and V8's full
 * collection in `src/crypto`'s collector.
 *
 * @module
 */

import { collector } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import { mallocTrim, MemoryReleaser } from "../memory/mod.ts";

const MiB = 1024 * 1024;

/**
 * Starts this process's {@linkcode MemoryReleaser}, or returns null (logged
 * at debug level) when glibc's `malloc_trim` cannot be had; stop it on exit.
 */
export function startMemoryReleaser(log: Logger): MemoryReleaser | null {
  const trim = mallocTrim();
  if (!trim) {
    log.debug("memory release off: no glibc malloc_trim (not Linux, not glibc, or no --allow-ffi)");
    return null;
  }
  const releaser = new MemoryReleaser({
    moved: () => collector.moved,
    collect: () => void collector.collectFully(),
    trim,
    rss: () => Deno.memoryUsage().rss,
  }, {
    onRelease: ({ rssBefore, rssAfter, trimmed }) =>
      log.debug("memory given back after the load", {
        rssMiB: Math.round(rssAfter / MiB * 10) / 10,
        freedMiB: Math.round((rssBefore - rssAfter) / MiB * 10) / 10,
        trimmed,
      }),
  });
  releaser.start();
  return releaser;
}
