/**
 * Text cleaning in front of the CLIP BPE: openai/CLIP `whitespace_clean(basic_clean(text)).lower()`.
 *
 *   basic_clean:      ftfy.fix_text → html.unescape twice → strip
 *   whitespace_clean: runs of whitespace → one space → strip
 *   then lower-case.
 *
 * ftfy has no JavaScript port. Of everything `fix_text` does, only its final Unicode NFC
 * normalisation is reproduced (golden README §2.1: "for others apply NFC normalisation"); its
 * heuristic repairs (mojibake, curly quotes, ligatures, full-width forms, control characters,
 * its own HTML pass) are not. Fooocus itself runs HF `CLIPTokenizer`, and Fooocus does not
 * install ftfy, so on a stock install those repairs do not happen there either.
 *
 * Whitespace follows Python exactly, which differs from JavaScript's `\s`: the `regex` module's
 * `\s` is Unicode White_Space (no U+FEFF, unlike JS), and `str.strip()` also strips U+001C-U+001F.
 */
import { htmlUnescape } from './htmlUnescape.ts';

/** `str.strip()` with no argument: characters for which Python's `str.isspace()` is true. */
const PY_STRIP = /^[\p{White_Space}\u001c-\u001f]+|[\p{White_Space}\u001c-\u001f]+$/gu;
const WHITESPACE_RUN = /\p{White_Space}+/gu;

export function cleanClipText(text: string): string {
  let t = text.normalize('NFC');
  t = htmlUnescape(htmlUnescape(t)).replace(PY_STRIP, '');
  t = t.replace(WHITESPACE_RUN, ' ').replace(PY_STRIP, '');
  return t.toLowerCase();
}
