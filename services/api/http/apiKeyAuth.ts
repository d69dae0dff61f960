/**
 * X-API-KEY authentication (api-contract §0.1, reliability.md B11).
 *
 * - Several keys, each kept only as its sha256 digest (from API_KEYS, hashed at start-up, or
 *   given as digests in API_KEY_SHA256). The presented key is hashed and compared against
 *   EVERY digest with crypto.timingSafeEqual on equal-length (32-byte) buffers: no early
 *   exit, no length leak, and timingSafeEqual never throws on a length mismatch.
 * - No keys configured ⇒ auth disabled (FooocusAPI without --apikey).
 * - Failure is FooocusAPI's exact 403 `{"detail":"Forbidden"}` (never 401), raised as an
 *   AuthError so the one error mapper renders it.
 * - The key id (`key_` + first 12 hex of the digest) becomes the task owner, which scopes
 *   Idempotency-Key per tenant (A10). The key itself is never logged or stored.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AuthError } from '../../core/errors.ts';

export interface ApiKeyVerifier {
  /** True when at least one key is configured. */
  readonly enabled: boolean;
  /** The key id for a valid key, null for a missing or wrong one. */
  verify(presented: string | undefined): string | null;
}

const HEX_DIGEST = /^[0-9a-f]{64}$/i;

export function createApiKeyVerifier(options: { keys?: readonly string[]; sha256Digests?: readonly string[] }): ApiKeyVerifier {
  const digests: Buffer[] = [];
  for (const key of options.keys ?? []) digests.push(sha256(key));
  for (const hex of options.sha256Digests ?? []) {
    if (!HEX_DIGEST.test(hex)) throw new Error('API_KEY_SHA256 entries must be 64 hex characters (a sha256 digest)');
    digests.push(Buffer.from(hex, 'hex'));
  }
  return {
    enabled: digests.length > 0,
    verify(presented) {
      if (presented === undefined) return null;
      const candidate = sha256(presented);
      let match: Buffer | null = null;
      for (const d of digests) {
        // Every digest is compared; the result is only read after the loop.
        if (timingSafeEqual(candidate, d) && match === null) match = d;
      }
      return match ? keyId(match) : null;
    },
  };
}

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

function keyId(digest: Buffer): string {
  return `key_${digest.toString('hex').slice(0, 12)}`;
}

/**
 * Express middleware for protected routes: sets `res.locals.owner` (key id or null when auth
 * is disabled) or fails with AuthError (403 `{"detail":"Forbidden"}`).
 */
export function requireApiKey(verifier: ApiKeyVerifier) {
  return (req: Request, res: Response, next: NextFunction) => {
    if (!verifier.enabled) {
      res.locals.owner = null;
      next();
      return;
    }
    const owner = verifier.verify(req.get('x-api-key'));
    if (owner === null) {
      next(new AuthError());
      return;
    }
    res.locals.owner = owner;
    next();
  };
}
