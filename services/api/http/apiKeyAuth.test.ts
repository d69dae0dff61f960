import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createApiKeyVerifier } from './apiKeyAuth.ts';

describe('API key verifier (sha256 digests, constant-time compare)', () => {
  const digest = (k: string) => createHash('sha256').update(k).digest('hex');

  it('accepts every configured key, given plain or as a digest, and names it by a digest prefix', () => {
    const v = createApiKeyVerifier({ keys: ['alpha'], sha256Digests: [digest('beta')] });
    expect(v.enabled).toBe(true);
    expect(v.verify('alpha')).toBe(`key_${digest('alpha').slice(0, 12)}`);
    expect(v.verify('beta')).toBe(`key_${digest('beta').slice(0, 12)}`);
  });

  it('refuses missing, wrong, wrong-length and empty keys without throwing', () => {
    const v = createApiKeyVerifier({ keys: ['alpha'] });
    for (const k of [undefined, '', 'alph', 'alpha ', 'x'.repeat(10_000)]) expect(v.verify(k)).toBeNull();
  });

  it('is disabled without keys, and rejects a malformed digest at start-up', () => {
    expect(createApiKeyVerifier({}).enabled).toBe(false);
    expect(() => createApiKeyVerifier({ sha256Digests: ['abc'] })).toThrow(/64 hex/);
  });
});
