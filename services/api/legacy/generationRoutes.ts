/**
 * Fooocus-API (old) generation routes over the shared submit path (routes/generate.ts
 * `submitGeneration`): same validation, normalisation, input-image storage, task + outbox
 * transaction and bus-driven wait as `/v1/engine/generate/`. Only the request mapping
 * (legacyRequest.ts, legacyForm.ts) and the answers (legacyResponses.ts) differ.
 *
 * Response mode (§8.3): `accept` = `?accept=` query, else the Accept header; exactly
 * `image/png` ⇒ binary, BUT `async_process: true` wins (the async answer, image_number still 1).
 *   async   200 AsyncJobResponse (stage WAITING)
 *   sync    200 List[GeneratedImageResult]
 *   binary  200 image/png of result 0 (PNG re-encode); stopped/canceled without an image 400
 *           `USER_CANCEL`, failed 500 `ERROR`, none 500 empty (text/plain)
 *
 * JSON routes parse the body before the API-key check (FastAPI order, 422 json_invalid before
 * 403); multipart routes check the key first and only then read the upload.
 */
import type { Request, Response } from 'express';
import type { Task } from '../../core/task/taskRecord.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { ApiContext } from '../http/apiContext.ts';
import { getOrCreateCounter } from '../http/httpMetrics.ts';
import { jsonBody, missingBody } from '../http/jsonBody.ts';
import type { RouteDef } from '../http/routeTable.ts';
import { convertImage } from '../responses/imageConversion.ts';
import { singleQuery } from '../routes/control.ts';
import { submitGeneration, untilTerminal } from '../routes/generate.ts';
import { formFieldsForEcho, formToLegacyBody } from './legacyForm.ts';
import { mapLegacyRequest, type LegacyGenerationRoute } from './legacyRequest.ts';
import { asyncJobAck, generatedImageResults } from './legacyResponses.ts';
import { legacyReqParams } from './legacyTask.ts';
import { readMultipartForm } from './multipartForm.ts';

type LegacyMode = 'async' | 'sync' | 'binary';

const V2_ROUTES: readonly LegacyGenerationRoute[] = ['text-to-image-with-ip', 'image-upscale-vary', 'image-inpaint-outpaint', 'image-prompt'];
const V1_FORM_ROUTES: readonly LegacyGenerationRoute[] = ['image-upscale-vary', 'image-inpaint-outpaint', 'image-prompt'];

export function legacyGenerationRoutes(ctx: ApiContext): RouteDef[] {
  const submitted = getOrCreateCounter(
    ctx.registry,
    'fooocus_tasks_submitted_total',
    'Generation tasks accepted (a row was created), by API and response mode; idempotent repeats are not counted.',
    ['api', 'mode'],
  );

  async function submitAndAnswer(req: Request, res: Response, route: LegacyGenerationRoute, version: 1 | 2, oldBody: unknown): Promise<void> {
    const mapped = mapLegacyRequest(route, version, oldBody);
    const accept = singleQuery(req, 'accept') ?? req.get('accept');
    const wantsPng = accept === 'image/png';
    const modeOf = (r: { async_process: boolean }): LegacyMode => (r.async_process ? 'async' : wantsPng ? 'binary' : 'sync');
    const { task, request } = await submitGeneration(ctx, {
      body: mapped.body,
      parseOptions: mapped.parseOptions,
      owner: res.locals.owner ?? null,
      // Old semantics: image/png forces one image even when async wins the answer.
      binaryResponse: wantsPng,
      modeOf,
      extraReqParams: legacyReqParams({ jobType: mapped.jobType, requireBase64: mapped.requireBase64 }),
    });
    const mode = modeOf(request);
    submitted.inc({ api: 'fooocus-api-v0', mode });
    res.set('X-Task-Id', task.id);

    if (mode === 'async') {
      res.json(asyncJobAck(task));
      return;
    }
    const done = await untilTerminal(ctx, res, task);
    if (!done || res.destroyed) return;
    if (mode === 'sync') {
      res.json(await generatedImageResults(done, { publicBaseUrl: ctx.publicBaseUrl, blobs: ctx.blobs }));
      return;
    }
    await answerPng(ctx, res, done);
  }

  const json = (route: LegacyGenerationRoute, version: 1 | 2) => async (req: Request, res: Response) => {
    if (req.body === undefined) throw missingBody();
    await submitAndAnswer(req, res, route, version, req.body);
  };

  const form = (route: LegacyGenerationRoute) => async (req: Request, res: Response) => {
    const parsed = await readMultipartForm(req, { maxFileBytes: ctx.config.MAX_IMAGE_BYTES, maxBodyBytes: ctx.config.MAX_BODY_BYTES });
    res.locals.requestBody = formFieldsForEcho(parsed);
    await submitAndAnswer(req, res, route, 1, formToLegacyBody(parsed));
  };

  const parseJson = jsonBody({ limit: ctx.config.MAX_BODY_BYTES });
  return [
    { method: 'post', path: '/v1/generation/text-to-image', style: 'fooocus-v0', auth: true, beforeAuth: parseJson, handlers: [json('text-to-image', 1)] },
    ...V2_ROUTES.map(
      (route): RouteDef => ({ method: 'post', path: `/v2/generation/${route}`, style: 'fooocus-v0', auth: true, beforeAuth: parseJson, handlers: [json(route, 2)] }),
    ),
    ...V1_FORM_ROUTES.map((route): RouteDef => ({ method: 'post', path: `/v1/generation/${route}`, style: 'fooocus-v0', auth: true, handlers: [form(route)] })),
  ];
}

/** Binary answer: always a PNG re-encode of the first image (§8.3). */
async function answerPng(ctx: ApiContext, res: Response, task: Task): Promise<void> {
  const first = task.results[0];
  const blob = first ? await ctx.blobs.get(first.key) : null;
  if (blob) {
    res.status(200).type('image/png').send(await convertImage(blob.bytes, 'png'));
    return;
  }
  if (task.status === TaskStatus.failed) {
    res.status(500).type('text/plain').send('ERROR');
    return;
  }
  if (task.status === TaskStatus.stopped || task.status === TaskStatus.canceled) {
    res.status(400).type('text/plain').send('USER_CANCEL');
    return;
  }
  res.status(500).type('text/plain').send('');
}
