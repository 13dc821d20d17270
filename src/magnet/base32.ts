/**
 * RFC 4648 base32 (alphabet `A-Z2-7`), used by old magnet links for v1 info-hashes. Only what
 * magnets need: no padding, case-insensitive on input.
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * Decodes unpadded base32, case-insensitively. Returns `undefined` on a character outside the
 * alphabet or when the length leaves non-zero or whole spare bits (a non-canonical encoding).
 */
export function decodeBase32(text: string): Uint8Array | undefined {
  const bits = text.length * 5;
  // Canonical encodings leave fewer than 8 trailing bits; a spare whole byte means bad length.
  if (bits % 8 >= 5) return undefined;
  const out = new Uint8Array(Math.floor(bits / 8));
  let acc = 0;
  let accBits = 0;
  let o = 0;
  for (const ch of text.toUpperCase()) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xfff;
    accBits += 5;
    if (accBits >= 8) {
      accBits -= 8;
      out[o++] = (acc >> accBits) & 0xff;
    }
  }
  if ((acc & ((1 << accBits) - 1)) !== 0) return undefined;
  return out;
}

/** Encodes bytes as upper-case unpadded base32. */
export function encodeBase32(bytes: Uint8Array): string {
  let s = "";
  let acc = 0;
  let accBits = 0;
  for (const b of bytes) {
    acc = ((acc << 8) | b) & 0xfff;
    accBits += 8;
    while (accBits >= 5) {
      accBits -= 5;
      s += ALPHABET[(acc >> accBits) & 31];
    }
  }
  if (accBits > 0) s += ALPHABET[(acc << (5 - accBits)) & 31];
  return s;
}
