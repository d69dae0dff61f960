import { describe, expect, it } from 'vitest';
import { nextRetryDelayMs, parseRetryAfter, SVIX_RETRY_SCHEDULE_MS } from './webhookRetrySchedule.ts';

describe('webhook retry schedule', () => {
  const policy = { maxAttempts: 8, scheduleMs: SVIX_RETRY_SCHEDULE_MS, jitter: 0.2, random: () => 0.5 };

  it('follows the Svix schedule after each failed attempt and gives up at maxAttempts', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => nextRetryDelayMs(n, policy))).toEqual([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]);
    expect(nextRetryDelayMs(8, policy)).toBeNull();
    expect(nextRetryDelayMs(12, { ...policy, maxAttempts: 20 })).toBe(36_000_000); // the cap repeats
  });

  it('jitters by ±20 %', () => {
    expect(nextRetryDelayMs(1, { ...policy, random: () => 0 })).toBe(4_000);
    expect(nextRetryDelayMs(1, { ...policy, random: () => 0.999999 })).toBe(6_000);
  });

  it('lets Retry-After lengthen a delay, never shorten it', () => {
    expect(nextRetryDelayMs(1, policy, 60_000)).toBe(60_000);
    expect(nextRetryDelayMs(2, policy, 60_000)).toBe(300_000);
    expect(parseRetryAfter('120', 0)).toBe(120_000);
    expect(parseRetryAfter(new Date(61_000).toUTCString(), 1_000)).toBe(60_000);
    expect(parseRetryAfter('soon', 0)).toBeNull();
    expect(parseRetryAfter(undefined, 0)).toBeNull();
  });
});
