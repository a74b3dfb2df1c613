/**
 * Latency statistics of the chaos suite: nearest-rank percentiles over the
 * samples a probe collected.
 *
 * @module
 */

/** A latency summary in milliseconds. */
export interface LatencySummary {
  /** Samples taken. */
  count: number;
  /** Median. */
  p50: number;
  /** 99th percentile. */
  p99: number;
  /** Largest sample. */
  max: number;
}

/**
 * The nearest-rank `p`-th percentile (0 < p ≤ 100) of `samples`: the smallest
 * sample that at least p % of the samples do not exceed. Nearest rank, not
 * interpolation, so the figure is always a latency that was really measured.
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new RangeError("Cannot take a percentile of no samples");
  if (!(p > 0 && p <= 100)) {
    throw new RangeError(`Cannot take percentile ${p}: must be in (0, 100]`);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.ceil((p / 100) * sorted.length) - 1];
}

/** p50, p99 and max of `samples` (all 0 for none, with count 0). */
export function summarize(samples: readonly number[]): LatencySummary {
  if (samples.length === 0) return { count: 0, p50: 0, p99: 0, max: 0 };
  return {
    count: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
  };
}
