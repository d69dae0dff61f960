// The port contract tests (test/integration/dispatcher.test.ts, eventBus.test.ts) run one
// suite unchanged against each adapter of a port: JetStream on a throw-away nats-server and
// the in-process one. This is the scaffolding they share: a backend that opens a fresh
// adapter per test, the hooks that set a backend up for the suite and close what each test
// opened, and the nats-server + client connection a JetStream backend runs on.
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { startNats, type NatsHandle } from './startNats.ts';

export interface ContractBackend<Adapter, Settings = void> {
  name: string;
  setup(): Promise<void>;
  teardown(): Promise<void>;
  /** A fresh adapter (for JetStream: a fresh stream) per call. */
  make(settings: Settings): Promise<Adapter>;
}

/**
 * Registers, inside the suite's `describe`, setup/teardown of `backend` and closing every
 * adapter a test opened after it; returns the `make` tests call.
 */
export function useContractBackend<Adapter extends { close(): Promise<void> }, Settings>(
  backend: ContractBackend<Adapter, Settings>,
): (settings: Settings) => Promise<Adapter> {
  const open: Adapter[] = [];
  beforeAll(() => backend.setup());
  afterAll(() => backend.teardown());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((a) => a.close()));
  });
  return async (settings) => {
    const adapter = await backend.make(settings);
    open.push(adapter);
    return adapter;
  };
}

/** A nats-server (JetStream on) and one client connection, started by `setup`, for a JetStream backend. */
export function natsForSuite(): { setup(): Promise<void>; teardown(): Promise<void>; connection(): NatsConnection } {
  let nats: NatsHandle | null = null;
  let nc: NatsConnection | null = null;
  return {
    async setup() {
      nats = await startNats();
      nc = await connect({ servers: nats.url });
    },
    async teardown() {
      await nc?.close();
      await nats?.stop();
    },
    connection: () => nc!,
  };
}

/** A backend with nothing to start (the in-process adapters). */
export const noSetup = { setup: async (): Promise<void> => {}, teardown: async (): Promise<void> => {} };
