/**
 * The worker-thread side of EngineHost: one Engine, jobs, upscales and inpaint preparations run one at a time
 * in arrival order (a GPU runs one job well; queueing is the worker's job).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Engine } from './engine.ts';
import type { EngineConfig } from './engineConfig.ts';
import type { FromThread, ToThread } from './engineHost.ts';
import { serializeEngineError } from './engineErrorTransport.ts';
import { EngineAbortedError } from './io/engineErrors.ts';

const port = parentPort;
if (!port) throw new Error('engineThread must run in a worker thread');

const engine = new Engine(workerData as EngineConfig);
const controllers = new Map<number, AbortController>();
let chain: Promise<void> = Promise.resolve();

const send = (m: FromThread, transfer: ArrayBuffer[] = []) => port.postMessage(m, transfer);

port.on('message', (m: ToThread) => {
  if (m.type === 'abort') {
    controllers.get(m.id)?.abort(new EngineAbortedError(m.kind));
    return;
  }
  const ac = new AbortController();
  controllers.set(m.id, ac);
  chain = chain.then(async () => {
    try {
      if (m.type === 'upscale') {
        const image = await engine.upscale(m.modelPath, m.pixels, {
          ...m.options,
          signal: ac.signal,
          onProgress: (progress) => send({ type: 'upscaleProgress', id: m.id, progress }),
        });
        // Transferred, not copied (a 4× image is large); only when it owns its whole buffer.
        const { buffer, byteOffset, byteLength } = image.data;
        const transfer = byteOffset === 0 && byteLength === buffer.byteLength && buffer instanceof ArrayBuffer ? [buffer] : [];
        send({ type: 'upscaled', id: m.id, image }, transfer);
        return;
      }
      if (m.type === 'prepareInpaint') {
        const prepared = await engine.prepareInpaint(m.request, { signal: ac.signal });
        send({ type: 'inpaintPrepared', id: m.id, prepared });
        return;
      }
      const images = await engine.generate(m.job, {
        signal: ac.signal,
        onProgress: (progress) => send({ type: 'progress', id: m.id, progress }),
      });
      send({ type: 'result', id: m.id, images });
    } catch (e) {
      send({ type: 'error', id: m.id, error: serializeEngineError(e) });
    } finally {
      controllers.delete(m.id);
    }
  });
});

send({ type: 'ready' });
