/**
 * The process's memory handed back to the system when the load ends
 * ({@linkcode MemoryReleaser}), with glibc's `malloc_trim` ({@linkcode mallocTrim}).
 *
 * ```ts ignore
 * const trim = mallocTrim();
 * if (trim) new MemoryReleaser({ moved, collect, trim, rss }).start();
 * ```
 *
 * @module
 */

export * from "./malloc_trim.ts";
export * from "./releaser.ts";
