import { Bitfield } from "../util/bitfield.js";
import { WireError } from "./errors.js";

/** How a torrent's bytes are cut into pieces; what the decoder needs to check indices. */
export interface PieceGeometry {
  /** Number of pieces, ≥ 1. */
  readonly pieceCount: number;
  /** Bytes per piece except the last, ≥ 1. */
  readonly pieceLength: number;
  /** Bytes in the torrent: (pieceCount − 1) · pieceLength < totalLength ≤ pieceCount · pieceLength. */
  readonly totalLength: number;
}

/**
 * Throws a RangeError unless `g` is a consistent geometry. A bad geometry is our bug, not the
 * peer's, so it is not a {@link WireError}.
 */
export function checkGeometry(g: PieceGeometry): void {
  const { pieceCount: n, pieceLength: len, totalLength: total } = g;
  if (!(Number.isSafeInteger(n) && n >= 1 && n <= 0xffffffff)) {
    throw new RangeError(`pieceCount ${n} is not an integer in 1..2^32-1`);
  }
  if (!(Number.isSafeInteger(len) && len >= 1)) throw new RangeError(`pieceLength ${len} < 1`);
  if (!(Number.isSafeInteger(total) && total > (n - 1) * len && total <= n * len)) {
    throw new RangeError(`totalLength ${total} does not fit ${n} pieces of ${len} bytes`);
  }
}

/** Bytes in piece `index` of `g` (the last piece is usually shorter). Requires a valid index. */
export function pieceSize(g: PieceGeometry, index: number): number {
  return index === g.pieceCount - 1
    ? g.totalLength - g.pieceLength * (g.pieceCount - 1)
    : g.pieceLength;
}

/** Bytes in a bitfield for `pieceCount` pieces. */
export function bitfieldLength(pieceCount: number): number {
  return Math.ceil(pieceCount / 8);
}

/**
 * Throws `WIRE_BAD_BITFIELD` unless `bits` is a valid bitfield for `pieceCount` pieces: exact
 * length and spare bits clear. For a bitfield received before the torrent's metadata was known
 * (magnet links), which the decoder could not check then.
 */
export function validateBitfield(bits: Uint8Array, pieceCount: number): void {
  const want = bitfieldLength(pieceCount);
  if (bits.length !== want) {
    throw new WireError(
      "WIRE_BAD_BITFIELD",
      `bitfield of ${bits.length} bytes, expected ${want} for ${pieceCount} pieces`,
    );
  }
  if (!Bitfield.spareBitsClear(pieceCount, bits)) {
    throw new WireError(
      "WIRE_BAD_BITFIELD",
      `bitfield has spare bits set after piece ${pieceCount - 1}`,
    );
  }
}
