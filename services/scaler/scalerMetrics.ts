/**
 * The scaler's Prometheus metrics (fooocus_ prefix, base units, bounded labels: a Deployment
 * name and a fixed set of actions and stages).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface ScalerMetrics {
  desiredReplicas: Gauge<'deployment'>;
  currentReplicas: Gauge<'deployment'>;
  observedTasks: Gauge<'state'>;
  decisions: Counter<'action'>;
  errors: Counter<'stage'>;
}

export function createScalerMetrics(registry: Registry): ScalerMetrics {
  return {
    desiredReplicas: new Gauge({
      name: 'fooocus_scaler_desired_replicas',
      help: 'Worker replicas the scaler last asked for, per Deployment.',
      labelNames: ['deployment'],
      registers: [registry],
    }),
    currentReplicas: new Gauge({
      name: 'fooocus_scaler_current_replicas',
      help: "Worker replicas in the Deployment's Scale when the scaler last read it, per Deployment.",
      labelNames: ['deployment'],
      registers: [registry],
    }),
    observedTasks: new Gauge({
      name: 'fooocus_scaler_observed_tasks',
      help: 'Tasks the scaler last observed, by state: queued (waiting for a worker) or running (held by a worker).',
      labelNames: ['state'],
      registers: [registry],
    }),
    decisions: new Counter({
      name: 'fooocus_scaler_decisions_total',
      help: 'Scaling decisions by action: up, down, wake (from zero), clamp (outside min/max) or hold.',
      labelNames: ['action'],
      registers: [registry],
    }),
    errors: new Counter({
      name: 'fooocus_scaler_errors_total',
      help: 'Scaler ticks that failed, by stage: queue, kubernetes, conflict (the Scale changed under us).',
      labelNames: ['stage'],
      registers: [registry],
    }),
  };
}
