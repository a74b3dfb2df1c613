/**
 * Test helpers of the mux modules (not exported by `mod.ts`).
 *
 * @module
 */

/** Resolves after one macrotask. */
export const tick = (): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Polls `condition` once per macrotask, giving up after `turns` turns. */
export async function waitFor(
  condition: () => boolean,
  what: string,
  turns = 5000,
): Promise<void> {
  for (let i = 0; i < turns; i++) {
    if (condition()) return;
    await tick();
  }
  throw new Error(`Gave up waiting for ${what}`);
}

/** `length` pseudo-random bytes, the same for the same `seed`. */
export function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}
