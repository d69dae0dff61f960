/**
 * Standard Webhooks signing (ecosystem.md A6; spec standard-webhooks.md):
 *   webhook-id:        the event id, stable across retries (the receiver's idempotency key, I4)
 *   webhook-timestamp: unix seconds of THIS attempt (receivers reject ±5 min, so it is fresh
 *                      on every retry and the signature is recomputed)
 *   webhook-signature: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`
 * The key is the base64 part of `whsec_<base64>` (the reference library strips the prefix
 * and base64-decodes the rest). The body is signed as the exact bytes sent — never
 * re-serialised between signing and sending.
 */
import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';

/** `whsec_<base64>` (or bare base64) → the HMAC key. Throws on an empty or non-base64 secret. */
export function parseWebhookSecret(secret: string): Buffer {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.replace(/=+$/, '').length % 4 === 1) {
    throw new RangeError('webhook secret must be whsec_ followed by base64');
  }
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new RangeError('webhook secret is empty');
  return key;
}

/** The `webhook-signature` value for one attempt: `v1,<base64>`. */
export function signWebhook(key: Buffer, id: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three Standard Webhooks headers (signature only when a key is given). */
export function standardWebhookHeaders(id: string, timestampSeconds: number, body: string, key: Buffer | null): Record<string, string> {
  const headers: Record<string, string> = { 'webhook-id': id, 'webhook-timestamp': String(timestampSeconds) };
  if (key) headers['webhook-signature'] = signWebhook(key, id, timestampSeconds, body);
  return headers;
}
