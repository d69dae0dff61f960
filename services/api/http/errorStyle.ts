/**
 * Which error dialect a route speaks. FooocusAPI's routes keep FastAPI's bodies
 * (`{"detail": …}`, 422 `{"detail":[…]}`, 403 `{"detail":"Forbidden"}`) because existing clients
 * parse them; routes FooocusAPI never had answer RFC 9457 problem+json (ecosystem.md A7).
 * The route table sets it per route, before any other middleware runs, so the one error
 * mapper (errorMapper.ts) can read it from `res.locals`.
 *
 * `fooocus-v0` is the old Fooocus-API (services/api/legacy): the same FastAPI bodies, except
 * that its 422 echoes the request body (`{"detail": [...], "body": ...}`, api-contract §0.2).
 */
import type { NextFunction, Request, Response } from 'express';

export type ErrorStyle = 'fooocus' | 'fooocus-v0' | 'problem';

export function setErrorStyle(style: ErrorStyle) {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.locals.errorStyle = style;
    next();
  };
}

export function errorStyleOf(res: Response): ErrorStyle {
  const style = res.locals.errorStyle;
  return style === 'problem' || style === 'fooocus-v0' ? style : 'fooocus';
}
