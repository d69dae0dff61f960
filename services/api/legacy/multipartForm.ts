/**
 * Reading a `multipart/form-data` body (the old project's v1 routes, §8.1) with busboy and
 * explicit limits, entirely in memory: image files are at most MAX_IMAGE_BYTES each (the same
 * limit URL/base64 inputs have), at most `maxFiles` files, small text fields, and the whole body
 * at most MAX_BODY_BYTES. Anything over a limit is a 413 (problem+json, like the JSON routes);
 * a body that is not multipart at all reads as an empty form, so the route's own validation
 * answers 422 for its missing fields, as FastAPI does. A malformed multipart body is a 422 too.
 */
import busboy from 'busboy';
import type { Request } from 'express';
import { ValidationError } from '../../core/errors.ts';
import { HttpError } from '../http/httpError.ts';

export interface FormFile {
  bytes: Buffer;
  mimeType: string;
  filename: string;
}

export interface MultipartForm {
  /** Every value of each text field, in order (FastAPI `List[str]` fields repeat the name). */
  fields: Map<string, string[]>;
  /** The first non-empty file of each file field (browsers send an empty part for "no file"). */
  files: Map<string, FormFile>;
}

export interface MultipartLimits {
  /** Per file (MAX_IMAGE_BYTES). */
  maxFileBytes: number;
  /** Whole request (MAX_BODY_BYTES). */
  maxBodyBytes: number;
  /** Files per request. Default 8 (input_image, input_mask, cn_img1..4 and spare). */
  maxFiles?: number;
  /** Text fields per request. Default 200. */
  maxFields?: number;
  /** Bytes per text field. Default 1 MiB (advanced_params / loras JSON are far smaller). */
  maxFieldBytes?: number;
}

export function isMultipart(req: Request): boolean {
  return /^multipart\/form-data\b/i.test(req.get('content-type') ?? '');
}

export async function readMultipartForm(req: Request, limits: MultipartLimits): Promise<MultipartForm> {
  const form: MultipartForm = { fields: new Map(), files: new Map() };
  if (!isMultipart(req)) {
    req.resume();
    return form;
  }
  const declared = Number(req.get('content-length'));
  if (Number.isFinite(declared) && declared > limits.maxBodyBytes) throw tooLarge(`The request body exceeds ${limits.maxBodyBytes} bytes.`);

  return await new Promise<MultipartForm>((resolve, reject) => {
    let failed = false;
    let total = 0;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain, so the error response can be written
      reject(err);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        limits: {
          fileSize: limits.maxFileBytes,
          files: limits.maxFiles ?? 8,
          fields: limits.maxFields ?? 200,
          fieldSize: limits.maxFieldBytes ?? 1024 * 1024,
          parts: (limits.maxFiles ?? 8) + (limits.maxFields ?? 200),
        },
      });
    } catch (cause) {
      // Malformed Content-Type (no boundary): nothing readable, like an empty form.
      req.resume();
      void cause;
      resolve(form);
      return;
    }
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limits.maxBodyBytes) fail(tooLarge(`The request body exceeds ${limits.maxBodyBytes} bytes.`));
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(tooLarge(`Form field ${name} exceeds ${limits.maxFieldBytes ?? 1024 * 1024} bytes.`));
      const list = form.fields.get(name) ?? [];
      list.push(value);
      form.fields.set(name, list);
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('limit', () => fail(tooLarge(`File ${name} exceeds ${limits.maxFileBytes} bytes (MAX_IMAGE_BYTES).`)));
      stream.on('close', () => {
        const bytes = Buffer.concat(chunks);
        if (bytes.length > 0 && !form.files.has(name)) form.files.set(name, { bytes, mimeType: info.mimeType, filename: info.filename ?? '' });
      });
    });
    parser.on('filesLimit', () => fail(tooLarge(`At most ${limits.maxFiles ?? 8} files per request.`)));
    parser.on('fieldsLimit', () => fail(tooLarge(`At most ${limits.maxFields ?? 200} form fields per request.`)));
    parser.on('partsLimit', () => fail(tooLarge('Too many form parts.')));
    parser.on('error', (err) =>
      fail(new ValidationError([{ type: 'value_error', loc: ['body'], msg: `Malformed multipart body: ${(err as Error).message}` }], { cause: err })),
    );
    parser.on('close', () => {
      if (!failed) resolve(form);
    });
    req.pipe(parser);
  });
}

function tooLarge(message: string): HttpError {
  return new HttpError('payload-too-large', 413, message);
}
