/** Bounded retries with exponential backoff, and the rule for which failures are worth retrying. */

/** How often and how patiently to retry. */
export interface RetryPolicy {
  /** Attempts after the first one. */
  retries: number;
  /** The first delay; each later one doubles, capped at maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The default: 4 retries, 200 ms doubling up to 5 s (about 3 s of waiting in all). */
export const DEFAULT_RETRY: RetryPolicy = { retries: 4, baseDelayMs: 200, maxDelayMs: 5000 };

/** True for statuses that a later attempt may not see again: 429 and the 5xx family (but not 501, nor 507: a full disk stays full). */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || (status >= 500 && status !== 501 && status !== 507);
}

/** The wait before retry number `attempt` (1-based), honouring a `Retry-After` in seconds when the server sent one. */
export function retryDelay(policy: RetryPolicy, attempt: number, retryAfter?: string | null): number {
  const seconds = retryAfter ? Number(retryAfter) : Number.NaN;
  if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, policy.maxDelayMs);
  const exp = policy.baseDelayMs * 2 ** (attempt - 1);
  // Jitter spreads parallel downloads that failed together.
  return Math.min(policy.maxDelayMs, exp) * (0.75 + Math.random() * 0.5);
}
