import { describe, expect, it } from 'vitest';
import { isJsonContentType, locateJsonError } from './jsonBody.ts';

describe('FastAPI body rules', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['application/merge-patch+json', true],
    ['text/plain;charset=UTF-8', false],
    ['application/x-www-form-urlencoded', false],
    ['multipart/form-data; boundary=x', false],
  ])('content type %j is parsed as JSON: %s', (header, json) => {
    expect(isJsonContentType(header)).toBe(json);
  });

  it.each([
    ['{"prompt": }', 11, 'Expecting value'],
    ['{"a": 1,}', 8, 'Illegal trailing comma before end of object'],
    ["{'a': 1}", 1, 'Expecting property name enclosed in double quotes'],
    ['{"a" 1}', 5, "Expecting ':' delimiter"],
    ['{"a": 1} x', 9, 'Extra data'],
    ['[1 2]', 3, "Expecting ',' delimiter"],
    ['{"a": "b', 6, 'Unterminated string starting at'],
    ['', 0, 'Expecting value'],
  ])('malformed %j fails at char %i with Python’s message', (text, pos, error) => {
    expect(locateJsonError(text)).toEqual({ pos, error });
  });
});
