/**
 * `json.dumps(obj)` with Python's defaults, for the SSE stream whose lines FooocusAPI clients
 * see verbatim (api-contract §3.1): `", "` and `": "` separators, and `ensure_ascii=True`
 * (every character outside printable ASCII written as a lowercase `\uXXXX`, astral characters
 * as surrogate pairs — which is what JSON.stringify's UTF-16 strings give for free).
 * Numbers print as JavaScript prints them (an integral float shows as `100`, not `100.0`).
 */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return escapeNonAscii(JSON.stringify(value));
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : value > 0 ? 'Infinity' : value < 0 ? '-Infinity' : 'NaN';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(', ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    return `{${entries.map(([k, v]) => `${escapeNonAscii(JSON.stringify(k))}: ${pythonJsonDumps(v)}`).join(', ')}}`;
  }
  return 'null';
}

function escapeNonAscii(json: string): string {
  return json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
