/**
 * glibc's `malloc_trim(0)`, through Deno's FFI: the one way to hand back to
 * the system the free pages inside malloc's heap. `free()` gives back only
 * the top of that heap, so after a burst of load the heap keeps the pages
 * of every buffer the burst freed below whatever is still allocated above
 * them (measured on the server after a 15-minute soak: brk 30.8 MiB before
 * a trim, 11.6 after; see "Memory" in docs/architecture.md).
 *
 * @module
 */

/** The C library whose allocator the Deno runtime uses on Linux. */
const LIBC = "libc.so.6";

/** Gives the allocator's free pages back; true when it released some. */
export type TrimFunction = () => boolean;

/**
 * This process's `malloc_trim(0)`, or null when it cannot be had: not
 * Linux, no glibc (musl has no `malloc_trim`), or no `--allow-ffi`. Asks no
 * permission: without it granted, it returns null rather than prompting.
 *
 * @example Trim after a burst of load
 * ```ts ignore
 * const trim = mallocTrim();
 * trim?.();
 * ```
 */
export function mallocTrim(): TrimFunction | null {
  if (Deno.build.os !== "linux") return null;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return null;
  try {
    const lib = Deno.dlopen(LIBC, { malloc_trim: { parameters: ["usize"], result: "i32" } });
    return () => lib.symbols.malloc_trim(0n) !== 0;
  } catch {
    return null;
  }
}
