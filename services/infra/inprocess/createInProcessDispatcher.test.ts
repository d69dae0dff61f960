// The in-process dispatcher's own timing edge: a nak(delay) must be redelivered even when the
// wall clock (Date.now) lags the timer clock, as it can by a millisecond in Node (timers run on
// libuv's cached loop time). Before the fix, the only wake-up fired "early", found nothing
// deliverable and the queue slept forever — a task lost in embedded mode.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createInProcessDispatcher } from './createInProcessDispatcher.ts';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('createInProcessDispatcher', () => {
  it('redelivers a nak(delay) even when Date.now lags the timers', async () => {
    const dispatcher = createInProcessDispatcher({ ackWaitMs: 60_000 });
    const realNow = Date.now.bind(Date);
    const deliveries: number[] = [];
    let redelivered: () => void = () => {};
    const done = new Promise<void>((resolve) => (redelivered = resolve));
    const subscription = dispatcher.consume(async (m) => {
      deliveries.push(m.deliveryCount);
      if (m.deliveryCount === 1) {
        await m.nak(40);
        // From now on the wall clock reads 20 ms behind the timers.
        vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 20);
        return;
      }
      await m.ack();
      redelivered();
    });
    await dispatcher.publish('task-1', 1);
    const outcome = await Promise.race([done.then(() => 'redelivered'), new Promise((r) => setTimeout(() => r('lost'), 2_000))]);
    expect(outcome).toBe('redelivered');
    expect(deliveries).toEqual([1, 2]);
    await subscription.stop();
    await dispatcher.close();
  });

  it('a consumer asleep on an empty queue still wakes for a publish', async () => {
    const dispatcher = createInProcessDispatcher();
    const seen: string[] = [];
    const subscription = dispatcher.consume(async (m) => {
      seen.push(m.taskId);
      await m.ack();
    });
    await new Promise((r) => setTimeout(r, 20));
    await dispatcher.publish('task-2', 1);
    await vi.waitFor(() => expect(seen).toEqual(['task-2']));
    await subscription.stop();
    await dispatcher.close();
  });
});
