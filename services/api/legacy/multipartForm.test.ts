// readMultipartForm over a real HTTP request (Express app, fetch with FormData): the limits
// named in docs/compat.md end in a 413 HttpError, a malformed body in a 422 ValidationError,
// a body that is not multipart reads as an empty form, and a good form keeps its parts.
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.ts';
import { HttpError } from '../http/httpError.ts';
import { readMultipartForm, type MultipartLimits } from './multipartForm.ts';

const LIMITS: MultipartLimits = { maxFileBytes: 1_000, maxBodyBytes: 20_000, maxFiles: 2, maxFields: 5, maxFieldBytes: 200 };

let base: string;
let close: () => Promise<void>;

beforeAll(async () => {
  const app = express();
  app.post('/form', async (req, res) => {
    try {
      const form = await readMultipartForm(req, LIMITS);
      res.json({
        fields: Object.fromEntries(form.fields),
        files: Object.fromEntries([...form.files].map(([k, f]) => [k, { size: f.bytes.length, mimeType: f.mimeType, filename: f.filename }])),
      });
    } catch (err) {
      if (err instanceof HttpError) res.status(err.status).json({ kind: 'http', message: err.message });
      else if (err instanceof ValidationError) res.status(422).json({ kind: 'validation', message: err.message });
      else res.status(500).json({ kind: 'other', message: String(err) });
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  close = () => new Promise((r) => server.close(() => r()));
});
afterAll(() => close());

const post = (body: FormData | Blob | string, headers: Record<string, string> = {}) => fetch(`${base}/form`, { method: 'POST', body, headers });
const file = (bytes: number) => new Blob([new Uint8Array(bytes).fill(7)], { type: 'image/png' });

describe('readMultipartForm limits', () => {
  it('keeps text fields (repeated names in order) and the first non-empty file of each name', async () => {
    const form = new FormData();
    form.append('style_selections', 'a');
    form.append('style_selections', 'b');
    form.append('input_image', file(500), 'in.png');
    const res = await post(form);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ fields: { style_selections: ['a', 'b'] }, files: { input_image: { size: 500, mimeType: 'image/png', filename: 'in.png' } } });
  });

  it.each([
    ['a file over maxFileBytes', () => { const f = new FormData(); f.append('input_image', file(1_001), 'big.png'); return f; }, /input_image exceeds 1000 bytes/],
    ['more files than maxFiles', () => { const f = new FormData(); for (let i = 0; i < 3; i++) f.append(`cn_img${i + 1}`, file(10), 'x.png'); return f; }, /At most 2 files/],
    ['more fields than maxFields', () => { const f = new FormData(); for (let i = 0; i < 6; i++) f.append(`f${i}`, 'x'); return f; }, /At most 5 form fields/],
    ['a field over maxFieldBytes', () => { const f = new FormData(); f.append('advanced_params', 'x'.repeat(201)); return f; }, /advanced_params exceeds 200 bytes/],
  ])('%s is a 413 naming the limit', async (_name, build, message) => {
    const res = await post(build());
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ kind: 'http', message: expect.stringMatching(message) });
  });

  it('a body over maxBodyBytes is a 413 before it is read', async () => {
    const res = await post(new Blob([new Uint8Array(25_000)]), { 'content-type': 'multipart/form-data; boundary=x' });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ kind: 'http', message: expect.stringMatching(/request body exceeds 20000 bytes/) });
  });

  it('a malformed multipart body is a 422, not a 500', async () => {
    const res = await post('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\nvalue-without-closing-boundary', { 'content-type': 'multipart/form-data; boundary=x' });
    expect(res.status).toBe(422);
    expect(((await res.json()) as { kind: string }).kind).toBe('validation');
  });

  it('a body that is not multipart reads as an empty form (the route then answers 422 for its missing fields)', async () => {
    const res = await post('{"input_image":"x"}', { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ fields: {}, files: {} });
  });
});
