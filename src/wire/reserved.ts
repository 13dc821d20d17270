/**
 * The handshake's eight reserved bytes carry one bit per protocol extension. An extension is in
 * use only when both sides set its bit, and we advertise only what we implement.
 */

/** Position of one feature bit: `reserved[byte] & mask`. */
export interface ReservedBit {
  readonly byte: number;
  readonly mask: number;
}

/** Fast extension (BEP 6): `reserved[7] & 0x04`. */
export const RESERVED_FAST: ReservedBit = Object.freeze({ byte: 7, mask: 0x04 });
/** Extension protocol (BEP 10): `reserved[5] & 0x10`. */
export const RESERVED_EXTENDED: ReservedBit = Object.freeze({ byte: 5, mask: 0x10 });
/** DHT (BEP 5), i.e. the peer accepts and sends `port` messages: `reserved[7] & 0x01`. */
export const RESERVED_DHT: ReservedBit = Object.freeze({ byte: 7, mask: 0x01 });

/** Extensions that have a reserved bit. */
export type WireFeature = "fast" | "extended" | "dht";

/** Bit of each {@link WireFeature}. */
export const RESERVED_BITS: Readonly<Record<WireFeature, ReservedBit>> = Object.freeze({
  fast: RESERVED_FAST,
  extended: RESERVED_EXTENDED,
  dht: RESERVED_DHT,
});

/** Eight reserved bytes with exactly the bits of `features` set. */
export function buildReserved(features: Iterable<WireFeature>): Uint8Array {
  const out = new Uint8Array(8);
  for (const f of features) {
    const bit = RESERVED_BITS[f];
    out[bit.byte]! |= bit.mask;
  }
  return out;
}

/** True when `reserved` (8 bytes) has the bit of `feature` set. */
export function hasFeature(reserved: Uint8Array, feature: WireFeature): boolean {
  const bit = RESERVED_BITS[feature];
  return ((reserved[bit.byte] ?? 0) & bit.mask) !== 0;
}
