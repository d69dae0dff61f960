/**
 * Seeds. Fooocus seeds range over 0..2^63−1 (`constants.MAX_SEED`), beyond JS's exact integers,
 * so they are bigint here and decimal strings in jobs and records — never JS numbers.
 *
 *  - `resolveSeed` is FooocusAPI's `refresh_seed`: null or −1 ⇒ random; an integer in range is
 *    kept; anything else (negative, ≥ 2^63, unparsable) ⇒ random.
 *  - `imageSeeds`: image i uses (seed + i) mod 2^63, or seed for every image when
 *    `disable_seed_increment` (F modules/async_worker.py process_prompt).
 */
import { MAX_SEED, MIN_SEED, SEED_MODULUS } from './fooocusConstants.ts';

/** A source of uniformly random seeds in 0..2^63−1. */
export type SeedRandom = () => bigint;

/** Default `SeedRandom`: 63 bits from the platform CSPRNG. */
export const cryptoSeedRandom: SeedRandom = () => {
  const words = new Uint32Array(2);
  globalThis.crypto.getRandomValues(words);
  return ((BigInt(words[0]) << 32n) | BigInt(words[1])) & MAX_SEED;
};

export function resolveSeed(value: number | string | bigint | null | undefined, random: SeedRandom = cryptoSeedRandom): bigint {
  const parsed = toBigInt(value);
  if (parsed !== null && parsed !== -1n && parsed >= MIN_SEED && parsed <= MAX_SEED) return parsed;
  const r = random();
  if (r < MIN_SEED || r > MAX_SEED) throw new RangeError(`seed source returned ${r}, outside 0..2^63-1`);
  return r;
}

export function imageSeeds(seed: bigint, imageNumber: number, disableSeedIncrement: boolean): bigint[] {
  return Array.from({ length: imageNumber }, (_, i) => (disableSeedIncrement ? seed : seed + BigInt(i)) % SEED_MODULUS);
}

function toBigInt(value: number | string | bigint | null | undefined): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : null;
  const s = value.trim();
  return /^[+-]?\d+$/.test(s) ? BigInt(s) : null;
}
