/**
 * Queue depth as the scaler sees it: tasks waiting for a worker and tasks a worker holds.
 * Two sources implement it (jetstreamQueueDepth.ts, taskTableActivity.ts); which one is a
 * configuration choice (QUEUE_SOURCE).
 */
export interface QueueDepth {
  queued: number;
  running: number;
}

export interface QueueDepthSource {
  readDepth(): Promise<QueueDepth>;
  close(): Promise<void>;
}
