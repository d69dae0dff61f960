// Dispatch and events for a configuration: NATS JetStream when NATS_URL is set, else the
// in-process queue and bus. The in-process pair exists only inside this process, so it is
// valid only when the API and the worker run in the same process AND are handed the same
// instances (createBackends returns them together with `processLocal: true`).
//
// The consumer settings (ACK_WAIT_MS, MAX_DELIVERIES) come from the shared storage config:
// API and worker both create-or-update the same durable consumer, so they must agree.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Dispatcher, EventBus } from '../core/ports.ts';
import type { StorageEnv } from '../config/storageConfig.ts';
import { createInProcessDispatcher } from '../infra/inprocess/createInProcessDispatcher.ts';
import { createInProcessEventBus } from '../infra/inprocess/createInProcessEventBus.ts';
import { createJetStreamDispatcher } from '../infra/jetstream/createJetStreamDispatcher.ts';
import { createJetStreamEventBus } from '../infra/jetstream/createJetStreamEventBus.ts';
import { BackendBootError, errorMessage, redactUrl } from './backendBootError.ts';

export interface OpenedMessaging {
  kind: 'jetstream' | 'in-process';
  dispatcher: Dispatcher;
  events: EventBus;
  location: string;
  close(): Promise<void>;
}

export async function openMessaging(
  config: Pick<StorageEnv, 'NATS_URL' | 'NATS_STREAM' | 'NATS_CONSUMER' | 'ACK_WAIT_MS' | 'MAX_DELIVERIES'>,
  options: { connectTimeoutMs: number; clientName: string; onError: (err: unknown) => void },
): Promise<OpenedMessaging> {
  if (!config.NATS_URL) {
    const dispatcher = createInProcessDispatcher({ ackWaitMs: config.ACK_WAIT_MS, maxDeliver: config.MAX_DELIVERIES, onError: options.onError });
    const events = createInProcessEventBus({ onError: options.onError });
    return {
      kind: 'in-process',
      dispatcher,
      events,
      location: 'in-process',
      async close() {
        await dispatcher.close();
        await events.close();
      },
    };
  }

  const location = redactUrl(config.NATS_URL);
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: config.NATS_URL.split(',').map((s) => s.trim()).filter(Boolean),
      name: options.clientName,
      timeout: options.connectTimeoutMs,
      // Once connected, ride out NATS restarts: the dispatcher and the bus resume by themselves.
      maxReconnectAttempts: -1,
    });
  } catch (err) {
    throw new BackendBootError('NATS_URL', `cannot connect to NATS at ${location}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const dispatcher = await createJetStreamDispatcher({
      nc,
      stream: config.NATS_STREAM,
      durable: config.NATS_CONSUMER,
      ackWaitMs: config.ACK_WAIT_MS,
      maxDeliver: config.MAX_DELIVERIES,
      onError: options.onError,
    });
    const events = await createJetStreamEventBus({ nc, onError: options.onError });
    return {
      kind: 'jetstream',
      dispatcher,
      events,
      location,
      async close() {
        await dispatcher.close();
        await events.close();
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close().catch(() => {});
    const hint = /jetstream not enabled|503/i.test(errorMessage(err)) ? ' (is JetStream enabled? start nats-server with -js)' : '';
    throw new BackendBootError(
      'NATS_URL',
      `cannot set up JetStream stream ${config.NATS_STREAM} / consumer ${config.NATS_CONSUMER} at ${location}${hint}: ${errorMessage(err)}`,
      { cause: err },
    );
  }
}
