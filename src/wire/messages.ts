import type { PeerId, PieceIndex } from "../types.js";

/** A block named by piece, offset and length: the payload of request, cancel and reject. */
export interface BlockRef {
  readonly index: PieceIndex;
  readonly begin: number;
  readonly length: number;
}

/**
 * Every message of the peer wire protocol after the handshake (BEP 3, 5, 6, 10).
 *
 * Byte payloads (`bits`, `block`, `payload`) returned by {@link WireDecoder} are views into the
 * pushed chunk when the bytes lie inside one chunk, and fresh copies when they straddle chunks.
 * Either way they stay valid as long as the caller does not overwrite the chunks it pushed.
 */
export type WireMessage =
  | { readonly type: "keep_alive" }
  | { readonly type: "choke" }
  | { readonly type: "unchoke" }
  | { readonly type: "interested" }
  | { readonly type: "not_interested" }
  | { readonly type: "have"; readonly index: PieceIndex }
  /** Raw bitfield bytes, wire order (bit 0 = high bit of byte 0); wrap in `Bitfield` to use. */
  | { readonly type: "bitfield"; readonly bits: Uint8Array }
  | ({ readonly type: "request" } & BlockRef)
  | {
      readonly type: "piece";
      readonly index: PieceIndex;
      readonly begin: number;
      readonly block: Uint8Array;
    }
  | ({ readonly type: "cancel" } & BlockRef)
  /** BEP 5: the sender's DHT UDP port. */
  | { readonly type: "port"; readonly port: number }
  | { readonly type: "suggest"; readonly index: PieceIndex }
  | { readonly type: "have_all" }
  | { readonly type: "have_none" }
  | ({ readonly type: "reject" } & BlockRef)
  | { readonly type: "allowed_fast"; readonly index: PieceIndex }
  /** BEP 10: `extId` 0 is the extension handshake, others are ids the receiver assigned. */
  | { readonly type: "extended"; readonly extId: number; readonly payload: Uint8Array }
  /**
   * A message id this codec does not know, carried to the caller rather than treated as fatal so
   * the peer layer decides (libtorrent disconnects unless a plugin claims the id).
   */
  | { readonly type: "unknown"; readonly id: number; readonly payload: Uint8Array };

/** The `type` of every {@link WireMessage}. */
export type WireMessageType = WireMessage["type"];

/** The message of one `type`. */
export type WireMessageOf<T extends WireMessageType> = Extract<WireMessage, { type: T }>;

/** The remote side's handshake (BEP 3), as decoded. All three arrays are copies. */
export interface HandshakeInfo {
  readonly type: "handshake";
  /** Eight reserved bytes; test them with `hasFeature`. */
  readonly reserved: Uint8Array;
  /**
   * The 20 bytes the peer sent: a v1 info-hash, or a truncated v2 one (BEP 52). The caller checks
   * that it names a torrent it serves.
   */
  readonly infoHash: Uint8Array;
  /** Compare with our own peer id to detect a connection to ourselves. */
  readonly peerId: PeerId;
}
