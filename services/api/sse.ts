/**
 * Server-sent events with FooocusAPI's framing (api-contract §3.1, produced there by
 * sse-starlette from `f"{json.dumps(obj)}\n"`):
 *
 *   id: 1720142470123000\r\n            (only with event ids on; sse-starlette's field order)
 *   data: {"progress": 13, "preview": null, "message": "...", "images": []}\r\n
 *   data: \r\n                           (the payload's trailing newline: an empty data line)
 *   \r\n
 *
 * keep-alive comments `: ping - 2024-07-05 01:31:10.123456+00:00\r\n\r\n` every 15 s, headers
 * `text/event-stream; charset=utf-8`, `Cache-Control: no-store`, `X-Accel-Buffering: no`.
 *
 * Additions for resumption (ecosystem.md A9): `id:` is the bus envelope's per-task seq, so a
 * client that reconnects to GET /tasks/{id}/events with `Last-Event-ID: n` gets exactly the
 * events after n (EventBus.subscribe({ afterSeq: n })); one leading `retry:` block sets the
 * reconnection delay. A block with only `retry:` dispatches no event, and `id:` lines are
 * ignored by clients that read only `data:` lines, as they already skip pings and the empty
 * data line. Both can be turned off (SSE_EVENT_IDS=false) for byte-exact FooocusAPI framing.
 *
 * The hub tracks open streams so a SIGTERM drain can tell each client to come back
 * (`retry:`) and end it; the task itself is never affected by a stream closing.
 */
import type { Request, Response } from 'express';

const CRLF = '\r\n';

export interface SseStreamOptions {
  /** Keep-alive comment period. Default 15 000 ms. */
  pingMs?: number;
  /** Send `retry:` first and `id:` per event. Default true. */
  eventIds?: boolean;
  /** The `retry:` value. Default 3000 ms. */
  retryMs?: number;
  now?: () => Date;
}

export interface SseStream {
  /** A FooocusAPI event: `payload` is the JSON text (without the trailing newline). */
  send(payload: string, id?: number): void;
  comment(text: string): void;
  /** Ends the response (idempotent). */
  end(): void;
  /** True once the client went away or end() was called. */
  readonly closed: boolean;
  /** Called once when the stream closes for any reason. */
  onClose(fn: () => void): void;
}

export class SseHub {
  private streams = new Set<{ stream: SseStream; res: Response }>();
  private draining = false;

  constructor(private readonly defaults: Required<Pick<SseStreamOptions, 'pingMs' | 'eventIds' | 'retryMs'>>) {}

  get size(): number {
    return this.streams.size;
  }

  /** Starts an event-stream response (status 200, headers flushed). */
  open(req: Request, res: Response, headers: Record<string, string> = {}, options: SseStreamOptions = {}): SseStream {
    const opts = { ...this.defaults, ...options };
    const now = options.now ?? (() => new Date());
    res.status(200);
    res.set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
      ...headers,
    });
    res.flushHeaders();
    req.socket.setNoDelay(true);

    let closed = false;
    const closeFns: (() => void)[] = [];
    const write = (text: string) => {
      if (!closed) res.write(text);
    };
    const entry = { stream: undefined as unknown as SseStream, res };
    const finish = () => {
      if (closed) return;
      closed = true;
      clearInterval(ping);
      this.streams.delete(entry);
      for (const fn of closeFns.splice(0)) fn();
    };
    const ping = setInterval(() => write(`: ping - ${pythonUtcNow(now())}${CRLF}${CRLF}`), opts.pingMs);
    ping.unref();
    res.once('close', finish);

    const stream: SseStream = {
      send(payload, id) {
        const lines = `${payload}\n`.split(/\r\n|\r|\n/);
        let block = opts.eventIds && id !== undefined ? `id: ${id}${CRLF}` : '';
        for (const line of lines) block += `data: ${line}${CRLF}`;
        write(block + CRLF);
      },
      comment(text) {
        write(`: ${text}${CRLF}${CRLF}`);
      },
      end() {
        if (closed) return;
        res.end();
        finish();
      },
      get closed() {
        return closed;
      },
      onClose(fn) {
        if (closed) fn();
        else closeFns.push(fn);
      },
    };
    entry.stream = stream;
    this.streams.add(entry);
    if (opts.eventIds) write(`retry: ${opts.retryMs}${CRLF}${CRLF}`);
    if (this.draining) {
      stream.end();
    }
    return stream;
  }

  /**
   * Graceful shutdown: every open stream gets `retry: <ms>` (reconnect after that long, to
   * another replica) and is ended. New streams opened afterwards end at once.
   */
  drain(retryMs = this.defaults.retryMs): void {
    this.draining = true;
    for (const { stream, res } of [...this.streams]) {
      if (!stream.closed) res.write(`retry: ${retryMs}${CRLF}${CRLF}`);
      stream.end();
    }
  }
}

/** Python's `str(datetime.now(timezone.utc))`: `2024-07-05 01:31:10.123456+00:00`. */
export function pythonUtcNow(d: Date): string {
  const iso = d.toISOString(); // 2024-07-05T01:31:10.123Z
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000+00:00`;
}
