// Throw-away nats-server (JetStream on) for integration tests: never the default 4222.
//
// Why it is built this way:
// - One server per call: it starts in ~40 ms, so sharing buys nothing and isolation is free.
// - Free ports are picked by binding port 0; if the server loses the race for a port it
//   exits at once and we retry with fresh ports.
// - Ready means the monitor port's /healthz answers 200 (it reports JetStream readiness too).
// - The handle owns the child process: stop() kills it by PID and waits for 'exit';
//   stopServer()/startServer() restart it on the same ports and store dir, for fault tests
//   ("NATS down at submit"). A process 'exit' hook SIGKILLs any server a suite forgot.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './freePort.ts';

export interface NatsHandle {
  /** `nats://127.0.0.1:<port>`, for `connect({ servers })`. */
  readonly url: string;
  readonly port: number;
  readonly monitorUrl: string;
  readonly storeDir: string;
  /** PID of the running server (changes after startServer()). */
  readonly pid: number;
  /** Kills the server and removes its store dir. Idempotent. */
  stop(): Promise<void>;
  /** Kills the server, keeping its store dir (fault injection). */
  stopServer(): Promise<void>;
  /** Starts it again on the same ports with the same store dir. */
  startServer(): Promise<void>;
}

export interface StartNatsOptions {
  /** Enable JetStream (`-js`). Default true. */
  jetstream?: boolean;
}

const children = new Set<ChildProcess>();

function natsBin(): string {
  if (process.env.FOOOCUS_TEST_NATS_BIN) return process.env.FOOOCUS_TEST_NATS_BIN;
  return existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server';
}

export async function startNats(options: StartNatsOptions = {}): Promise<NatsHandle> {
  const jetstream = options.jetstream ?? true;
  const root = mkdtempSync(join(tmpdir(), 'fooocus-nats-'));
  let child: ChildProcess | null = null;
  let port = 0;
  let monitorPort = 0;

  const launch = async (): Promise<void> => {
    const args = ['-a', '127.0.0.1', '-p', String(port), '-m', String(monitorPort)];
    if (jetstream) args.push('-js', '-sd', join(root, 'js'));
    const proc = spawn(natsBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr?.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    children.add(proc);
    let exited = false;
    proc.once('exit', () => {
      exited = true;
      children.delete(proc);
    });
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('spawn', () => resolve());
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (exited) throw new Error(`nats-server exited during start-up: ${stderr}`);
      try {
        const res = await fetch(`http://127.0.0.1:${monitorPort}/healthz`);
        if (res.ok) {
          child = proc;
          return;
        }
      } catch {
        /* not listening yet */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    await kill(proc);
    throw new Error(`nats-server not healthy after 10 s: ${stderr}`);
  };

  let lastError: unknown;
  for (let tries = 0; tries < 5 && !child; tries++) {
    port = await freePort();
    monitorPort = await freePort();
    try {
      await launch();
    } catch (err) {
      lastError = err;
    }
  }
  if (!child) {
    rmSync(root, { recursive: true, force: true });
    throw lastError;
  }

  let stopped = false;
  const handle: NatsHandle = {
    url: `nats://127.0.0.1:${port}`,
    port,
    monitorUrl: `http://127.0.0.1:${monitorPort}`,
    storeDir: join(root, 'js'),
    get pid() {
      return child?.pid ?? -1;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await handle.stopServer();
      rmSync(root, { recursive: true, force: true });
    },
    async stopServer() {
      const proc = child;
      child = null;
      if (proc) await kill(proc);
    },
    async startServer() {
      if (child) return;
      await launch();
    },
  };
  return handle;
}

async function kill(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

process.once('exit', () => {
  for (const proc of children) proc.kill('SIGKILL');
});
