/**
 * A FIFO of received chunks read through a cursor. Nothing is ever concatenated: reads walk
 * chunk boundaries, a fully read chunk is dropped at once, so memory holds only the bytes not
 * yet consumed (at most about one message, if the caller reads as it pushes).
 */

/** Placeholder for a dropped slot: keeps the array's element kind uniform for V8. */
const EMPTY = new Uint8Array(0);

/** Compact the slot array once this many dropped slots lead it (and they are at least half). */
const COMPACT_AT = 64;

export class ChunkQueue {
  #chunks: Uint8Array[] = [];
  /** Index of the first live chunk. */
  #head = 0;
  /** Read offset inside the head chunk; always < its length while a chunk is live. */
  #pos = 0;
  #avail = 0;

  /** Bytes pushed and not yet consumed. */
  get length(): number {
    return this.#avail;
  }

  /** Queue `chunk` (kept by reference, not copied). Empty chunks are ignored. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#avail += chunk.length;
  }

  /**
   * Copy the bytes not yet consumed into one fresh array owned by the queue, so the caller may
   * reuse the memory of the chunks it pushed (e.g. a socket's shared read buffer). Costs at most
   * the unconsumed bytes, which is less than one message when the caller reads as it pushes.
   */
  detach(): void {
    if (this.#avail === 0) {
      this.clear();
      return;
    }
    const out = new Uint8Array(this.#avail);
    let filled = 0;
    for (let k = this.#head; k < this.#chunks.length; k++) {
      const c = this.#chunks[k]!;
      const from = k === this.#head ? this.#pos : 0;
      out.set(from === 0 ? c : c.subarray(from), filled);
      filled += c.length - from;
    }
    this.#chunks = [out];
    this.#head = 0;
    this.#pos = 0;
  }

  /** Forget everything. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#pos = 0;
    this.#avail = 0;
  }

  /** The byte `i` bytes past the cursor, without consuming. Requires `i < length`. */
  peek(i: number): number {
    let k = this.#head;
    let at = this.#pos + i;
    for (;;) {
      const c = this.#chunks[k]!;
      if (at < c.length) return c[at]!;
      at -= c.length;
      k++;
    }
  }

  /** Consume one byte. Requires `length >= 1`. */
  readU8(): number {
    const c = this.#chunks[this.#head]!;
    const v = c[this.#pos++]!;
    this.#avail--;
    if (this.#pos === c.length) this.#dropHead();
    return v;
  }

  /** Consume a big-endian u32. Requires `length >= 4`. */
  readU32(): number {
    const c = this.#chunks[this.#head]!;
    const p = this.#pos;
    if (p + 4 <= c.length) {
      this.#pos = p + 4;
      this.#avail -= 4;
      if (this.#pos === c.length) this.#dropHead();
      return ((c[p]! << 24) | (c[p + 1]! << 16) | (c[p + 2]! << 8) | c[p + 3]!) >>> 0;
    }
    // Straddles a boundary: rare, byte by byte.
    return (
      ((this.readU8() << 24) | (this.readU8() << 16) | (this.readU8() << 8) | this.readU8()) >>> 0
    );
  }

  /**
   * Consume `n` bytes: a view into the head chunk when they lie inside it (no copy), otherwise a
   * fresh array with the bytes copied from each chunk. Requires `length >= n`.
   */
  take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const c = this.#chunks[this.#head]!;
    const p = this.#pos;
    this.#avail -= n;
    if (p + n <= c.length) {
      this.#pos = p + n;
      if (this.#pos === c.length) this.#dropHead();
      return c.subarray(p, p + n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const h = this.#chunks[this.#head]!;
      const from = this.#pos;
      const k = Math.min(h.length - from, n - filled);
      out.set(from === 0 && k === h.length ? h : h.subarray(from, from + k), filled);
      filled += k;
      this.#pos = from + k;
      if (this.#pos === h.length) this.#dropHead();
    }
    return out;
  }

  #dropHead(): void {
    const chunks = this.#chunks;
    chunks[this.#head++] = EMPTY;
    this.#pos = 0;
    if (this.#head === chunks.length) {
      chunks.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= chunks.length) {
      // Keeps the array short when the caller pushes many small chunks before reading.
      chunks.splice(0, this.#head);
      this.#head = 0;
    }
  }
}
