/**
 * Branded primitive types shared across the codebase. A brand costs nothing at run time and
 * keeps a piece index from being passed where a file index is expected.
 */
declare const brand: unique symbol;
export type Brand<T, B extends string> = T & { readonly [brand]: B };

/** A v1 info-hash: 20 bytes, SHA-1 of the bencoded info dictionary. */
export type InfoHashV1 = Brand<Uint8Array, "InfoHashV1">;
/** A v2 info-hash: 32 bytes, SHA-256 of the bencoded info dictionary (BEP 52). */
export type InfoHashV2 = Brand<Uint8Array, "InfoHashV2">;
export type PeerId = Brand<Uint8Array, "PeerId">;
export type PieceIndex = Brand<number, "PieceIndex">;
export type FileIndex = Brand<number, "FileIndex">;
export type BlockIndex = Brand<number, "BlockIndex">;

const HEX = "0123456789abcdef";

/** Lower-case hex of a byte array. */
export function toHex(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    s += HEX[b >> 4]! + HEX[b & 15]!;
  }
  return s;
}

/** Bytes of a hex string, or `undefined` when it is not even-length hex. */
export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
