/**
 * BEP 54 lt_donthave: "I no longer have piece `index`". Payload: the 4-byte big-endian index.
 */
import type { PieceIndex } from "../types.js";
import { ExtError } from "./errors.js";

/** Extension name in the `m` dictionary. */
export const LT_DONTHAVE = "lt_donthave";

/** Payload of a DontHave for `index`. @throws {RangeError} outside 0..2^32−1 (our bug). */
export function encodeDontHave(index: number): Uint8Array {
  if (!Number.isInteger(index) || index < 0 || index > 0xffffffff) {
    throw new RangeError(`piece index ${index} outside 0..2^32-1`);
  }
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, index);
  return out;
}

/**
 * Decode a DontHave payload; `pieceCount`, when known, bounds the index.
 * @throws {ExtError} `DONTHAVE_BAD_LENGTH`, `DONTHAVE_PIECE_OUT_OF_RANGE`.
 */
export function decodeDontHave(payload: Uint8Array, pieceCount?: number): PieceIndex {
  if (payload.length !== 4) {
    throw new ExtError("DONTHAVE_BAD_LENGTH", `lt_donthave of ${payload.length} bytes, not 4`);
  }
  const index = new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0);
  if (pieceCount !== undefined && index >= pieceCount) {
    throw new ExtError(
      "DONTHAVE_PIECE_OUT_OF_RANGE",
      `lt_donthave piece ${index} outside 0..${pieceCount - 1}`,
    );
  }
  return index as PieceIndex;
}
