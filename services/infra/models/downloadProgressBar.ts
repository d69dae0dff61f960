// A console progress bar for model downloads (Fooocus prints one through torch.hub's tqdm).
// On a terminal it redraws one line (`\r`) at most every `minIntervalMs`; in a log (not a TTY:
// containers, CI) it prints one line per 10 % instead, so logs stay readable.
import type { DownloadProgress } from './downloadModel.ts';

export interface ProgressBarOptions {
  /** Where to draw. Default process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Shown after the numbers, e.g. the file name. */
  label: string;
  /** Default 200 ms. */
  minIntervalMs?: number;
  /** Clock (ms); default Date.now. */
  now?: () => number;
}

export interface ProgressBar {
  update(p: DownloadProgress): void;
  /** Draws the final state and ends the line. */
  done(): void;
}

export function createProgressBar(options: ProgressBarOptions): ProgressBar {
  const stream = options.stream ?? process.stderr;
  const now = options.now ?? Date.now;
  const interval = options.minIntervalMs ?? 200;
  const tty = Boolean(stream.isTTY);
  const started = now();
  let last: DownloadProgress | null = null;
  let lastDraw = -Infinity;
  let lastDecile = -1;
  const line = (p: DownloadProgress) => formatProgressLine(p, (now() - started) / 1000, options.label, tty ? Math.min(stream.columns ?? 80, 120) : 80);
  return {
    update(p) {
      last = p;
      if (tty) {
        if (now() - lastDraw < interval) return;
        lastDraw = now();
        stream.write(`\r${line(p)}`);
        return;
      }
      const decile = p.total ? Math.floor((p.received / p.total) * 10) : -1;
      if (decile > lastDecile) {
        lastDecile = decile;
        stream.write(`${line(p)}\n`);
      }
    },
    done() {
      if (!last) return;
      if (tty) stream.write(`\r${line(last)}\n`);
      else if (lastDecile < 10) stream.write(`${line(last)}\n`);
    },
  };
}

/** `[#####-----]  48.0%  1.2 GiB / 2.5 GiB  35.0 MiB/s  ETA 38s  label`, fitted to `width`. */
export function formatProgressLine(p: DownloadProgress, elapsedSeconds: number, label: string, width = 80): string {
  const fetched = p.received - p.resumedFrom;
  const rate = elapsedSeconds > 0 ? fetched / elapsedSeconds : 0;
  const parts: string[] = [];
  if (p.total) {
    const fraction = Math.min(1, p.received / p.total);
    const cells = 20;
    const full = Math.round(fraction * cells);
    parts.push(`[${'#'.repeat(full)}${'-'.repeat(cells - full)}]`, `${(fraction * 100).toFixed(1).padStart(5)}%`, `${formatBytes(p.received)} / ${formatBytes(p.total)}`);
  } else {
    parts.push(formatBytes(p.received));
  }
  parts.push(`${formatBytes(rate)}/s`);
  if (p.total && rate > 0 && p.received < p.total) parts.push(`ETA ${formatDuration((p.total - p.received) / rate)}`);
  if (p.resumedFrom > 0) parts.push(`(resumed at ${formatBytes(p.resumedFrom)})`);
  const text = `${parts.join('  ')}  ${label}`;
  return text.length > width ? `${text.slice(0, width - 1)}…` : text;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
