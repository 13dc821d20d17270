/** The BEP 3 handshake: `<19>"BitTorrent protocol"<reserved:8><info_hash:20><peer_id:20>`. */

/** The protocol string after the length byte. */
export const PROTOCOL_STRING = "BitTorrent protocol";
/** The handshake's total length in bytes. */
export const HANDSHAKE_LENGTH = 68;

/** `19` followed by "BitTorrent protocol": the 20 bytes every handshake starts with. */
export const HANDSHAKE_PREFIX: Uint8Array = new TextEncoder().encode(`\x13${PROTOCOL_STRING}`);

/** What we send in our handshake. */
export interface HandshakeFields {
  /** 20 bytes: the v1 info-hash, or the v2 one truncated to 20 (BEP 52). */
  readonly infoHash: Uint8Array;
  /** 20 bytes. */
  readonly peerId: Uint8Array;
  /** 8 bytes, usually from `buildReserved`: advertise only features we implement. */
  readonly reserved: Uint8Array;
}

/**
 * The 68-byte handshake.
 * @throws {RangeError} when a field has the wrong length (a local bug, not a peer fault).
 */
export function encodeHandshake(h: HandshakeFields): Uint8Array {
  if (h.reserved.length !== 8)
    throw new RangeError(`reserved is ${h.reserved.length} bytes, not 8`);
  if (h.infoHash.length !== 20)
    throw new RangeError(`infoHash is ${h.infoHash.length} bytes, not 20`);
  if (h.peerId.length !== 20) throw new RangeError(`peerId is ${h.peerId.length} bytes, not 20`);
  const out = new Uint8Array(HANDSHAKE_LENGTH);
  out.set(HANDSHAKE_PREFIX, 0);
  out.set(h.reserved, 20);
  out.set(h.infoHash, 28);
  out.set(h.peerId, 48);
  return out;
}
