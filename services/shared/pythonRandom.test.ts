import { describe, expect, it } from 'vitest';
import { PythonRandom } from './pythonRandom.ts';

// Reference values printed by CPython 3.11: `r = random.Random(seed)` then, in this order,
// [r.getrandbits(32) for _ in range(3)], r.getrandbits(70), r.random(),
// [r._randbelow(n) for n in (1, 2, 3, 277, 1000, 2**31 + 11)].
const VECTORS = [
  { seed: '0', first3: [3626764237, 1654615998, 3255389356], bits70: '44651664552134903426', random: 0.25891675029296335, below: [0, 1, 1, 244, 366, 938204377] },
  { seed: '1', first3: [577090037, 2444712010, 3639700191], bits70: '87876131233047068208', random: 0.2550690257394217, below: [0, 1, 1, 194, 807, 901749037] },
  { seed: '42', first3: [2746317213, 478163327, 107420369], bits70: '281774556622676705531', random: 0.22321073814882275, below: [0, 0, 2, 216, 32, 127978094] },
  { seed: '4294967295', first3: [2728839433, 2661025012, 872737089], bits70: '619946490732541427625', random: 0.29133552762158776, below: [0, 1, 2, 143, 363, 2135565362] },
  { seed: '4294967296', first3: [485306839, 1508871100, 1794561286], bits70: '18754368855442318546', random: 0.6117214625782752, below: [0, 1, 0, 70, 77, 1860411164] },
  { seed: '3122306864379792082', first3: [1664633270, 2636666144, 1389956964], bits70: '738615072260323775477', random: 0.63736539031576, below: [0, 1, 0, 82, 358, 870920113] },
  { seed: '6289709461860950326', first3: [3269026815, 2327999467, 3443930876], bits70: '1121271663163086930856', random: 0.6304497701862505, below: [0, 1, 0, 227, 890, 2133267391] },
  { seed: '9223372036854775807', first3: [1359979423, 2819855560, 2711238091], bits70: '586672025797419050848', random: 0.45346382341714553, below: [0, 1, 0, 184, 632, 404363245] },
  { seed: '123456789012345678901234567890', first3: [3124625047, 947073620, 685135262], bits70: '608960456152844417998', random: 0.2693001103046382, below: [0, 0, 1, 134, 693, 292270949] },
];

// `random.Random(seed).choice(list(range(277)))` — the "Random Style" draw over 277 styles.
const CHOICE_277: [string, number][] = [
  ['0', 197], ['1', 68], ['2', 28], ['3', 121], ['42', 57], ['1234', 225],
  ['6289709461860950326', 54], ['9223372036854775807', 162],
];

describe('PythonRandom (CPython random.Random compatible)', () => {
  it.each(VECTORS)('matches CPython output streams for seed $seed', (v) => {
    const r = new PythonRandom(BigInt(v.seed));
    expect([0, 1, 2].map(() => Number(r.getrandbits(32)))).toEqual(v.first3);
    expect(r.getrandbits(70).toString()).toBe(v.bits70);
    expect(r.random()).toBe(v.random);
    expect([1, 2, 3, 277, 1000, 2 ** 31 + 11].map((n) => r.randbelow(n))).toEqual(v.below);
  });

  it.each(CHOICE_277)('choice over 277 items for seed %s picks index %i', (seed, index) => {
    const items = Array.from({ length: 277 }, (_, i) => i);
    expect(new PythonRandom(BigInt(seed)).choice(items)).toBe(index);
  });

  it('seeds with abs(seed) like CPython', () => {
    expect(new PythonRandom(-5n).getrandbits(32)).toBe(new PythonRandom(5n).getrandbits(32));
  });

  it('accepts number seeds', () => {
    expect(new PythonRandom(42).getrandbits(32)).toBe(2746317213n);
  });

  it('refuses to choose from an empty sequence', () => {
    expect(() => new PythonRandom(1n).choice([])).toThrow(RangeError);
  });
});
