// Free TCP ports for test servers. We bind port 0, read the port the kernel picked and
// release it; the caller starts its server there and retries with a fresh port if another
// process grabbed it in between (the window is microseconds, but CI runs suites in parallel).
import { createServer } from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return await new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}
