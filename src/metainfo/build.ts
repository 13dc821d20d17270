import { type Encodable, encode } from "../bencode/index.js";

/** Smallest and largest piece lengths chosen automatically. */
export const MIN_AUTO_PIECE_LENGTH = 16 * 1024;
export const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
/** Piece count the automatic choice aims at (libtorrent aims at 40 KiB of hashes: 2048 pieces). */
export const TARGET_PIECES = 2048;

/**
 * The piece length libtorrent's `create_torrent` would pick: the smallest power of two that
 * keeps the torrent at or under {@link TARGET_PIECES} pieces, within 16 KiB–16 MiB.
 */
export function autoPieceLength(totalLength: number): number {
  let pl = MIN_AUTO_PIECE_LENGTH;
  while (pl < MAX_AUTO_PIECE_LENGTH && Math.ceil(totalLength / pl) > TARGET_PIECES) pl *= 2;
  return pl;
}

export interface BuildTorrentInput {
  name: string;
  /** Files in torrent order with paths relative to the torrent's directory; omit for single-file. */
  files?: { path: string[]; length: number }[];
  /** Length of a single-file torrent. */
  length?: number;
  pieceLength: number;
  pieceHashes: Uint8Array;
  /** Each inner list is one tier. */
  trackers?: string[][];
  webSeeds?: string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch; omitted when undefined. */
  creationDate?: number;
  private?: boolean;
}

/** Encode a v1 .torrent file (canonical bencode). */
export function buildTorrent(t: BuildTorrentInput): Uint8Array {
  const info: Record<string, Encodable | undefined> = {
    name: t.name,
    "piece length": t.pieceLength,
    pieces: t.pieceHashes,
    private: t.private ? 1 : undefined,
  };
  if (t.files !== undefined) info.files = t.files.map((f) => ({ length: f.length, path: f.path }));
  else info.length = t.length ?? 0;
  const tiers = (t.trackers ?? []).filter((tier) => tier.length > 0);
  const flat = tiers.flat();
  return encode({
    announce: flat[0],
    "announce-list": flat.length > 1 ? tiers : undefined,
    comment: t.comment,
    "created by": t.createdBy,
    "creation date": t.creationDate,
    info,
    "url-list": t.webSeeds && t.webSeeds.length > 0 ? t.webSeeds : undefined,
  });
}
