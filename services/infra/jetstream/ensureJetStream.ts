// Create-or-update for streams and durable consumers, so every replica can start against an
// empty server (first start, test harness) or one configured by an earlier version.
// Updates apply only fields nats-server 2.9 allows to change; a conflicting immutable field
// (e.g. retention) surfaces as the server's error, which is what an operator needs to see.
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from '@nats-io/jetstream';

function isNotFound(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

export async function ensureStream(jsm: JetStreamManager, config: Partial<StreamConfig> & { name: string }): Promise<void> {
  try {
    const info = await jsm.streams.info(config.name);
    await jsm.streams.update(config.name, { ...info.config, ...config });
  } catch (err) {
    if (!isNotFound(err, JetStreamApiCodes.StreamNotFound)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another replica created it between our info and add: fine if it now exists.
      await jsm.streams.info(config.name).catch(() => {
        throw addErr;
      });
    }
  }
}

export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  config: Partial<ConsumerConfig> & { durable_name: string },
): Promise<void> {
  try {
    const info = await jsm.consumers.info(stream, config.durable_name);
    const { ack_wait, max_deliver, max_ack_pending, backoff } = config;
    const wanted = { ack_wait, max_deliver, max_ack_pending, backoff };
    const changed = Object.entries(wanted).some(
      ([key, value]) => value !== undefined && JSON.stringify(info.config[key as keyof ConsumerConfig]) !== JSON.stringify(value),
    );
    if (changed) {
      const update = Object.fromEntries(Object.entries(wanted).filter(([, v]) => v !== undefined));
      await jsm.consumers.update(stream, config.durable_name, update);
    }
  } catch (err) {
    if (!isNotFound(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    await jsm.consumers.add(stream, config);
  }
}
