/**
 * When to retry a failed webhook attempt (reliability.md B8): the Svix schedule —
 * immediately, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — with ±20 % jitter so a
 * receiver that was down is not hit by every queued delivery in the same second. The first
 * try is the enqueue itself, so with the default 8 attempts the schedule is used exactly
 * once through (≈ 27.6 h). Past its end the last delay repeats (the cap). A `Retry-After`
 * from the receiver (429/503, Standard Webhooks "throttle") lengthens the wait, never
 * shortens it, up to the cap.
 */
export const SVIX_RETRY_SCHEDULE_MS: readonly number[] = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const DEFAULT_JITTER = 0.2;
/** Largest delay a Retry-After may impose. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;

export interface RetryPolicy {
  /** Total attempts, the first included. */
  maxAttempts: number;
  /** Delay after failed attempt n is schedule[n-1] (last entry repeats). */
  scheduleMs: readonly number[];
  /** Fraction, e.g. 0.2 = ±20 %. */
  jitter: number;
  /** [0,1) random source. */
  random: () => number;
}

/** Delay before the next attempt after `attempt` failed, or null when attempts are used up. */
export function nextRetryDelayMs(attempt: number, policy: RetryPolicy, retryAfterMs: number | null = null): number | null {
  if (attempt >= policy.maxAttempts) return null;
  const schedule = policy.scheduleMs.length > 0 ? policy.scheduleMs : SVIX_RETRY_SCHEDULE_MS;
  const base = schedule[Math.min(Math.max(attempt, 1), schedule.length) - 1];
  const jittered = Math.round(base * (1 + policy.jitter * (2 * policy.random() - 1)));
  if (retryAfterMs !== null && retryAfterMs > jittered) return Math.min(retryAfterMs, MAX_RETRY_AFTER_MS);
  return Math.max(0, jittered);
}

/** `Retry-After: <seconds>` or an HTTP date → ms from `nowMs`; null when absent or unparsable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return null;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}
