import { describe, expect, it } from 'vitest';
import { pythonJsonDumps } from './pythonJson.ts';

describe('pythonJsonDumps (json.dumps defaults)', () => {
  it('uses ", " and ": " separators and keeps key order', () => {
    expect(pythonJsonDumps({ progress: 13, preview: null, message: 'Preparing task 1/1 ...', images: [] })).toBe(
      '{"progress": 13, "preview": null, "message": "Preparing task 1/1 ...", "images": []}',
    );
    expect(pythonJsonDumps({ a: [1, 'b', true, { c: false }] })).toBe('{"a": [1, "b", true, {"c": false}]}');
  });

  it('escapes non-ASCII like ensure_ascii=True (×, é, emoji as a surrogate pair, DEL)', () => {
    expect(pythonJsonDumps('1152×896 café 🦊\u007f')).toBe('"1152\\u00d7896 caf\\u00e9 \\ud83e\\udd8a\\u007f"');
    expect(pythonJsonDumps('line\nbreak "q" \\')).toBe('"line\\nbreak \\"q\\" \\\\"');
  });
});
