import {
  type InitiatorOptions,
  MseInitiator,
  MseResponder,
  type MseResult,
  type ResponderOptions,
  req2Hash,
} from "../../src/mse/index.js";

/** Deterministic randomness (xorshift32) for reproducible handshakes. */
export function seeded(seed: number): (n: number) => Uint8Array {
  let x = seed >>> 0 || 1;
  return (n) => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      out[i] = x & 0xff;
    }
    return out;
  };
}

export const lookupOf = (...hashes: Uint8Array[]) => {
  const m = new Map(hashes.map((h) => [Buffer.from(req2Hash(h)).toString("hex"), h]));
  return (r: Uint8Array) => m.get(Buffer.from(r).toString("hex"));
};

/** Split `b` at the given cut sizes (cycled), at least 1 byte a piece. */
export function chunked(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  let k = 0;
  while (at < b.length) {
    const n = Math.max(1, cuts.length > 0 ? cuts[k++ % cuts.length]! : b.length);
    out.push(b.subarray(at, at + n));
    at += n;
  }
  return out;
}

export function cat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

export interface Pair {
  a: MseResult;
  b: MseResult;
  /** Bytes A's payload stream carried to B after the handshake (decrypted), and B's to A. */
}

/**
 * Run both sides against each other, delivering every message in chunks of the given sizes.
 * `afterA`/`afterB` are payload bytes each side sends right behind its last handshake message
 * (encrypted with its stream), so they arrive in the same reads as the handshake.
 */
export function runPair(
  ao: InitiatorOptions,
  bo: ResponderOptions,
  cuts: number[] = [],
  afterA = new Uint8Array(0),
  afterB = new Uint8Array(0),
): Pair & { payloadAtB: Uint8Array; payloadAtA: Uint8Array } {
  const a = new MseInitiator(ao);
  const b = new MseResponder(bo);
  let toB: Uint8Array[] = [a.start()];
  let toA: Uint8Array[] = [];
  let ra: MseResult | undefined;
  let rb: MseResult | undefined;
  const atA: Uint8Array[] = [];
  const atB: Uint8Array[] = [];
  for (let round = 0; round < 10 && (!ra || !rb || toA.length || toB.length); round++) {
    for (const c of chunked(cat(toB), cuts)) {
      if (rb) {
        atB.push(rb.decrypt ? rb.decrypt.process(c.slice()) : c);
        continue;
      }
      const s = b.receive(c);
      toA.push(...s.send);
      if (s.done) {
        rb = s.done;
        atB.push(rb.initial);
        const extra = afterB.slice();
        toA.push(rb.encrypt ? rb.encrypt.process(extra) : extra);
      }
    }
    toB = [];
    for (const c of chunked(cat(toA), cuts)) {
      if (ra) {
        atA.push(ra.decrypt ? ra.decrypt.process(c.slice()) : c);
        continue;
      }
      const s = a.receive(c);
      toB.push(...s.send);
      if (s.done) {
        ra = s.done;
        atA.push(ra.initial);
        const extra = afterA.slice();
        toB.push(ra.encrypt ? ra.encrypt.process(extra) : extra);
      }
    }
    toA = [];
  }
  if (!ra || !rb) throw new Error("handshake did not finish");
  return { a: ra, b: rb, payloadAtB: cat(atB), payloadAtA: cat(atA) };
}
