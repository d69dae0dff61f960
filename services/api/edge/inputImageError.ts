/**
 * Why an input image was refused. It IS a ValidationError (code `validation_error`), so the
 * compat routes answer FastAPI's 422 `{"detail":[…]}` with `loc` naming the request field
 * (`["body","controlnet_image",1,"cn_img"]`) without any special case, and the one error
 * mapper stays exhaustive. Native routes can use `problem` and `status` for problem+json
 * (ecosystem.md A7: `…/problems/input-url-blocked`, `…/image-too-large`; reliability.md
 * fault cases 13–15: blocked URL → 422, oversized/bomb → 413).
 *
 * `input` is never the base64 data (it may be megabytes); for URLs it is the redacted URL.
 */
import { ValidationError, type ValidationIssue } from '../../core/errors.ts';

export type InputImageProblem =
  /** The URL's scheme or address is refused (SSRF policy). 422. */
  | 'input-url-blocked'
  /** The URL could not be fetched (DNS, connection, HTTP status, timeout, redirects). 422. */
  | 'input-fetch-failed'
  /** Bytes or pixels over the limit (incl. decompression bombs). 413. */
  | 'image-too-large'
  /** Not base64, not an image, an unsupported or animated format, corrupt data. 422. */
  | 'invalid-image';

/** Request-relative location of the field, e.g. `['controlnet_image', 1, 'cn_img']`. */
export type FieldLoc = readonly (string | number)[];

export class InputImageError extends ValidationError {
  /** The problem type (the last segment of a native problem+json `type`). */
  readonly problem: InputImageProblem;
  /** Suggested HTTP status for native routes: 413 for image-too-large, else 422. */
  readonly status: 413 | 422;

  constructor(problem: InputImageProblem, issues: ValidationIssue[], options: { cause?: unknown } = {}) {
    super(issues, { cause: options.cause });
    this.problem = problem;
    this.status = problem === 'image-too-large' ? 413 : 422;
  }

  /** One issue for one field. `type` is a pydantic-style error type (`image_too_large`, …). */
  static forImageField(
    problem: InputImageProblem,
    loc: FieldLoc,
    type: string,
    msg: string,
    extra: { input?: unknown; ctx?: Record<string, unknown>; cause?: unknown } = {},
  ): InputImageError {
    const issue: ValidationIssue = { type, loc: ['body', ...loc], msg: `${fieldName(loc)}: ${msg}` };
    if (extra.input !== undefined) issue.input = extra.input;
    if (extra.ctx) issue.ctx = extra.ctx;
    return new InputImageError(problem, [issue], { cause: extra.cause });
  }
}

/** `['controlnet_image', 1, 'cn_img']` → `controlnet_image[1].cn_img`. */
export function fieldName(loc: FieldLoc): string {
  if (loc.length === 0) return 'image';
  return loc.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
