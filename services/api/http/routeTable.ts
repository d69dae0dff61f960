/**
 * The route table: every route is declared once (method, Express path, error style, whether
 * it needs X-API-KEY) and registered from here, so path matching for Starlette's
 * `redirect_slashes` (307) and 405 uses the same list the router does.
 *
 * Order of checks per request, as in FooocusAPI (api-contract §0.1): path match (404 / 405 /
 * 307) → body parse (422 json_invalid) → API key (403) → validation (422). Routes therefore
 * list their body parser before `auth` themselves; this module adds the error style first
 * and `requireApiKey` where `auth` is true and no parser comes first.
 */
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import { setErrorStyle, type ErrorStyle } from './errorStyle.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

export interface RouteDef {
  method: HttpMethod;
  /** Express 5 path: `/tasks/:task_id`, `/outputs/*path`. Exact, trailing slash significant. */
  path: string;
  style: ErrorStyle;
  /** Protected by X-API-KEY (api-contract §0.1 list). */
  auth: boolean;
  /**
   * Middleware that must run before the API-key check (body parsing, to give FastAPI's
   * 422-before-403 order).
   */
  beforeAuth?: RequestHandler[];
  handlers: RequestHandler[];
}

export interface RouteGroup {
  routes: RouteDef[];
}

/** Registers routes; returns the matcher for the slash-redirect / 405 fallback. */
export function registerRoutes(app: Express, groups: readonly RouteGroup[], authMiddleware: RequestHandler): PathMatcher {
  const matcher = new PathMatcher();
  for (const group of groups) {
    for (const route of group.routes) {
      const chain: RequestHandler[] = [setErrorStyle(route.style), ...(route.beforeAuth ?? [])];
      if (route.auth) chain.push(authMiddleware);
      chain.push(...route.handlers);
      app[route.method](route.path, ...chain);
      matcher.add(route.method, route.path);
    }
  }
  return matcher;
}

export class PathMatcher {
  private entries: { method: string; regex: RegExp }[] = [];

  add(method: string, path: string): void {
    this.entries.push({ method: method.toUpperCase(), regex: pathToRegex(path) });
  }

  /** Methods registered for a path (HEAD counts as GET). Empty: no route has this path. */
  methodsFor(path: string): string[] {
    return [...new Set(this.entries.filter((e) => e.regex.test(path)).map((e) => e.method))];
  }
}

function pathToRegex(path: string): RegExp {
  const pattern = path
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) return '[^/]+';
      if (segment.startsWith('*')) return '.+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}$`);
}

/**
 * The fallback after all routes (Starlette semantics): a path no route has, whose other
 * trailing-slash variant some route has, is redirected with 307 (method and body kept) to
 * that variant as an absolute URL from the request's scheme and Host — before auth. A path
 * that exists for other methods is 405; anything else 404 `{"detail":"Not Found"}`.
 */
export function slashRedirectAndNotFound(matcher: PathMatcher) {
  return (req: Request, res: Response, _next: NextFunction) => {
    const path = req.path;
    const methods = matcher.methodsFor(path);
    if (methods.length > 0) {
      const allow = methods.includes('GET') ? [...methods, 'HEAD'] : methods;
      res.status(405).set('Allow', allow.join(', ')).json({ detail: 'Method Not Allowed' });
      return;
    }
    if (path !== '/') {
      const other = path.endsWith('/') ? path.replace(/\/+$/, '') : `${path}/`;
      if (other !== '' && matcher.methodsFor(other).length > 0) {
        const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
        res.redirect(307, `${req.protocol}://${req.get('host')}${other}${query}`);
        return;
      }
    }
    res.status(404).json({ detail: 'Not Found' });
  };
}
