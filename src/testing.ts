/**
 * The polling helper of every layer's tests (not exported by `mod.ts`). It
 * sits beside `version.ts`, below every layer, so that tests of any folder
 * may use it. (`src/mux/testing.ts`'s `waitFor` counts macrotask turns
 * instead, for in-memory tests that must not let time pass.)
 *
 * @module
 */

/**
 * Polls `predicate` every 5 ms, at most 2,000 times (10 s and more: real
 * sockets under load), yielding to timers in between; throws naming `what`.
 */
export async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`never happened: ${what}`);
}
