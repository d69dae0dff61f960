import { describe, expect, it } from 'vitest';
import { parseWebhookSecret, signWebhook, standardWebhookHeaders } from './webhookSignature.ts';

describe('Standard Webhooks signing', () => {
  it('reproduces the specification test vector', () => {
    const key = parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw');
    expect(signWebhook(key, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}')).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('accepts the secret with or without whsec_, refuses non-base64', () => {
    expect(parseWebhookSecret('MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')).toEqual(parseWebhookSecret('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'));
    expect(() => parseWebhookSecret('whsec_')).toThrow(RangeError);
    expect(() => parseWebhookSecret('whsec_not base64!')).toThrow(RangeError);
  });

  it('sends the signature header only with a key', () => {
    expect(standardWebhookHeaders('evt_1', 10, '{}', null)).toEqual({ 'webhook-id': 'evt_1', 'webhook-timestamp': '10' });
    expect(standardWebhookHeaders('evt_1', 10, '{}', Buffer.from('k'))['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
  });
});
