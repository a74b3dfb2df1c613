/**
 * Test helpers of the Kubernetes modules (not exported by `mod.ts`).
 *
 * @module
 */

/** Polls `predicate` (at most 1,000 times), yielding to timers in between; throws naming `what`. */
export async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (predicate()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`never happened: ${what}`);
}
