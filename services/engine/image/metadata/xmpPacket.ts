/**
 * An XMP packet with the generation metadata, for JPEG (APP1) and WebP ("XMP " chunk).
 *
 * Fooocus writes no XMP; we add it because XMP is UTF-8 and so keeps prompts that the EXIF
 * ASCII copy cannot (see exifTiff.ts), and because XMP is what image managers index. The
 * parameters go in the standard `exif:UserComment` (a language alternative, x-default), the
 * version in `xmp:CreatorTool`, the scheme in our own `fooocus:scheme` property.
 *
 * XML 1.0 cannot carry most C0 control characters even escaped; they are written as U+FFFD.
 * '\r' is written as a character reference so XML end-of-line normalisation keeps it.
 */

/** Namespace of the `fooocus:` properties this project writes. */
export const FOOOCUS_XMP_NAMESPACE = 'urn:fooocus-cloud:xmp:1.0#';

export interface XmpFields {
  parameters: string;
  scheme: string;
  software: string;
}

export function buildXmpPacket(fields: XmpFields): string {
  return [
    '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    `  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:exif="http://ns.adobe.com/exif/1.0/" xmlns:fooocus="${FOOOCUS_XMP_NAMESPACE}">`,
    `   <xmp:CreatorTool>${escapeXml(fields.software)}</xmp:CreatorTool>`,
    `   <exif:UserComment><rdf:Alt><rdf:li xml:lang="x-default">${escapeXml(fields.parameters)}</rdf:li></rdf:Alt></exif:UserComment>`,
    `   <fooocus:scheme>${escapeXml(fields.scheme)}</fooocus:scheme>`,
    '  </rdf:Description>',
    ' </rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="w"?>',
  ].join('\n');
}

/** Reads back what buildXmpPacket writes (other XMP yields the properties it has). */
export function readXmpPacket(xmp: string): Partial<XmpFields> {
  const out: Partial<XmpFields> = {};
  const comment = /<exif:UserComment>\s*<rdf:Alt>\s*<rdf:li[^>]*>([\s\S]*?)<\/rdf:li>/.exec(xmp);
  if (comment) out.parameters = unescapeXml(comment[1]);
  const scheme = /<fooocus:scheme>([\s\S]*?)<\/fooocus:scheme>/.exec(xmp);
  if (scheme) out.scheme = unescapeXml(scheme[1]);
  const tool = /<xmp:CreatorTool>([\s\S]*?)<\/xmp:CreatorTool>/.exec(xmp);
  if (tool) out.software = unescapeXml(tool[1]);
  return out;
}

function escapeXml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#xD;')
    // XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e];
  });
}
