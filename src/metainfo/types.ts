import type { InfoHashV1, InfoHashV2 } from "../types.js";

/** One file of a torrent, in torrent order. */
export interface TorrentFile {
  /**
   * Sanitised path components relative to the download directory, including the torrent's
   * name as the first component for multi-file torrents (so `path.join("/")` is where the
   * file lives under the download directory, as libtorrent and Transmission lay it out).
   */
  path: string[];
  /** Size in bytes. */
  length: number;
  /** Offset of the file's first byte in the torrent's concatenated data. */
  offset: number;
  /** BEP 47 padding file: zeros, never written to disk, not shown to users. */
  padding: boolean;
  /** BEP 47 executable flag. */
  executable: boolean;
  /** BEP 47 hidden flag. */
  hidden: boolean;
  /** BEP 47 symlink: the sanitised target relative to the torrent's root directory. */
  symlinkTarget?: string[];
}

/** A parsed and validated torrent (v1, or the v1 part of a hybrid). */
export interface TorrentMeta {
  infoHash: InfoHashV1;
  /** Lower-case hex of {@link infoHash}. */
  infoHashHex: string;
  /** Present for hybrid torrents (`meta version` 2 with v1 `pieces`). */
  infoHashV2?: InfoHashV2;
  /** The exact bytes of the info dictionary, as found in the file. */
  infoBytes: Uint8Array;
  /** Sanitised torrent name (the file name, or the top directory of a multi-file torrent). */
  name: string;
  /** Whether the torrent uses the `files` list (content under a directory named `name`). */
  multiFile: boolean;
  pieceLength: number;
  pieceCount: number;
  /** Concatenated 20-byte SHA-1 piece hashes (a view into the input). */
  pieceHashes: Uint8Array;
  /** Total bytes, padding included. */
  length: number;
  files: TorrentFile[];
  private: boolean;
  /** Tracker tiers (BEP 12); a lone `announce` becomes one tier. */
  trackers: string[][];
  /** BEP 19 `url-list`. */
  webSeeds: string[];
  /** BEP 17 `httpseeds`. */
  httpSeeds: string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
  /** Things accepted but worth telling the user (e.g. a piece length that is not a power of two). */
  warnings: string[];
}
