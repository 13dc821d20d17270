import { Bitfield } from "../../src/util/bitfield.js";

/** A small seeded PRNG (mulberry32), uniform in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A bitfield of `n` bits with the given indices set. */
export function bits(n: number, ones: Iterable<number>): Bitfield {
  const b = new Bitfield(n);
  for (const i of ones) b.set(i);
  return b;
}

export function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i < b; i++) out.push(i);
  return out;
}
