/**
 * Which IP addresses a user-supplied URL may reach (reliability.md B9). Pure: no DNS, no
 * sockets; the fetcher calls `refusedReason()` on EVERY address a host name resolves to, and
 * on IP literals, before it connects.
 *
 * Why an allow-list for IPv6 and a deny-list for IPv4:
 * - IPv6 global unicast is exactly 2000::/3; everything else (loopback, ULA fc00::/7 incl. the
 *   EC2 metadata fd00:ec2::254, link-local fe80::/10, multicast, discard, site-local …) is
 *   refused by construction, so an overlooked range fails closed.
 * - IPv4 has no such prefix, so the IANA special-purpose registry's non-global ranges are
 *   listed one by one below.
 * - Forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4
 *   2002::/16) are judged by the embedded address: `[::ffff:127.0.0.1]` is loopback.
 * - Decimal/octal/hex literal tricks (`2130706433`, `0x7f.1`, `0177.0.0.1`, `127.1`) never
 *   reach this module as such: the WHATWG URL parser already canonicalises them to
 *   `127.0.0.1`. `parseIp()` accepts only canonical dotted-quad/IPv6 text, so anything else
 *   is a host name and goes through DNS — whose answers are checked here.
 *
 * `allowPrivate` (development, the embedded single-user mode) lifts the private/loopback/
 * link-local refusals, but NOT the cloud metadata endpoints: reaching 169.254.169.254 from
 * an image URL is never what a user means. `allowCidrs` can still open those explicitly.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface AddressPolicy {
  /** Allow private, loopback, link-local, CGNAT and other non-global ranges (not cloud metadata). Default false. */
  allowPrivate?: boolean;
  /** CIDRs allowed even though a built-in rule refuses them (e.g. an internal image host). Default none. */
  allowCidrs?: readonly string[];
  /** Extra CIDRs refused even when public or `allowPrivate` (e.g. the cluster's pod/service ranges). Default none. */
  denyCidrs?: readonly string[];
}

export interface ParsedIp {
  version: 4 | 6;
  /** 32 or 128 bits. */
  value: bigint;
}

export interface Cidr {
  version: 4 | 6;
  base: bigint;
  prefix: number;
}

/** Canonical IPv4 dotted quad or IPv6 text (brackets allowed) → bits; null for anything else. */
export function parseIp(text: string): ParsedIp | null {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(s)) return { version: 4, value: ipv4Bits(s) };
  if (isIPv6(s) && !s.includes('%')) return { version: 6, value: ipv6Bits(s) };
  return null;
}

/** `10.0.0.0/8`, `fc00::/7`, or a bare address (a /32 or /128). Throws on a malformed CIDR. */
export function parseCidr(text: string): Cidr {
  const [addr, len, extra] = text.trim().split('/');
  const ip = parseIp(addr);
  const width = ip?.version === 4 ? 32 : 128;
  const prefix = len === undefined ? width : Number(len);
  if (!ip || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > width || (len !== undefined && !/^\d+$/.test(len))) {
    throw new RangeError(`invalid CIDR ${JSON.stringify(text)}`);
  }
  return { version: ip.version, base: ip.value, prefix };
}

export function cidrContains(cidr: Cidr, ip: ParsedIp): boolean {
  if (cidr.version !== ip.version) return false;
  const shift = BigInt((ip.version === 4 ? 32 : 128) - cidr.prefix);
  return ip.value >> shift === cidr.base >> shift;
}

/**
 * Why the address must not be connected to (a short range name such as `loopback`,
 * `private`, `link-local (cloud metadata)`), or null when it may be. Throws RangeError for a
 * string that is not an IP address.
 */
export function refusedReason(address: string, policy: AddressPolicy = {}): string | null {
  const ip = parseIp(address);
  if (!ip) throw new RangeError(`not an IP address: ${JSON.stringify(address)}`);
  const compiled = compilePolicy(policy);
  if (compiled.deny.some((c) => cidrContains(c, ip))) return 'denied by configuration';
  if (compiled.allow.some((c) => cidrContains(c, ip))) return null;
  const builtIn = builtInReason(ip);
  if (builtIn === null) return null;
  if (policy.allowPrivate && !builtIn.metadata) return null;
  return builtIn.reason;
}

// ---- built-in ranges --------------------------------------------------------------------

interface Range {
  cidr: Cidr;
  reason: string;
  metadata?: boolean;
}

const range = (cidr: string, reason: string, metadata = false): Range => ({ cidr: parseCidr(cidr), reason, metadata });

/** Cloud instance-metadata endpoints: refused even with allowPrivate. */
const METADATA: Range[] = [
  range('169.254.169.254/32', 'link-local (cloud metadata)', true), // AWS, GCP, Azure, OpenStack …
  range('169.254.170.2/32', 'link-local (cloud metadata)', true), // AWS ECS task metadata
  range('100.100.100.200/32', 'cloud metadata', true), // Alibaba Cloud
  range('fd00:ec2::254/128', 'unique-local (cloud metadata)', true), // AWS IPv6 IMDS
];

/** IANA IPv4 special-purpose registry, the entries that are not globally reachable. */
const IPV4_REFUSED: Range[] = [
  range('0.0.0.0/8', 'this-network (0.0.0.0/8)'),
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'shared address space (CGNAT)'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'IETF protocol assignments'),
  range('192.0.2.0/24', 'documentation'),
  range('192.88.99.0/24', '6to4 relay anycast'),
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'benchmarking'),
  range('198.51.100.0/24', 'documentation'),
  range('203.0.113.0/24', 'documentation'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'), // includes 255.255.255.255
];

const IPV6_GLOBAL_UNICAST = parseCidr('2000::/3');
/** Names for the common non-global IPv6 ranges (anything outside 2000::/3 is refused anyway). */
const IPV6_NAMED: Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'site-local (deprecated)'),
  range('fc00::/7', 'unique-local (private)'),
  range('ff00::/8', 'multicast'),
  range('100::/64', 'discard-only'),
  range('64:ff9b:1::/48', 'local-use NAT64'),
  range('::/96', 'IPv4-compatible (deprecated)'),
];
/** Inside 2000::/3 but not globally reachable. */
const IPV6_REFUSED_IN_GLOBAL: Range[] = [
  range('2001::/23', 'IETF protocol assignments (incl. Teredo)'),
  range('2001:db8::/32', 'documentation'),
  range('3fff::/20', 'documentation'),
];

const IPV4_MAPPED = parseCidr('::ffff:0:0/96');
const NAT64 = parseCidr('64:ff9b::/96');
const SIX_TO_FOUR = parseCidr('2002::/16');

function builtInReason(ip: ParsedIp): { reason: string; metadata: boolean } | null {
  const hit = (ranges: Range[]) => ranges.find((r) => cidrContains(r.cidr, ip));
  const meta = hit(METADATA);
  if (meta) return { reason: meta.reason, metadata: true };
  if (ip.version === 4) {
    const r = hit(IPV4_REFUSED);
    return r ? { reason: r.reason, metadata: false } : null;
  }
  // Forms that carry an IPv4 address are judged by it (the packet goes to that IPv4 host).
  const embedded = embeddedIpv4(ip);
  if (embedded) {
    const inner = builtInReason(embedded.ip);
    return inner ? { reason: `${embedded.form} ${inner.reason}`, metadata: inner.metadata } : null;
  }
  if (!cidrContains(IPV6_GLOBAL_UNICAST, ip)) {
    const r = hit(IPV6_NAMED);
    return { reason: r ? r.reason : 'reserved (not global unicast)', metadata: false };
  }
  const r = hit(IPV6_REFUSED_IN_GLOBAL);
  return r ? { reason: r.reason, metadata: false } : null;
}

function embeddedIpv4(ip: ParsedIp): { ip: ParsedIp; form: string } | null {
  if (cidrContains(IPV4_MAPPED, ip)) return { ip: { version: 4, value: ip.value & 0xffffffffn }, form: 'IPv4-mapped' };
  if (cidrContains(NAT64, ip)) return { ip: { version: 4, value: ip.value & 0xffffffffn }, form: 'NAT64' };
  if (cidrContains(SIX_TO_FOUR, ip)) return { ip: { version: 4, value: (ip.value >> 80n) & 0xffffffffn }, form: '6to4' };
  return null;
}

// ---- parsing ----------------------------------------------------------------------------

function ipv4Bits(s: string): bigint {
  return s.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

/** Expects text that net.isIPv6 accepted (`::` compression, optional dotted-quad tail). */
function ipv6Bits(s: string): bigint {
  let text = s.toLowerCase();
  // A dotted-quad tail becomes two hex groups.
  const quad = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (quad) {
    const v = ipv4Bits(quad[1]);
    text = `${text.slice(0, quad.index)}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, null];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const fill = tail === null ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...fill, ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

// Policies are small and built once per fetcher; compiling per call keeps this module stateless.
const compiledCache = new WeakMap<AddressPolicy, { allow: Cidr[]; deny: Cidr[] }>();
function compilePolicy(policy: AddressPolicy): { allow: Cidr[]; deny: Cidr[] } {
  let c = compiledCache.get(policy);
  if (!c) {
    c = { allow: (policy.allowCidrs ?? []).map(parseCidr), deny: (policy.denyCidrs ?? []).map(parseCidr) };
    compiledCache.set(policy, c);
  }
  return c;
}
