/**
 * Per-client limit on failed logins: a token bucket per address. Each uncached password check
 * takes a token and a correct password gives it back, so only failures drain the bucket; it
 * refills steadily, so an address is slowed down, never locked out for good.
 */
import { createLru } from "./storage/lru.ts";

/** How many failures an address may burst, and how fast it earns new attempts. */
export interface FailureLimits {
  /** Failures allowed in a row before the address must wait (default 10). */
  burst: number;
  /** Attempts regained per second (default 1). */
  perSecond: number;
  /** Addresses remembered at once; the least recently seen are forgotten first (default 10000). */
  maxAddresses: number;
}

const DEFAULT_FAILURE_LIMITS: FailureLimits = { burst: 10, perSecond: 1, maxAddresses: 10_000 };

/** Takes and returns attempts for an address. */
export interface FailureLimiter {
  /** Takes one attempt: 0 when granted, else the seconds until the next one (for Retry-After). */
  take(address: string): number;
  /** Gives back an attempt that turned out to be a correct password. */
  refund(address: string): void;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** Creates a limiter; `now` (ms) is injectable for tests. */
export function createFailureLimiter(limits: Partial<FailureLimits> = {}, now: () => number = performance.now.bind(performance)): FailureLimiter {
  const { burst, perSecond, maxAddresses } = { ...DEFAULT_FAILURE_LIMITS, ...limits };
  // Bounded: a flood from many addresses forgets the oldest, which then start with a full bucket.
  const buckets = createLru<string, Bucket>({ maxEntries: maxAddresses });
  const current = (address: string): Bucket => {
    const t = now();
    const b = buckets.get(address) ?? { tokens: burst, at: t };
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * perSecond);
    b.at = t;
    buckets.set(address, b);
    return b;
  };
  return {
    take(address) {
      const b = current(address);
      if (b.tokens >= 1) {
        b.tokens -= 1;
        return 0;
      }
      return Math.max(1, Math.ceil((1 - b.tokens) / perSecond));
    },
    refund(address) {
      const b = current(address);
      b.tokens = Math.min(burst, b.tokens + 1);
    },
  };
}
