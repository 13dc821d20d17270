/**
 * Memory for pieces being assembled: one buffer per partial piece, recycled through a free list
 * so a steady download allocates nothing per piece (the caller caps the pieces in flight and
 * sizes the free list to that cap); `senders` remembers which peer sent each block, for smart
 * ban.
 */
export interface PartialPiece {
  piece: number;
  data: Uint8Array;
  /** Peer key that sent each block; -1 until received. */
  senders: Int32Array;
  received: number;
}

export class PieceBuffers {
  readonly #pieceLength: number;
  readonly #totalLength: number;
  readonly #blockSize: number;
  readonly #free: Uint8Array[] = [];
  readonly #maxFree: number;
  readonly #active = new Map<number, PartialPiece>();
  bytesInUse = 0;

  constructor(pieceLength: number, totalLength: number, blockSize = 16 * 1024, maxFree = 8) {
    this.#pieceLength = pieceLength;
    this.#totalLength = totalLength;
    this.#blockSize = blockSize;
    this.#maxFree = maxFree;
  }

  /** Size of piece `piece` (the last one may be short). */
  sizeOf(piece: number): number {
    return Math.min(this.#pieceLength, this.#totalLength - piece * this.#pieceLength);
  }

  get(piece: number): PartialPiece | undefined {
    return this.#active.get(piece);
  }

  /** The partial piece for `piece`, allocating its buffer on first use. */
  acquire(piece: number): PartialPiece {
    let p = this.#active.get(piece);
    if (p !== undefined) return p;
    const size = this.sizeOf(piece);
    let data: Uint8Array;
    const recycled = size === this.#pieceLength ? this.#free.pop() : undefined;
    if (recycled !== undefined) data = recycled;
    else data = new Uint8Array(size);
    const blocks = Math.ceil(size / this.#blockSize);
    p = { piece, data, senders: new Int32Array(blocks).fill(-1), received: 0 };
    this.#active.set(piece, p);
    this.bytesInUse += size;
    return p;
  }

  /** Copy a block in. Returns false if that block was already there (a duplicate in endgame). */
  write(p: PartialPiece, begin: number, block: Uint8Array, sender: number): boolean {
    const b = (begin / this.#blockSize) | 0;
    if (p.senders[b] !== -1) return false;
    p.data.set(block, begin);
    p.senders[b] = sender;
    p.received++;
    return true;
  }

  /** Whether every block of the piece has arrived. */
  isFull(p: PartialPiece): boolean {
    return p.received === p.senders.length;
  }

  /** Stop tracking `piece`; its buffer is handed to the caller (to hash and write). */
  detach(piece: number): PartialPiece | undefined {
    const p = this.#active.get(piece);
    if (p === undefined) return undefined;
    this.#active.delete(piece);
    this.bytesInUse -= p.data.length;
    return p;
  }

  /** Give a buffer back for reuse once it is written (or dropped). */
  recycle(data: Uint8Array): void {
    if (
      data.length === this.#pieceLength &&
      data.byteOffset === 0 &&
      this.#free.length < this.#maxFree
    ) {
      this.#free.push(data);
    }
  }

  /** Forget the blocks a peer sent to pieces still being assembled (a failed piece must be refetched). */
  reset(piece: number): void {
    const p = this.#active.get(piece);
    if (p === undefined) return;
    p.senders.fill(-1);
    p.received = 0;
  }

  pieces(): IterableIterator<PartialPiece> {
    return this.#active.values();
  }
}
