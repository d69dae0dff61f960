// Polling for an asynchronous outcome in integration tests, instead of fixed sleeps.

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves once `condition()` holds, checking every `pollMs`; throws after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 5_000, pollMs = 10): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for condition');
    await sleep(pollMs);
  }
}
