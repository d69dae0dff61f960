// The SSRF-safe fetcher against real HTTP servers on loopback. Loopback is refused by
// default, so the happy paths use allowPrivate (or allowCidrs for one address, where a test
// needs the REST of loopback still refused), and "sentinel" servers count the connections
// that must never happen (reliability.md fault case 13).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createUrlFetcher, type HostResolver } from './createUrlFetcher.ts';
import { UrlFetchError, type UrlFetchErrorCode } from './urlFetchError.ts';

interface TestServer {
  url: string;
  port: number;
  connections: number;
  requests: { method: string; url: string; headers: http.IncomingHttpHeaders; body: string }[];
  close(): Promise<void>;
}

const servers: TestServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(handler: http.RequestListener = (_req, res) => res.end('ok'), host = '127.0.0.1'): Promise<TestServer> {
  const server = http.createServer();
  const state: TestServer = {
    url: '',
    port: 0,
    connections: 0,
    requests: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  server.on('connection', () => state.connections++);
  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString() });
      handler(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  state.port = (server.address() as AddressInfo).port;
  state.url = `http://${host}:${state.port}`;
  servers.push(state);
  return state;
}

async function failure(promise: Promise<unknown>): Promise<UrlFetchError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(UrlFetchError);
    return err as UrlFetchError;
  }
  throw new Error('expected the fetch to fail');
}

async function expectCode(promise: Promise<unknown>, code: UrlFetchErrorCode): Promise<UrlFetchError> {
  const err = await failure(promise);
  expect(err.code, err.message).toBe(code);
  return err;
}

const fixedResolver =
  (table: Record<string, string[]>): HostResolver =>
  async (hostname) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };

describe('createUrlFetcher', () => {
  it('GETs the body, status and content type from an allowed server', async () => {
    const s = await serve((_req, res) => {
      res.setHeader('content-type', 'image/png');
      res.end(Buffer.from([1, 2, 3, 4]));
    });
    const got = await createUrlFetcher({ allowPrivate: true }).get(`${s.url}/img.png`);
    expect(got).toMatchObject({ status: 200, contentType: 'image/png', url: `${s.url}/img.png` });
    expect([...got.bytes]).toEqual([1, 2, 3, 4]);
    expect(s.requests[0].headers['user-agent']).toBe('fooocus-cloud');
  });

  it('refuses loopback by default, in every literal spelling, without connecting', async () => {
    const sentinel = await serve();
    const fetcher = createUrlFetcher({ resolve: fixedResolver({ localhost: ['127.0.0.1', '::1'], '127.0.0.1.nip.io': ['127.0.0.1'] }) });
    const p = sentinel.port;
    for (const url of [
      `http://127.0.0.1:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://127.1:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[::1]:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://localhost:${p}/`,
      `http://127.0.0.1.nip.io:${p}/`,
      'http://169.254.169.254/latest/meta-data',
      'http://[fd00:ec2::254]/latest/meta-data',
    ]) {
      const err = await expectCode(fetcher.get(url), 'address_not_allowed');
      expect(err.message).toMatch(/not allowed \(/);
    }
    expect(sentinel.connections).toBe(0);
  });

  it('refuses a name when ANY of its addresses is refused (public + private answer)', async () => {
    const fetcher = createUrlFetcher({ resolve: fixedResolver({ 'mixed.test': ['93.184.216.34', '10.0.0.5'] }) });
    const err = await expectCode(fetcher.get('http://mixed.test/x.png'), 'address_not_allowed');
    expect(err.message).toContain('10.0.0.5');
  });

  it('connects to the address it checked: a second (rebinding) DNS answer is never used', async () => {
    const s = await serve();
    let calls = 0;
    const resolve: HostResolver = async () => {
      calls++;
      // First answer: the allowed test server. Any later answer would be a refused address.
      return [{ address: calls === 1 ? '127.0.0.1' : '10.255.255.1', family: 4 }];
    };
    const fetcher = createUrlFetcher({ allowCidrs: ['127.0.0.1/32'], resolve });
    const got = await fetcher.get(`http://rebind.test:${s.port}/a`);
    expect(got.bytes.toString()).toBe('ok');
    expect(calls).toBe(1);
    expect(s.requests[0].headers.host).toBe(`rebind.test:${s.port}`);
  });

  it('follows an allowed redirect and re-checks the target of each hop', async () => {
    const sentinel = await serve(undefined, '127.0.0.2');
    const s = await serve((req, res) => {
      if (req.url === '/ok') return res.end('final');
      const to: Record<string, string> = {
        '/hop': '/ok',
        '/internal': `http://127.0.0.2:${sentinel.port}/secret`,
        '/metadata': 'http://169.254.169.254/latest/meta-data/iam',
        '/file': 'file:///etc/passwd',
      };
      res.writeHead(302, { location: to[req.url ?? ''] ?? '/ok' }).end();
    });
    // Only the first server's address is allowed: the rest of loopback stays refused.
    const fetcher = createUrlFetcher({ allowCidrs: ['127.0.0.1/32'] });
    const ok = await fetcher.get(`${s.url}/hop`);
    expect(ok).toMatchObject({ url: `${s.url}/ok`, status: 200 });
    expect(ok.bytes.toString()).toBe('final');

    const internal = await expectCode(fetcher.get(`${s.url}/internal`), 'address_not_allowed');
    expect(internal.url).toBe(`http://127.0.0.2:${sentinel.port}/secret`);
    await expectCode(fetcher.get(`${s.url}/metadata`), 'address_not_allowed');
    await expectCode(fetcher.get(`${s.url}/file`), 'scheme_not_allowed');
    expect(sentinel.connections).toBe(0);
  });

  it('stops a redirect loop after maxRedirects hops', async () => {
    const s = await serve((req, res) => res.writeHead(307, { location: req.url === '/a' ? '/b' : '/a' }).end());
    const err = await expectCode(createUrlFetcher({ allowPrivate: true, maxRedirects: 4 }).get(`${s.url}/a`), 'too_many_redirects');
    expect(err.message).toContain('more than 4 redirects');
    expect(s.requests).toHaveLength(5);
  });

  it('refuses a body whose Content-Length exceeds the cap before reading it', async () => {
    const s = await serve((_req, res) => res.writeHead(200, { 'content-length': String(5000) }).end(Buffer.alloc(5000)));
    const err = await expectCode(createUrlFetcher({ allowPrivate: true, maxBytes: 1000 }).get(s.url), 'too_large');
    expect(err.message).toContain('Content-Length 5000');
  });

  it('aborts a streamed body (no Content-Length) as soon as it passes the cap', async () => {
    let written = 0;
    let closed = false;
    const s = await serve((_req, res) => {
      res.on('close', () => (closed = true));
      const pump = () => {
        while (!closed && written < 50_000_000) {
          written += 64 * 1024;
          if (!res.write(Buffer.alloc(64 * 1024))) return res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    const err = await expectCode(createUrlFetcher({ allowPrivate: true, maxBytes: 100_000 }).get(s.url), 'too_large');
    expect(err.message).toContain('exceeds the limit of 100000 bytes');
    await new Promise((r) => setTimeout(r, 100));
    expect(closed).toBe(true);
    expect(written).toBeLessThan(50_000_000);
  });

  it('times out a body that stalls, within the overall deadline', async () => {
    const s = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(Buffer.alloc(10)); // then nothing
    });
    // The body never ends: without the overall deadline this would hang until the test times out.
    const err = await expectCode(createUrlFetcher({ allowPrivate: true, timeoutMs: 300 }).get(s.url), 'timeout');
    expect(err.message).toContain('300 ms');
  });

  it('times out a server that never answers, and honours the caller signal', async () => {
    const s = await serve(() => {});
    await expectCode(createUrlFetcher({ allowPrivate: true, timeoutMs: 200 }).get(s.url), 'timeout');
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await expectCode(createUrlFetcher({ allowPrivate: true }).get(s.url, { signal: controller.signal }), 'aborted');
  });

  it('reports non-2xx answers with their status', async () => {
    const s = await serve((_req, res) => res.writeHead(404).end('nope'));
    const err = await expectCode(createUrlFetcher({ allowPrivate: true }).get(`${s.url}/missing.png`), 'http_status');
    expect(err.status).toBe(404);
  });

  it('rejects other schemes, invalid URLs and unresolvable names with typed codes', async () => {
    const fetcher = createUrlFetcher({ resolve: fixedResolver({}) });
    await expectCode(fetcher.get('ftp://example.com/x.png'), 'scheme_not_allowed');
    await expectCode(fetcher.get('file:///etc/passwd'), 'scheme_not_allowed');
    await expectCode(fetcher.get('not a url'), 'invalid_url');
    await expectCode(fetcher.get('http://no-such-host.invalid/x.png'), 'dns_failure');
    const refused = await serve();
    await refused.close();
    servers.splice(servers.indexOf(refused), 1);
    await expectCode(createUrlFetcher({ allowPrivate: true }).get(refused.url), 'network_error');
  });

  it('never shows credentials or the query string in error messages', async () => {
    const err = await expectCode(createUrlFetcher().get('http://alice:s3cret@127.0.0.1:9/p/x.png?X-Amz-Signature=abc123'), 'address_not_allowed');
    expect(err.url).toBe('http://127.0.0.1:9/p/x.png?…');
    expect(err.message).not.toMatch(/alice|s3cret|abc123/);
  });

  it('POSTs a body without following redirects and returns any status', async () => {
    const s = await serve((req, res) => (req.url === '/moved' ? res.writeHead(302, { location: '/elsewhere' }).end() : res.writeHead(202).end('accepted')));
    const fetcher = createUrlFetcher({ allowPrivate: true });
    const ok = await fetcher.post(`${s.url}/hook`, '{"a":1}', { headers: { 'content-type': 'application/json', 'webhook-id': 'evt_1' } });
    expect(ok.status).toBe(202);
    expect(ok.bodySnippet).toBe('accepted');
    expect(s.requests[0]).toMatchObject({ method: 'POST', url: '/hook', body: '{"a":1}' });
    expect(s.requests[0].headers).toMatchObject({ 'content-type': 'application/json', 'webhook-id': 'evt_1', 'content-length': '7' });
    const moved = await fetcher.post(`${s.url}/moved`, 'x');
    expect(moved.status).toBe(302);
    expect(s.requests.map((r) => r.url)).toEqual(['/hook', '/moved']);
  });

  it('check() vets scheme and addresses without connecting', async () => {
    const sentinel = await serve();
    await expectCode(createUrlFetcher().check(`${sentinel.url}/hook`), 'address_not_allowed');
    await expectCode(createUrlFetcher().check('gopher://example.com/'), 'scheme_not_allowed');
    await expect(createUrlFetcher({ allowPrivate: true }).check(`${sentinel.url}/hook`)).resolves.toBeUndefined();
    await expect(createUrlFetcher({ resolve: fixedResolver({ 'hooks.example': ['93.184.216.34'] }) }).check('https://hooks.example/x')).resolves.toBeUndefined();
    expect(sentinel.connections).toBe(0);
  });
});
