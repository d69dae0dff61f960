import { describe, expect, it } from 'vitest';
import { parseCidr, parseIp, refusedReason } from './addressPolicy.ts';

describe('refusedReason', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['169.254.1.1', 'link-local'],
    ['100.64.0.1', 'shared address space (CGNAT)'],
    ['100.127.255.255', 'shared address space (CGNAT)'],
    ['0.0.0.0', 'this-network (0.0.0.0/8)'],
    ['0.1.2.3', 'this-network (0.0.0.0/8)'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['198.18.0.1', 'benchmarking'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'link-local'],
    ['fc00::1', 'unique-local (private)'],
    ['fd12:3456::1', 'unique-local (private)'],
    ['fd00:ec2::254', 'unique-local (cloud metadata)'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback'],
    ['0:0:0:0:0:ffff:a9fe:a9fe', 'IPv4-mapped link-local (cloud metadata)'],
    ['::ffff:10.0.0.1', 'IPv4-mapped private'],
    ['64:ff9b::7f00:1', 'NAT64 loopback'],
    ['2002:7f00:1::1', '6to4 loopback'],
    ['2001:db8::1', 'documentation'],
    ['2001:0:4136:e378::1', 'IETF protocol assignments (incl. Teredo)'],
    ['::127.0.0.1', 'IPv4-compatible (deprecated)'],
    ['100::1', 'discard-only'],
    ['4000::1', 'reserved (not global unicast)'],
  ])('refuses %s (%s)', (ip, reason) => {
    expect(refusedReason(ip)).toBe(reason);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '192.169.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2002:808:808::1', '64:ff9b::808:808'])(
    'allows the public address %s',
    (ip) => {
      expect(refusedReason(ip)).toBeNull();
    },
  );

  it('allowPrivate lifts private, loopback and link-local refusals but not cloud metadata', () => {
    const policy = { allowPrivate: true };
    expect(refusedReason('127.0.0.1', policy)).toBeNull();
    expect(refusedReason('10.0.0.1', policy)).toBeNull();
    expect(refusedReason('::1', policy)).toBeNull();
    expect(refusedReason('169.254.169.254', policy)).toBe('link-local (cloud metadata)');
    expect(refusedReason('::ffff:169.254.169.254', policy)).toBe('IPv4-mapped link-local (cloud metadata)');
    expect(refusedReason('fd00:ec2::254', policy)).toBe('unique-local (cloud metadata)');
  });

  it('allowCidrs opens a refused range; denyCidrs closes a public one and wins over allowPrivate', () => {
    expect(refusedReason('10.2.3.4', { allowCidrs: ['10.2.0.0/16'] })).toBeNull();
    expect(refusedReason('10.3.0.1', { allowCidrs: ['10.2.0.0/16'] })).toBe('private');
    expect(refusedReason('8.8.8.8', { denyCidrs: ['8.8.0.0/16'] })).toBe('denied by configuration');
    expect(refusedReason('10.96.0.1', { allowPrivate: true, denyCidrs: ['10.96.0.0/12'] })).toBe('denied by configuration');
    expect(refusedReason('fd00::1', { denyCidrs: ['fd00::/8'], allowCidrs: ['fd00::/8'] })).toBe('denied by configuration');
  });

  it('throws on a non-address and on malformed CIDRs', () => {
    expect(() => refusedReason('localhost')).toThrow(RangeError);
    expect(() => refusedReason('2130706433')).toThrow(RangeError);
    expect(() => parseCidr('10.0.0.0/33')).toThrow(RangeError);
    expect(() => parseCidr('10.0.0.0/x')).toThrow(RangeError);
    expect(() => parseCidr('nope/8')).toThrow(RangeError);
  });

  it('parses only canonical IP text (literal tricks are canonicalised by the URL parser first)', () => {
    expect(parseIp('[::1]')).toEqual({ version: 6, value: 1n });
    expect(parseIp('0x7f.1')).toBeNull();
    expect(parseIp('0177.0.0.1')).toBeNull();
    expect(new URL('http://0x7f.1/').hostname).toBe('127.0.0.1');
  });
});
