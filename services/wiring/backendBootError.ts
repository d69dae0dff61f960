// A backend could not be set up at start-up. It names the setting to look at (DATABASE_URL,
// NATS_URL, S3_ENDPOINT, …) so the one log line an operator sees on a crash-looping pod says
// what to fix; credentials in URLs are redacted before they reach the message.
export class BackendBootError extends Error {
  constructor(
    /** The environment variable whose value (or the server behind it) is the problem. */
    readonly setting: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${setting}: ${message}`, options);
    this.name = 'BackendBootError';
  }
}

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; non-URLs unchanged. */
export function redactUrl(value: string): string {
  return value
    .split(',')
    .map((part) => {
      try {
        const url = new URL(part.trim());
        if (url.password) url.password = '***';
        return url.toString();
      } catch {
        return part.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
      }
    })
    .join(',');
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return code && !err.message.includes(String(code)) ? `${err.message} (${String(code)})` : err.message || err.name;
  }
  return String(err);
}
