/**
 * The serving side of BEP 9: answer ut_metadata requests from our info dictionary, with flood
 * protection (BEP 9: "rejecting request messages after a certain number of them have been
 * served, typically the number of pieces of metadata times a factor").
 */
import {
  encodeMetadataData,
  encodeMetadataReject,
  METADATA_PIECE_SIZE,
  metadataPieceCount,
} from "./ut-metadata.js";

/** Tunables of {@link MetadataServer}. */
export interface MetadataServerOptions {
  /** Pieces served to one peer over its connection: this × piece count (default 3). */
  servesPerPieceFactor?: number;
  /** Times one peer may get the same piece (default 2: one retry after a loss). */
  maxServesOfOnePiece?: number;
}

/** The answer to one request: send `payload` under the peer's ut_metadata id. */
export interface MetadataReply {
  readonly type: "data" | "reject";
  readonly piece: number;
  readonly payload: Uint8Array;
}

interface Served {
  total: number;
  readonly perPiece: Map<number, number>;
}

/** Answers ut_metadata requests for one torrent. `K` is the caller's peer handle. */
export class MetadataServer<K> {
  #info: Uint8Array | undefined;
  readonly #factor: number;
  readonly #perPiece: number;
  readonly #served = new Map<K, Served>();

  /** @param info our verified info dictionary bytes, or `undefined` while we have none (magnet). */
  constructor(info?: Uint8Array, options: MetadataServerOptions = {}) {
    this.#info = info;
    this.#factor = options.servesPerPieceFactor ?? 3;
    this.#perPiece = options.maxServesOfOnePiece ?? 2;
  }

  /** Give the server the metadata once a magnet download has fetched and verified it. */
  setInfo(info: Uint8Array): void {
    this.#info = info;
  }

  /** Our `metadata_size` for the extension handshake; `undefined` while we have no metadata. */
  get metadataSize(): number | undefined {
    return this.#info?.length;
  }

  /**
   * The reply to a request for `piece`: the data, or a reject when we have no metadata, the
   * piece does not exist, or the peer has used up its allowance.
   */
  onRequest(peer: K, piece: number): MetadataReply {
    const info = this.#info;
    const reject = (): MetadataReply => ({
      type: "reject",
      piece,
      payload: encodeMetadataReject(piece),
    });
    if (info === undefined) return reject();
    const count = metadataPieceCount(info.length);
    if (!Number.isInteger(piece) || piece < 0 || piece >= count) return reject();
    let s = this.#served.get(peer);
    if (s === undefined) {
      s = { total: 0, perPiece: new Map() };
      this.#served.set(peer, s);
    }
    const times = s.perPiece.get(piece) ?? 0;
    if (s.total >= count * this.#factor || times >= this.#perPiece) return reject();
    s.total++;
    s.perPiece.set(piece, times + 1);
    const start = piece * METADATA_PIECE_SIZE;
    const data = info.subarray(start, Math.min(info.length, start + METADATA_PIECE_SIZE));
    return { type: "data", piece, payload: encodeMetadataData(piece, info.length, data) };
  }

  /** Forget a peer's counters (call on disconnect). */
  removePeer(peer: K): void {
    this.#served.delete(peer);
  }
}
