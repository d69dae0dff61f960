/**
 * What every background loop of the API takes besides its ports (STYLE.md: one options
 * object with defaults, so each loop runs in a test with an isolated metrics registry):
 * a logger, a clock, a prom-client registry — and the one way to get a metric from it.
 * Metrics are get-or-create, so two loops on one registry (two relays in a test, a relay and
 * a reconciler) share a series instead of throwing "already registered".
 */
import { pino } from 'pino';
import { Counter, Gauge, register, type Registry } from 'prom-client';

/** The pino methods the loops use; a pino Logger satisfies it. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Wall clock in ms since the epoch (tests pin it). */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Default logger: silent (the app passes its pino instance). */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Default registry: prom-client's global one (what /metrics exposes unless the app passes its own). */
export const defaultRegistry: Registry = register;

export function counterIn<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[]): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

export function gaugeIn<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
  collect?: (this: Gauge<L>) => Promise<void> | void,
): { gauge: Gauge<L>; created: boolean } {
  const existing = registry.getSingleMetric(name);
  if (existing) return { gauge: existing as Gauge<L>, created: false };
  return { gauge: new Gauge({ name, help, labelNames, registers: [registry], collect }), created: true };
}
