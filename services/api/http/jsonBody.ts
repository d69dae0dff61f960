/**
 * Request bodies with FastAPI's rules (api-contract §0.1, §1), so the 422s a FooocusAPI
 * client sees are the same:
 *
 * - The body is read as raw bytes up to `limit` (413 problem beyond it; FooocusAPI has no
 *   limit, reliability.md case 15 wants one) and only then interpreted.
 * - It is parsed as JSON when Content-Type is `application/json`, `application/*+json`, or
 *   ABSENT (FooocusAPI's own examples post `data=json.dumps(...)` without a type). Any other
 *   type leaves the body as text, which then fails validation as a non-object (422
 *   `model_attributes_type`), exactly as pydantic does with raw bytes.
 * - Malformed JSON is 422 `json_invalid` at `["body", <char offset>]` with Python's decoder
 *   message in `ctx.error`. It runs BEFORE auth: FastAPI decodes the body before running the
 *   router's API-key dependency, so a bad body with a bad key is a 422, not a 403.
 * - An empty body is 422 `missing` at `["body"]`.
 *
 * The parsed value is left in `req.body`; `undefined` means "no body".
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ValidationError } from '../../core/errors.ts';
import { HttpError } from './httpError.ts';

export function jsonBody(options: { limit: number }) {
  const raw = express.raw({ type: () => true, limit: options.limit });
  return [
    (req: Request, res: Response, next: NextFunction) => {
      raw(req, res, (err?: unknown) => {
        if (!err) return next();
        const e = err as { type?: string; status?: number };
        if (e.type === 'entity.too.large') {
          return next(new HttpError('payload-too-large', 413, `The request body exceeds ${options.limit} bytes.`, { cause: err }));
        }
        next(err);
      });
    },
    (req: Request, _res: Response, next: NextFunction) => {
      const bytes: Buffer | undefined = Buffer.isBuffer(req.body) ? req.body : undefined;
      if (!bytes || bytes.length === 0) {
        req.body = undefined;
        return next();
      }
      const text = bytes.toString('utf8');
      if (!isJsonContentType(req.get('content-type'))) {
        req.body = text;
        return next();
      }
      try {
        req.body = JSON.parse(text);
        next();
      } catch (cause) {
        const { pos, error } = locateJsonError(text);
        next(
          new ValidationError(
            [{ type: 'json_invalid', loc: ['body', pos], msg: 'JSON decode error', input: {}, ctx: { error } }],
            { cause },
          ),
        );
      }
    },
  ];
}

/** FastAPI: JSON when the header is absent, or application/json, or application/<x>+json. */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined || header.trim() === '') return true;
  const mediaType = header.split(';', 1)[0].trim().toLowerCase();
  const [main, sub] = mediaType.split('/', 2);
  return main === 'application' && sub !== undefined && (sub === 'json' || sub.endsWith('+json'));
}

/** A body that is required but absent: FastAPI's 422 `missing` at `["body"]`. */
export function missingBody(): ValidationError {
  return new ValidationError([{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }]);
}

/**
 * Where Python's json.loads would fail on `text`, with its message. JSON.parse in Node 20
 * reports no offset, so a small scanner re-reads the text (only on the error path).
 */
export function locateJsonError(text: string): { pos: number; error: string } {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  class Fail {
    constructor(
      readonly pos: number,
      readonly error: string,
    ) {}
  }
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === '{') return object();
    if (c === '[') return array();
    if (c === '"') return string();
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    for (const lit of ['true', 'false', 'null', 'NaN', 'Infinity', '-Infinity']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    throw new Fail(i, 'Expecting value');
  };
  const object = () => {
    i++;
    ws();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      ws();
      if (text[i] !== '"') throw new Fail(i, 'Expecting property name enclosed in double quotes');
      string();
      ws();
      if (text[i] !== ':') throw new Fail(i, "Expecting ':' delimiter");
      i++;
      value();
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      if (text[i] !== ',') throw new Fail(i, "Expecting ',' delimiter");
      i++;
      ws();
      if (text[i] === '}') throw new Fail(i, 'Illegal trailing comma before end of object');
    }
  };
  const array = () => {
    i++;
    ws();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      value();
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      if (text[i] !== ',') throw new Fail(i, "Expecting ',' delimiter");
      i++;
      ws();
      if (text[i] === ']') throw new Fail(i, 'Illegal trailing comma before end of array');
    }
  };
  const string = () => {
    const start = i;
    i++;
    while (i < text.length) {
      const c = text[i];
      if (c === '"') {
        i++;
        return;
      }
      if (c === '\\') {
        const e = text[i + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Fail(i + 1, 'Invalid \\uXXXX escape');
          i += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) throw new Fail(i, 'Invalid \\escape');
        i += 2;
        continue;
      }
      if (c < ' ') throw new Fail(i, 'Invalid control character at');
      i++;
    }
    throw new Fail(start, 'Unterminated string starting at');
  };
  const number = () => {
    const m = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m || m[0] === '-') throw new Fail(i, 'Expecting value');
    i += m[0].length;
  };
  try {
    value();
    ws();
    if (i < text.length) return { pos: i, error: 'Extra data' };
    // The scanner accepted what JSON.parse refused (NaN/Infinity are Python-only literals).
    return { pos: 0, error: 'Expecting value' };
  } catch (e) {
    if (e instanceof Fail) return { pos: e.pos, error: e.error };
    throw e;
  }
}
