import { describe, expect, it } from 'vitest';
import { assertBlobKey, InvalidBlobKeyError } from './blobKey.ts';

describe('assertBlobKey', () => {
  it.each(['outputs/2024-07-05/2024-07-05_09-31-10_1752.png', 'inputs/0f3a.png', 'tasks/abc/2/0.png', 'a', 'dots..in..name.png', '.hidden'])(
    'accepts %j',
    (key) => expect(assertBlobKey(key)).toBe(key),
  );

  it.each(['', '/abs.png', '../up.png', 'a/../../up.png', 'a/..', '.', 'a/./b', 'a//b', 'a/', 'a\\b', 'a\nb', 'a\u0000', 'C:/x', 'x'.repeat(1025)])(
    'refuses %j',
    (key) => expect(() => assertBlobKey(key)).toThrow(InvalidBlobKeyError),
  );
});
