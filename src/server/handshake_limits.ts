/**
 * How often a key, and an address, may ask the server to sign a handshake.
 *
 * A ClientHello proves nothing (the key in it is public), so anyone who saw
 * an approved client's hello can replay it, and each replay costs the
 * server an RSA-PSS signature. Token buckets per fingerprint and per remote
 * host, checked before the decision (and so before any signature), bound
 * that cost; a client reconnecting with its backoff never meets them.
 *
 * @module
 */

/** One bucket's size and refill. */
export interface BucketLimit {
  /** Tokens when full: handshakes allowed at once. */
  burst: number;
  /** Tokens added per second. */
  perSecond: number;
}

/** The default limits: per key 10 at once, then one per second; per address 64, then 16 per second. */
export const DEFAULT_HANDSHAKE_LIMITS: { key: BucketLimit; address: BucketLimit } = {
  key: { burst: 10, perSecond: 1 },
  address: { burst: 64, perSecond: 16 },
};

/** The host of a `host:port` remote address (IPv6 without brackets). */
export function hostOf(remote: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d+)?$/.exec(remote);
  if (bracketed) return bracketed[1];
  const colon = remote.lastIndexOf(":");
  return colon >= 0 && remote.indexOf(":") === colon ? remote.slice(0, colon) : remote;
}

/** Buckets kept at most; the least recently used go first (a full bucket is no loss). */
const MAX_BUCKETS = 10_000;

/**
 * Token buckets by key, bounded in number.
 *
 * @example
 * ```ts
 * import { TokenBuckets } from "./handshake_limits.ts";
 * const buckets = new TokenBuckets({ burst: 2, perSecond: 1 });
 * console.log(buckets.take("a", 0), buckets.take("a", 0), buckets.take("a", 0)); // true true false
 * console.log(buckets.take("a", 1000)); // true: one token back after a second
 * ```
 */
export class TokenBuckets {
  #limit: BucketLimit;
  #buckets = new Map<string, { tokens: number; at: number }>();

  /** Creates buckets that each hold `limit.burst` tokens and gain `limit.perSecond`. */
  constructor(limit: BucketLimit) {
    if (!(limit.burst >= 1) || !(limit.perSecond > 0)) {
      throw new RangeError(
        `Cannot limit to a burst of ${limit.burst} and ${limit.perSecond} per second`,
      );
    }
    this.#limit = limit;
  }

  /** Takes a token from `key`'s bucket at time `now` (ms); false when it is empty. */
  take(key: string, now: number = performance.now()): boolean {
    const { burst, perSecond } = this.#limit;
    const bucket = this.#buckets.get(key);
    let tokens = burst;
    if (bucket) {
      tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * perSecond);
      this.#buckets.delete(key); // re-inserted below: the map's order is recency
    } else if (this.#buckets.size >= MAX_BUCKETS) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
    const allowed = tokens >= 1;
    this.#buckets.set(key, { tokens: allowed ? tokens - 1 : tokens, at: now });
    return allowed;
  }

  /** Buckets kept now (for tests). */
  get size(): number {
    return this.#buckets.size;
  }
}
