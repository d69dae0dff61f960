/**
 * Queue depth from JetStream consumer info, the same numbers KEDA's nats-jetstream scaler
 * reads: num_pending (in the stream, not yet delivered to the workers' durable consumer) is
 * queued; num_ack_pending (delivered, not yet acked: a worker holds it) is running.
 * Before any worker has created the consumer, the stream's message count stands in for
 * queued, so a first task still wakes a worker from zero.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { QueueDepth, QueueDepthSource } from './queueDepth.ts';

export interface JetStreamQueueDepthOptions {
  servers: string;
  stream: string;
  consumer: string;
}

function isNotFound(e: unknown): boolean {
  const err = e as { code?: unknown; api_error?: { code?: number }; message?: string };
  return err?.api_error?.code === 404 || err?.code === 404 || err?.code === '404' || /not found/i.test(err?.message ?? '');
}

export class JetStreamQueueDepth implements QueueDepthSource {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly opts: JetStreamQueueDepthOptions,
  ) {}

  static async connect(opts: JetStreamQueueDepthOptions): Promise<JetStreamQueueDepth> {
    const nc = await connect({ servers: opts.servers.split(',').map((s) => s.trim()), name: 'fooocus-scaler', maxReconnectAttempts: -1 });
    return new JetStreamQueueDepth(nc, await jetstreamManager(nc), opts);
  }

  async readDepth(): Promise<QueueDepth> {
    try {
      const ci = await this.jsm.consumers.info(this.opts.stream, this.opts.consumer);
      return { queued: ci.num_pending, running: ci.num_ack_pending };
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    try {
      const si = await this.jsm.streams.info(this.opts.stream);
      return { queued: si.state.messages, running: 0 };
    } catch (e) {
      if (isNotFound(e)) return { queued: 0, running: 0 };
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}
