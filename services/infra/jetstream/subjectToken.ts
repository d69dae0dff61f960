// Task ids become NATS subject tokens (`<prefix>.<taskId>`, `events.<taskId>`). A token with
// '.', '*', '>' or whitespace would change which subscribers match, so refuse it loudly.
const TOKEN = /^[A-Za-z0-9_-]{1,128}$/;

export function subjectToken(value: string, what = 'task id'): string {
  if (!TOKEN.test(value)) throw new Error(`${what} is not a valid NATS subject token: ${JSON.stringify(value)}`);
  return value;
}
