/**
 * PNG text chunks, written as Pillow's `PngInfo.add_text` writes them (what Fooocus uses for
 * `parameters` and `fooocus_scheme`): a `tEXt` chunk when the text encodes as Latin-1, else an
 * uncompressed `iTXt` with empty language and translated keyword, UTF-8. Pillow puts them
 * before the first IDAT, and so does insertPngTextChunks. sharp cannot write tEXt/iTXt, hence
 * this module (the chunk format: PNG spec §11.3.4; CRC-32 over type and data).
 */
import { inflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const TEXT_TYPES = new Set(['tEXt', 'iTXt', 'zTXt']);

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && SIGNATURE.every((b, i) => bytes[i] === b);
}

export interface PngChunk {
  type: string;
  data: Uint8Array;
}

export function readPngChunks(bytes: Uint8Array): PngChunk[] {
  if (!isPng(bytes)) throw new Error('not a PNG file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks: PngChunk[] = [];
  let pos = 8;
  while (pos + 12 <= bytes.length) {
    const length = view.getUint32(pos);
    const type = latin1(bytes.subarray(pos + 4, pos + 8));
    if (pos + 12 + length > bytes.length) throw new Error(`truncated PNG chunk ${type}`);
    chunks.push({ type, data: bytes.subarray(pos + 8, pos + 8 + length) });
    pos += 12 + length;
    if (type === 'IEND') break;
  }
  return chunks;
}

export function writePngChunks(chunks: readonly PngChunk[]): Uint8Array {
  const parts: Uint8Array[] = [SIGNATURE];
  for (const c of chunks) parts.push(encodeChunk(c.type, c.data));
  return concat(parts);
}

/**
 * Adds `entries` as text chunks before the first IDAT, replacing text chunks with the same
 * keywords (a file re-tagged keeps one value per keyword).
 */
export function insertPngTextChunks(bytes: Uint8Array, entries: readonly (readonly [keyword: string, text: string])[]): Uint8Array {
  const keywords = new Set(entries.map(([k]) => k));
  const kept = readPngChunks(bytes).filter((c) => !(TEXT_TYPES.has(c.type) && keywords.has(textKeyword(c.data))));
  const at = kept.findIndex((c) => c.type === 'IDAT');
  if (at < 0) throw new Error('PNG has no IDAT chunk');
  const text = entries.map(([k, t]) => pngTextChunk(k, t));
  return writePngChunks([...kept.slice(0, at), ...text, ...kept.slice(at)]);
}

/** Pillow `PngInfo.add_text(key, value)` (zip=False). */
export function pngTextChunk(keyword: string, text: string): PngChunk {
  if (!isLatin1(keyword) || keyword.length < 1 || keyword.length > 79) throw new Error(`invalid PNG text keyword ${JSON.stringify(keyword)}`);
  if (isLatin1(text)) return { type: 'tEXt', data: concat([Buffer.from(keyword, 'latin1'), Uint8Array.of(0), Buffer.from(text, 'latin1')]) };
  // iTXt: keyword \0, compression flag 0, method 0, language "" \0, translated keyword "" \0, UTF-8 text.
  return { type: 'iTXt', data: concat([Buffer.from(keyword, 'latin1'), Uint8Array.of(0, 0, 0, 0, 0), Buffer.from(text, 'utf8')]) };
}

/** Text chunks by keyword (first occurrence wins), decoded: tEXt/zTXt as Latin-1, iTXt as UTF-8. */
export function readPngText(bytes: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of readPngChunks(bytes)) {
    if (!TEXT_TYPES.has(c.type)) continue;
    const nul = c.data.indexOf(0);
    if (nul < 0) continue;
    const keyword = latin1(c.data.subarray(0, nul));
    if (out.has(keyword)) continue;
    let text: string;
    if (c.type === 'tEXt') {
      text = latin1(c.data.subarray(nul + 1));
    } else if (c.type === 'zTXt') {
      text = latin1(inflateSync(c.data.subarray(nul + 2)));
    } else {
      const compressed = c.data[nul + 1] === 1;
      const langEnd = c.data.indexOf(0, nul + 3);
      const tkeyEnd = c.data.indexOf(0, langEnd + 1);
      if (langEnd < 0 || tkeyEnd < 0) continue;
      const body = c.data.subarray(tkeyEnd + 1);
      text = Buffer.from(compressed ? inflateSync(body) : body).toString('utf8');
    }
    out.set(keyword, text);
  }
  return out;
}

function textKeyword(data: Uint8Array): string {
  const nul = data.indexOf(0);
  return latin1(data.subarray(0, nul < 0 ? data.length : nul));
}

function encodeChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(Buffer.from(type, 'latin1'), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO 3309 / PNG), as in PNG spec Annex D. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function isLatin1(s: string): boolean {
  return /^[\u0000-\u00ff]*$/.test(s);
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
