/**
 * A fixed-size bit set in BitTorrent's wire order: bit 0 is the high bit of byte 0 (BEP 3).
 * Keeps its population count so `count`/`complete` cost nothing.
 */
export class Bitfield {
  readonly length: number;
  readonly bytes: Uint8Array;
  #count = 0;

  constructor(length: number, bytes?: Uint8Array) {
    this.length = length;
    const n = (length + 7) >> 3;
    if (bytes !== undefined) {
      if (bytes.length !== n)
        throw new RangeError(`bitfield of ${bytes.length} bytes for ${length} bits`);
      this.bytes = new Uint8Array(bytes);
      for (let i = 0; i < n; i++) this.#count += popcount8(this.bytes[i]!);
    } else {
      this.bytes = new Uint8Array(n);
    }
  }

  /** A bitfield with every bit set. */
  static full(length: number): Bitfield {
    const b = new Bitfield(length);
    b.setAll();
    return b;
  }

  /** True when the spare bits after `length` in the last byte are all zero (BEP 3 requires it). */
  static spareBitsClear(length: number, bytes: Uint8Array): boolean {
    const rem = length & 7;
    if (rem === 0 || bytes.length === 0) return true;
    return (bytes[bytes.length - 1]! & (0xff >> rem)) === 0;
  }

  get count(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.length;
  }

  get empty(): boolean {
    return this.#count === 0;
  }

  has(i: number): boolean {
    return i >= 0 && i < this.length && (this.bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0;
  }

  /** Set bit `i`; returns true if it changed. */
  set(i: number): boolean {
    if (i < 0 || i >= this.length) throw new RangeError(`bit ${i} outside 0..${this.length - 1}`);
    const m = 0x80 >> (i & 7);
    const b = this.bytes[i >> 3]!;
    if (b & m) return false;
    this.bytes[i >> 3] = b | m;
    this.#count++;
    return true;
  }

  /** Clear bit `i`; returns true if it changed. */
  clear(i: number): boolean {
    if (i < 0 || i >= this.length) throw new RangeError(`bit ${i} outside 0..${this.length - 1}`);
    const m = 0x80 >> (i & 7);
    const b = this.bytes[i >> 3]!;
    if (!(b & m)) return false;
    this.bytes[i >> 3] = b & ~m;
    this.#count--;
    return true;
  }

  setAll(): void {
    this.bytes.fill(0xff);
    const rem = this.length & 7;
    if (rem !== 0) this.bytes[this.bytes.length - 1] = (0xff << (8 - rem)) & 0xff;
    this.#count = this.length;
  }

  clearAll(): void {
    this.bytes.fill(0);
    this.#count = 0;
  }

  /** Indices of set bits, in order. */
  *ones(): IterableIterator<number> {
    for (let byte = 0; byte < this.bytes.length; byte++) {
      const v = this.bytes[byte]!;
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (v & (0x80 >> bit)) yield byte * 8 + bit;
    }
  }

  clone(): Bitfield {
    return new Bitfield(this.length, this.bytes);
  }
}

function popcount8(v: number): number {
  let x = v - ((v >> 1) & 0x55);
  x = (x & 0x33) + ((x >> 2) & 0x33);
  return (x + (x >> 4)) & 0x0f;
}
