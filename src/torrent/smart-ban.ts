import { createHash } from "node:crypto";

/**
 * Smart ban, after libtorrent's: when a piece fails its hash check we remember, for every block,
 * who sent it and a digest of what they sent. When the piece later passes, each remembered block
 * is compared with the good data; whoever sent a block that differs is proven to have sent bad
 * data and is banned. A piece whose every block came from one peer convicts that peer at once.
 *
 * Memory is bounded: at most {@link MAX_TRACKED_PIECES} failed pieces are remembered (oldest
 * forgotten first), each with one 20-byte digest per block.
 */
export const MAX_TRACKED_PIECES = 256;

interface FailedBlocks {
  /** sender key per block (-1: unknown / not received). */
  senders: Int32Array;
  /** SHA-1 of the bad bytes per block, 20 bytes each. */
  digests: Uint8Array;
}

export class SmartBan {
  readonly #blockSize: number;
  readonly #failed = new Map<number, FailedBlocks>();

  constructor(blockSize = 16 * 1024) {
    this.#blockSize = blockSize;
  }

  /**
   * A piece failed. `data` is the assembled piece, `senders[b]` the peer key that sent block b.
   * Returns the peers convicted now (the sole contributor of the whole piece, if there was one).
   */
  onHashFailed(piece: number, data: Uint8Array, senders: Int32Array): number[] {
    const distinct = new Set<number>();
    for (const s of senders) if (s >= 0) distinct.add(s);
    if (distinct.size === 1) {
      this.#failed.delete(piece);
      return [...distinct];
    }
    const blocks = senders.length;
    const digests = new Uint8Array(blocks * 20);
    for (let b = 0; b < blocks; b++) {
      const block = data.subarray(
        b * this.#blockSize,
        Math.min(data.length, (b + 1) * this.#blockSize),
      );
      digests.set(createHash("sha1").update(block).digest(), b * 20);
    }
    this.#failed.delete(piece);
    this.#failed.set(piece, { senders: senders.slice(), digests });
    if (this.#failed.size > MAX_TRACKED_PIECES) {
      const oldest = this.#failed.keys().next().value as number;
      this.#failed.delete(oldest);
    }
    return [];
  }

  /** A piece passed: returns peers whose earlier blocks of it differ from the good data. */
  onHashPassed(piece: number, data: Uint8Array): number[] {
    const rec = this.#failed.get(piece);
    if (rec === undefined) return [];
    this.#failed.delete(piece);
    const guilty = new Set<number>();
    for (let b = 0; b < rec.senders.length; b++) {
      const sender = rec.senders[b]!;
      if (sender < 0) continue;
      const block = data.subarray(
        b * this.#blockSize,
        Math.min(data.length, (b + 1) * this.#blockSize),
      );
      const good = createHash("sha1").update(block).digest();
      if (!good.equals(rec.digests.subarray(b * 20, b * 20 + 20))) guilty.add(sender);
    }
    return [...guilty];
  }

  /** Forget a peer's records (it disconnected); their blocks can no longer convict anyone else. */
  get trackedPieces(): number {
    return this.#failed.size;
  }
}
