/**
 * FastAPI's query-parameter parsing, shared by the routes that take typed query values:
 * absent ⇒ the default; unparseable ⇒ a 422 issue at `['query', name]` (collected by the
 * caller into one ValidationError, as FastAPI reports every bad field at once).
 */
import type { Request } from 'express';
import type { ValidationIssue } from '../../core/errors.ts';
import { singleQuery } from '../routes/control.ts';

/** An int query parameter (`int_parsing` on anything but an optionally signed integer). */
export function queryInt(req: Request, name: string, def: number, issues: ValidationIssue[]): number {
  const raw = singleQuery(req, name);
  if (raw === undefined) return def;
  if (!/^\s*[+-]?\d+\s*$/.test(raw)) {
    issues.push({ type: 'int_parsing', loc: ['query', name], msg: 'Input should be a valid integer, unable to parse string as an integer', input: raw });
    return def;
  }
  return Number.parseInt(raw, 10);
}

/** A bool query parameter: true/false, 1/0, yes/no, on/off, t/f, y/n (any case); else `bool_parsing`. */
export function queryBool(req: Request, name: string, def: boolean, issues: ValidationIssue[]): boolean {
  const raw = singleQuery(req, name);
  if (raw === undefined) return def;
  const s = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on', 't', 'y'].includes(s)) return true;
  if (['0', 'false', 'no', 'off', 'f', 'n'].includes(s)) return false;
  issues.push({ type: 'bool_parsing', loc: ['query', name], msg: 'Input should be a valid boolean, unable to interpret input', input: raw });
  return def;
}
