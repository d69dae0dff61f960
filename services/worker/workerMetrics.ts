// The worker's Prometheus metrics, registered on an injected registry (tests get an isolated
// one; several workers in one process share one and reuse the same collectors).
// Bounded labels only (STYLE.md): statuses and reasons, never a task id or a model name.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface WorkerMetrics {
  tasksFinished: Counter<'status'>;
  taskDuration: Histogram<'status'>;
  engineStep: Histogram;
  busy: Gauge;
  attemptsAbandoned: Counter<'reason'>;
}

export type AbandonReason = 'released' | 'retry' | 'lease_lost' | 'stale';

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
  const reuse = <T>(name: string, make: () => T): T => (registry.getSingleMetric(name) as T | undefined) ?? make();
  return {
    tasksFinished: reuse(
      'fooocus_tasks_finished_total',
      () =>
        new Counter({
          name: 'fooocus_tasks_finished_total',
          help: 'Tasks this worker brought to a terminal status (finished, stopped or failed), by status',
          labelNames: ['status'],
          registers: [registry],
        }),
    ),
    taskDuration: reuse(
      'fooocus_task_duration_seconds',
      () =>
        new Histogram({
          name: 'fooocus_task_duration_seconds',
          help: 'Time from claim to terminal status of the attempts that ended the task, by status',
          labelNames: ['status'],
          buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200],
          registers: [registry],
        }),
    ),
    engineStep: reuse(
      'fooocus_engine_step_seconds',
      () =>
        new Histogram({
          name: 'fooocus_engine_step_seconds',
          help: 'Time between consecutive sampling steps of one image (UNet evaluations plus sampler work)',
          buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10],
          registers: [registry],
        }),
    ),
    busy: reuse(
      'fooocus_worker_busy',
      () => new Gauge({ name: 'fooocus_worker_busy', help: 'Tasks this process is running now (0 or 1 per worker)', registers: [registry] }),
    ),
    attemptsAbandoned: reuse(
      'fooocus_worker_attempts_abandoned_total',
      () =>
        new Counter({
          name: 'fooocus_worker_attempts_abandoned_total',
          help: 'Attempts that ended without a terminal status: released at shutdown, given back for a retry, lease lost, or stale at completion',
          labelNames: ['reason'],
          registers: [registry],
        }),
    ),
  };
}
