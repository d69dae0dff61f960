// One attempt at one claimed task: ARCHITECTURE.md "A task's life" steps 3–4, from the
// `started` event to the settled message. Every way it can end, and what it leaves behind:
//
//   finished / stopped   outputs uploaded under attempt-scoped keys → fenced complete →
//                        `finished` event → ack (LAST: a crash before it redelivers, and the
//                        redelivery's claim misses, so nothing runs twice)
//   complete matched no row (a stale attempt: requeued and re-claimed, or canceled)
//                        → delete our outputs, ack; never publish a terminal event (I2, I4)
//   lease lost           heartbeat/progress write returned false mid-run → abort the engine
//                        within a step, delete outputs, ack
//   bad task             invalid input, missing model, unsupported feature → fail
//                        (invalid_input | model_missing) → `failed` event → term
//   transient fault      blob store error, engine crash, anything unknown → release the
//                        attempt (running → queued) and nak with backoff; on the last allowed
//                        delivery fail with worker_crash → `failed` → term (B7)
//   time limit           the attempt ran past TASK_TIMEOUT_MS → abort within a step, delete
//                        outputs, fail with `timeout` → `failed` event → term (not retried)
//   shutdown             stop({ graceMs }) ran out → abort, delete outputs, release with a
//                        fresh dispatch that is published at once, ack
//
// Heartbeats run on their own timer (B5): a slow step or a blocked engine thread cannot
// starve the lease, and a false heartbeat is how cancellation and requeues reach us (B6).
// Events are published strictly in order through one promise chain; progress ticks that
// pile up behind a slow publish are coalesced to the latest (as FooocusAPI drops
// intermediate previews under load, §3.3). Previews come from the engine as JPEG and are
// re-encoded to PNG: the contract's preview is a PNG (`data:image/png;base64,…`).
import type { Logger } from 'pino';
import sharp from 'sharp';
import type { BlobStore, DispatchMessage, Dispatcher, EventBus, TaskStore } from '../core/ports.ts';
import type { GenerationJob } from '../core/request/generationJob.ts';
import type { ControlAction, TaskEvent } from '../core/task/taskEvents.ts';
import type { Task, TaskError, TaskOutput } from '../core/task/taskRecord.ts';
import { EngineAbortedError } from '../engine/io/engineErrors.ts';
import type {
  GeneratedImage, GenerateOptions, GenerationProgress, InpaintPrepareRequest, PreparedInpaint, TextToImageJob, UpscaledImage, UpscaleImageOptions,
} from '../engine/job.ts';
import type { RgbImage } from '../engine/upscale/tiledUpscale.ts';
import type { ModelStore } from '../infra/models/modelStore.ts';
import { encodeRgb8 } from '../engine/image/encodeImage.ts';
import { embedOutputMetadata } from './imageMetadata.ts';
import { contentTypeForFormat, outputKey } from './outputKey.ts';
import { applyPreparedInpaint, applyUpscaledImage, planTextToImage, type PlannedImage, type PlannedInpaint, type PlannedUpscale, type TextToImagePlan } from './planTextToImage.ts';
import { ProgressWriter } from './progressWriter.ts';
import { readGenerationJob } from './readGenerationJob.ts';
import { classifyFailure, hideModelPaths, TaskTimeoutError } from './taskFailure.ts';
import type { AbandonReason, WorkerMetrics } from './workerMetrics.ts';

/** What the worker needs from an engine: EngineHost's generate, upscale and prepareInpaint signatures. */
export interface ImageEngine {
  generate(job: TextToImageJob, options?: GenerateOptions): Promise<GeneratedImage[]>;
  upscale(modelPath: string, pixels: RgbImage, options?: UpscaleImageOptions): Promise<UpscaledImage>;
  prepareInpaint(request: InpaintPrepareRequest, options?: { signal?: AbortSignal }): Promise<PreparedInpaint | null>;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface AttemptContext {
  store: TaskStore;
  dispatcher: Dispatcher;
  events: EventBus;
  blobs: BlobStore;
  engine: ImageEngine;
  modelsDir: string;
  /** Model files and their hashes (image metadata). */
  modelStore: ModelStore;
  /** Fooocus' wildcards folder (WILDCARDS_DIR). */
  wildcardsDir: string;
  workerId: string;
  heartbeatIntervalMs: number;
  /** Start-to-close limit of one attempt; 0 = none. */
  taskTimeoutMs: number;
  progressIntervalMs: number;
  /** Nak delay after a transient failure of the given delivery. */
  retryDelayMs: (deliveryCount: number) => number;
  logger: Logger;
  metrics: WorkerMetrics;
  clock: Clock;
}

/**
 * Fooocus' preparation progress before sampling starts (api-contract §3.3: the
 * initialise/load/encode phases count 1, 2, 3, … and sampling spreads over the rest).
 */
const PREPARATION_PERCENT = 5;
/** Where the upscaler's progress sits in that preparation (Fooocus shows 13 of its 100 there). */
const UPSCALE_PERCENT = 3;
/** Inpaint's image stage runs before the models load. */
const INPAINT_PREPARATION_PERCENT = 1;
const TERMINAL_EMIT_TRIES = 3;

export class TaskAttempt {
  readonly taskId: string;
  readonly attempt: number;
  private readonly log: Logger;
  private readonly writer: ProgressWriter;
  private readonly claimedAt: number;
  private job: GenerationJob | null = null;
  private plan: TextToImagePlan | null = null;
  private phase: 'running' | 'finishing' = 'running';
  private stopRequested = false;
  private skipRequested = false;
  private shutdownRequested = false;
  private leaseLost = false;
  private timedOut = false;
  private deadlineTimer: NodeJS.Timeout | null = null;
  private controller: AbortController | null = null;
  /** The upscaler or inpaint's image stage is running: stop aborts it, skip does not (not an interruptible sampling). */
  private upscaling = false;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly uploaded: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private latestStep: { image: PlannedImage; progress: GenerationProgress } | null = null;
  private lastStepAt: number | null = null;
  /** Engine warnings already told (each once per attempt). */
  private readonly warned = new Set<string>();

  constructor(
    private readonly ctx: AttemptContext,
    private readonly task: Task,
    private readonly message: DispatchMessage,
  ) {
    this.taskId = task.id;
    this.attempt = task.attempt;
    this.claimedAt = ctx.clock.now();
    this.log = ctx.logger.child({ taskId: task.id, attempt: task.attempt, delivery: message.deliveryCount });
    this.writer = new ProgressWriter({
      store: ctx.store,
      message,
      taskId: task.id,
      attempt: task.attempt,
      intervalMs: ctx.progressIntervalMs,
      now: () => ctx.clock.now(),
      onLeaseLost: () => this.loseLease('progress write'),
      logger: this.log,
    });
  }

  /** FooocusAPI control for this task: stop keeps finished images; skip drops the current one. */
  control(action: ControlAction): void {
    if (this.phase !== 'running') return;
    if (action === 'stop') {
      this.log.info('stop requested');
      this.stopRequested = true;
      this.controller?.abort(new EngineAbortedError('stop'));
    } else if (this.controller && !this.upscaling) {
      this.log.info('skip requested');
      this.skipRequested = true;
      this.controller.abort(new EngineAbortedError('skip'));
    } // skip outside sampling does nothing (FooocusAPI: only interruptible sampling is skipped)
  }

  /** TASK_TIMEOUT_MS passed: abort within a step; generateImages turns it into a `timeout` failure. */
  private timeOut(): void {
    this.deadlineTimer = null;
    if (this.phase !== 'running') return;
    this.log.warn({ limitMs: this.ctx.taskTimeoutMs }, 'task time limit reached: aborting');
    this.timedOut = true;
    this.controller?.abort(new EngineAbortedError('abort'));
  }

  /** Graceful shutdown ran out of time: abort and give the task back. False if already finishing. */
  shutdown(): boolean {
    if (this.phase !== 'running') return false;
    this.log.warn('shutdown: aborting the attempt to release the task');
    this.shutdownRequested = true;
    this.controller?.abort(new EngineAbortedError('abort'));
    return true;
  }

  async execute(): Promise<void> {
    this.ctx.metrics.busy.inc();
    try {
      await this.run();
    } finally {
      this.phase = 'finishing';
      this.stopHeartbeat();
      if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
      await this.writer.close();
      this.ctx.metrics.busy.dec();
    }
  }

  private async run(): Promise<void> {
    this.publish({ type: 'started', attempt: this.attempt, workerId: this.ctx.workerId });
    this.startHeartbeat();
    if (this.ctx.taskTimeoutMs > 0) this.deadlineTimer = setTimeout(() => this.timeOut(), this.ctx.taskTimeoutMs);
    try {
      this.job = readGenerationJob(this.task.reqParams);
      this.plan = await planTextToImage(this.job, this.planOptions());
    } catch (err) {
      return await this.settleFailure(err);
    }
    if (this.plan.notes.length > 0) this.log.warn({ notes: this.plan.notes }, 'running with differences from the request');

    const outputs: TaskOutput[] = [];
    try {
      if (this.plan.inpaint) {
        const prepared = await this.runInpaintPreparation(this.plan.inpaint);
        if (prepared === undefined) return await this.finish(outputs);
        if (prepared === null) {
          // Fooocus: no mask pixel > 127 and no outpaint side → no inpaint goal, plain text-to-image.
          this.log.info('inpaint mask is empty and nothing is outpainted: running text-to-image, as Fooocus does');
          this.plan = await planTextToImage(this.job, { ...this.planOptions(), inpaintSkipped: true });
        } else {
          applyPreparedInpaint(this.plan, prepared);
        }
      }
      await this.generateImages(this.job, this.plan, outputs);
    } catch (err) {
      return await this.settleFailure(err);
    }
    await this.finish(outputs);
  }

  private planOptions() {
    return { modelsDir: this.ctx.modelsDir, modelStore: this.ctx.modelStore, wildcardsDir: this.ctx.wildcardsDir, blobs: this.ctx.blobs };
  }

  /**
   * Inpaint's image stage (Fooocus apply_inpaint up to the VAE encode): mask, outpaint, crop,
   * ESRGAN, fill, in the engine thread under this attempt's controller (stop, shutdown, a lost
   * lease and TASK_TIMEOUT_MS abort it between stages; skip does not: nothing is sampled yet).
   * Undefined when the attempt is to end without it; null when Fooocus would not inpaint.
   */
  private async runInpaintPreparation(planned: PlannedInpaint): Promise<PreparedInpaint | null | undefined> {
    if (this.stopRequested || this.leaseLost || this.shutdownRequested) return undefined;
    if (this.timedOut) throw new TaskTimeoutError(this.ctx.taskTimeoutMs);
    // Before 'Loading models ...' (generateImages), so the percentage never goes back.
    this.reportProgress({ percent: INPAINT_PREPARATION_PERCENT, message: 'Image processing ...', step: 0, total: 1 });
    const controller = new AbortController();
    this.controller = controller;
    this.upscaling = true;
    let prepared: PreparedInpaint | null;
    try {
      prepared = await this.ctx.engine.prepareInpaint(planned.request, { signal: controller.signal });
    } catch (err) {
      if (this.leaseLost || this.shutdownRequested || this.stopRequested) return undefined;
      if (this.timedOut) throw new TaskTimeoutError(this.ctx.taskTimeoutMs);
      throw err;
    } finally {
      this.controller = null;
      this.upscaling = false;
    }
    if (this.leaseLost) return undefined;
    if (prepared) {
      const { width, height } = prepared.original;
      this.log.info({ canvas: [width, height], area: prepared.area, crop: [prepared.image.width, prepared.image.height] }, 'inpaint prepared');
    }
    return prepared;
  }

  private async generateImages(job: GenerationJob, plan: TextToImagePlan, outputs: TaskOutput[]): Promise<void> {
    const { engine, blobs, clock } = this.ctx;
    const count = plan.images.length;
    // The planned jobs' steps (Upscale samples with the UOV steps).
    const stepsPerImage = plan.images[0]?.job.steps ?? job.steps;
    const percent = (stepsDone: number) => Math.floor(PREPARATION_PERCENT + (stepsDone * (100 - PREPARATION_PERCENT)) / (stepsPerImage * count));
    this.reportProgress({ percent: 2, message: 'Loading models ...', step: 0, total: stepsPerImage });

    if (plan.upscale) {
      const upscaled = await this.runUpscaler(plan.upscale);
      if (!upscaled) return;
      if (plan.upscale.directReturn) return await this.saveDirectUpscale(job, plan.upscale, upscaled, outputs);
      applyUpscaledImage(plan, upscaled);
    }

    for (const image of plan.images) {
      if (this.stopRequested || this.leaseLost || this.shutdownRequested) return;
      if (this.timedOut) throw new TaskTimeoutError(this.ctx.taskTimeoutMs);
      const i = image.index;
      this.reportProgress({ percent: percent(i * stepsPerImage), message: `Preparing task ${i + 1}/${count} ...`, step: 0, total: stepsPerImage });
      const controller = new AbortController();
      this.controller = controller;
      this.skipRequested = false;
      this.lastStepAt = null;
      let generated: GeneratedImage[];
      try {
        generated = await engine.generate(image.job, {
          signal: controller.signal,
          onProgress: (p) => this.onEngineProgress(image, p, percent(i * stepsPerImage + p.step), count),
        });
      } catch (err) {
        if (this.leaseLost || this.shutdownRequested || this.stopRequested) return;
        if (this.timedOut) throw new TaskTimeoutError(this.ctx.taskTimeoutMs);
        if (this.skipRequested && err instanceof EngineAbortedError) {
          this.log.info({ image: i }, 'image skipped');
          continue;
        }
        throw err;
      } finally {
        this.controller = null;
      }
      if (this.leaseLost) return;
      const result = generated[0];
      if (!result) throw new Error('the engine returned no image');
      this.tellWarnings(result.warnings ?? [], plan, percent((i + 1) * stepsPerImage), stepsPerImage);
      if (result.nsfw) this.log.info({ image: i }, 'black_out_nsfw: image flagged and blacked out');
      const data = embedOutputMetadata(job, image.metadata, result, (block, reason) =>
        this.log.warn({ image: i, block, reason }, 'image metadata block left out'),
      );
      const key = outputKey(this.taskId, this.attempt, i, job.output.extension, new Date(clock.now()));
      const contentType = contentTypeForFormat(result.format);
      this.reportProgress({ percent: percent((i + 1) * stepsPerImage), message: `Saving image ${i + 1}/${count} to system ...`, step: stepsPerImage, total: stepsPerImage });
      this.uploaded.push(key);
      await blobs.put(key, data, contentType);
      outputs.push({ key, seed: image.seed.toString(), finishReason: 'SUCCESS', contentType });
    }
  }

  /**
   * Upscale's first stage (Fooocus apply_upscale): ESRGAN, then the planned resize (and, for a
   * direct return, black_out_nsfw), in the engine thread under this attempt's controller, so
   * stop, shutdown, a lost lease and TASK_TIMEOUT_MS abort it between tiles. Null when the
   * attempt is to end without it (stopped, lease lost, shutting down).
   */
  private async runUpscaler(up: PlannedUpscale): Promise<UpscaledImage | null> {
    if (this.stopRequested || this.leaseLost || this.shutdownRequested) return null;
    if (this.timedOut) throw new TaskTimeoutError(this.ctx.taskTimeoutMs);
    // FooocusAPI's wording: (H, W) of the input.
    const message = `Upscaling image from (${up.image.height}, ${up.image.width}) ...`;
    this.reportProgress({ percent: UPSCALE_PERCENT, message, step: 0, total: 1 });
    const controller = new AbortController();
    this.controller = controller;
    this.upscaling = true;
    let upscaled: UpscaledImage;
    try {
      upscaled = await this.ctx.engine.upscale(up.modelPath, up.image, {
        signal: controller.signal,
        resize: up.size.resize,
        ...(up.blackOutNsfw ? { blackOutNsfw: up.blackOutNsfw } : {}),
        onProgress: (p) => this.reportProgress({ percent: UPSCALE_PERCENT, message, step: p.tile, total: p.tiles }),
      });
    } catch (err) {
      if (this.leaseLost || this.shutdownRequested || this.stopRequested) return null;
      if (this.timedOut) throw new TaskTimeoutError(this.ctx.taskTimeoutMs);
      throw err;
    } finally {
      this.controller = null;
      this.upscaling = false;
    }
    if (this.leaseLost) return null;
    this.log.info(
      { from: [up.image.width, up.image.height], to: [upscaled.width, upscaled.height], scale: upscaled.scale, factor: up.goal.factor, directReturn: up.directReturn },
      'image upscaled',
    );
    return upscaled;
  }

  /**
   * Fast, or a target shape ceil above 2800: the upscaled image is the task's one result,
   * encoded in the request's format without generation metadata (Fooocus writes none into it).
   */
  private async saveDirectUpscale(job: GenerationJob, up: PlannedUpscale, upscaled: UpscaledImage, outputs: TaskOutput[]): Promise<void> {
    if (upscaled.nsfw) this.log.info('black_out_nsfw: upscaled image flagged and blacked out');
    const data = await encodeRgb8(upscaled.data, upscaled.width, upscaled.height, { format: job.output.format });
    const key = outputKey(this.taskId, this.attempt, 0, job.output.extension, new Date(this.ctx.clock.now()));
    const contentType = contentTypeForFormat(job.output.format);
    this.reportProgress({ percent: 100, message: 'Saving image to system ...', step: 1, total: 1 });
    this.uploaded.push(key);
    await this.ctx.blobs.put(key, data, contentType);
    outputs.push({ key, seed: up.seed, finishReason: 'SUCCESS', contentType });
  }

  /**
   * What the engine says the user should know (a LoRA skipped or matching nothing of the
   * model): logged, and told to the client as a progress message (SSE and the task row), each
   * once, with model names instead of server paths.
   */
  private tellWarnings(warnings: readonly string[], plan: TextToImagePlan, percent: number, total: number): void {
    for (const raw of warnings) {
      const warning = hideModelPaths(raw, plan.pathNames);
      if (this.warned.has(warning)) continue;
      this.warned.add(warning);
      this.log.warn({ warning }, 'engine warning');
      this.reportProgress({ percent, message: `Warning: ${warning}`, step: total, total });
    }
  }

  private async finish(outputs: TaskOutput[]): Promise<void> {
    this.phase = 'finishing';
    this.stopHeartbeat();
    if (this.leaseLost) return await this.abandon('lease_lost');
    if (this.shutdownRequested) return await this.release();
    // The last progress is on the row, and every progress event is out, before the terminal write.
    await this.chain;
    await this.writer.flush();
    const stopped = this.stopRequested;
    const done = await this.ctx.store.complete(this.taskId, this.attempt, outputs, { stopped });
    if (!done) return await this.abandon('stale');
    this.recordTerminal(done.status);
    this.log.info({ status: done.status, images: outputs.length }, 'task completed');
    await this.emitTerminal(stopped ? { type: 'finished', results: outputs, stopped: true } : { type: 'finished', results: outputs });
    await this.message.ack();
  }

  private async settleFailure(err: unknown): Promise<void> {
    this.phase = 'finishing';
    this.stopHeartbeat();
    this.controller?.abort(new EngineAbortedError('abort'));
    if (this.leaseLost) return await this.abandon('lease_lost');
    if (this.shutdownRequested) return await this.release();
    const failure = classifyFailure(err, this.plan?.pathNames ?? new Map());
    await this.deleteUploaded();
    if (failure.kind === 'unrecoverable') {
      this.log.info({ code: failure.error.code, reason: failure.error.message }, 'task cannot run: failing it');
      return await this.failTask(failure.error);
    }
    this.log.warn({ err }, 'attempt failed (transient)');
    const { deliveryCount, maxDeliver } = this.message;
    if (maxDeliver > 0 && deliveryCount >= maxDeliver) {
      return await this.failTask({
        code: 'worker_crash',
        message: `no worker finished the task in ${deliveryCount} deliveries; last error: ${failure.message}`,
      });
    }
    const released = await this.ctx.store.release(this.taskId, this.attempt, { redispatch: false }).catch((releaseErr: unknown) => {
      // The row stays running; the redelivery's claim will miss and the reconciler requeues
      // it once the heartbeat is stale.
      this.log.error({ err: releaseErr }, 'could not release the attempt for a retry');
      return undefined;
    });
    if (released === null) return await this.abandon('stale');
    this.ctx.metrics.attemptsAbandoned.inc({ reason: 'retry' satisfies AbandonReason });
    const delayMs = this.ctx.retryDelayMs(deliveryCount);
    this.log.info({ delayMs }, 'released for a retry');
    await this.message.nak(delayMs);
  }

  private async failTask(error: TaskError): Promise<void> {
    await this.chain;
    const failed = await this.ctx.store.fail(this.taskId, this.attempt, error);
    if (failed) {
      this.recordTerminal('failed');
      await this.emitTerminal({ type: 'failed', error });
    } else {
      this.ctx.metrics.attemptsAbandoned.inc({ reason: 'stale' satisfies AbandonReason });
    }
    await this.message.term(error.message);
  }

  /** Graceful shutdown: give the task back with a fresh dispatch, published now if possible. */
  private async release(): Promise<void> {
    await this.deleteUploaded();
    const released = await this.ctx.store.release(this.taskId, this.attempt, { redispatch: true });
    if (!released) return await this.abandon('stale');
    this.ctx.metrics.attemptsAbandoned.inc({ reason: 'released' satisfies AbandonReason });
    if (released.outbox) {
      try {
        await this.ctx.dispatcher.publish(this.taskId, released.outbox.attempt);
        await this.ctx.store.markOutboxSent([released.outbox.id]);
      } catch (err) {
        this.log.warn({ err }, 'publishing the released task failed; the outbox relay will publish it');
      }
    }
    this.log.info('task released for another worker');
    await this.message.ack();
  }

  /** This attempt no longer owns the task: its outputs are orphans. Ack, never nak (I2). */
  private async abandon(reason: Extract<AbandonReason, 'lease_lost' | 'stale'>): Promise<void> {
    await this.deleteUploaded();
    this.ctx.metrics.attemptsAbandoned.inc({ reason });
    this.log.warn({ reason }, 'attempt no longer owns the task: outputs discarded');
    await this.message.ack();
  }

  private async deleteUploaded(): Promise<void> {
    if (this.uploaded.length === 0) return;
    const keys = this.uploaded.splice(0);
    await this.ctx.blobs.delete(keys).catch((err) => this.log.warn({ err, keys }, 'could not delete discarded outputs (orphans)'));
  }

  private recordTerminal(status: string): void {
    this.ctx.metrics.tasksFinished.inc({ status });
    this.ctx.metrics.taskDuration.observe({ status }, (this.ctx.clock.now() - this.claimedAt) / 1000);
  }

  // ---- lease --------------------------------------------------------------------------

  private startHeartbeat(): void {
    const { store, heartbeatIntervalMs } = this.ctx;
    const tick = async () => {
      this.heartbeatTimer = null;
      if (this.phase !== 'running') return;
      try {
        if (!(await store.heartbeat(this.taskId, this.attempt))) this.loseLease('heartbeat');
      } catch (err) {
        this.log.warn({ err }, 'heartbeat failed (continuing)');
      }
      await this.message.working().catch((err) => this.log.warn({ err }, 'working() failed'));
      if (this.phase === 'running') this.heartbeatTimer = setTimeout(tick, heartbeatIntervalMs);
    };
    this.heartbeatTimer = setTimeout(tick, heartbeatIntervalMs);
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
  }

  private loseLease(source: string): void {
    if (this.leaseLost) return;
    this.leaseLost = true;
    this.log.warn({ source }, 'lease lost (task canceled, requeued or taken over): stopping');
    this.controller?.abort(new EngineAbortedError('abort'));
  }

  // ---- progress and events --------------------------------------------------------------

  private onEngineProgress(image: PlannedImage, progress: GenerationProgress, percent: number, count: number): void {
    const now = this.ctx.clock.now();
    if (this.lastStepAt !== null) this.ctx.metrics.engineStep.observe((now - this.lastStepAt) / 1000);
    this.lastStepAt = now;
    const queued = this.latestStep !== null;
    this.latestStep = { image, progress: { ...progress, percent } };
    if (queued) return; // coalesced into the tick already waiting in the chain
    this.enqueue(async () => {
      const latest = this.latestStep;
      this.latestStep = null;
      if (!latest) return;
      const p = latest.progress;
      const preview = p.preview ? await previewPng(p.preview).catch(() => undefined) : undefined;
      const message = `Sampling step ${p.step}/${p.steps}, image ${latest.image.index + 1}/${count} ...`;
      await this.ctx.events.emit(this.taskId, { type: 'progress', step: p.step, total: p.steps, percent: p.percent, message, ...(preview ? { preview } : {}) });
      this.writer.report({ percent: p.percent, message, step: p.step, total: p.steps }, preview);
    });
  }

  private reportProgress(progress: { percent: number; message: string; step: number; total: number }): void {
    this.enqueue(async () => {
      await this.ctx.events.emit(this.taskId, { type: 'progress', ...progress });
      this.writer.report(progress);
    });
  }

  private publish(event: TaskEvent): void {
    this.enqueue(async () => {
      await this.ctx.events.emit(this.taskId, event);
    });
  }

  /** Runs `work` after everything queued before it; a failed publish is logged, not fatal. */
  private enqueue(work: () => Promise<void>): void {
    this.chain = this.chain.then(work).catch((err) => this.log.warn({ err }, 'event publish failed (continuing)'));
  }

  /** The one terminal event (I4), after every earlier event; retried briefly — Postgres already has the outcome. */
  private async emitTerminal(event: TaskEvent): Promise<void> {
    await this.chain;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.ctx.events.emit(this.taskId, event);
        return;
      } catch (err) {
        if (attempt >= TERMINAL_EMIT_TRIES) {
          this.log.error({ err, event: event.type }, 'terminal event not published; clients fall back to the task row');
          return;
        }
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }
}

/** Engine previews are JPEG; the contract's preview is PNG base64 without a `data:` prefix. */
async function previewPng(jpeg: Uint8Array): Promise<string> {
  const png = await sharp(jpeg).png({ compressionLevel: 3 }).toBuffer();
  return png.toString('base64');
}
