/**
 * Metainfo (.torrent) parsing and validation, BEP 3 / 12 / 27 / 47 (v1 and the v1 part of hybrids).
 * @module
 */

export {
  autoPieceLength,
  type BuildTorrentInput,
  buildTorrent,
  MAX_AUTO_PIECE_LENGTH,
  MIN_AUTO_PIECE_LENGTH,
  TARGET_PIECES,
} from "./build.js";
export { MetainfoError, type MetainfoErrorCode } from "./errors.js";
export {
  type InfoPart,
  MAX_FILES,
  MAX_PIECE_LENGTH,
  MAX_PIECES,
  MAX_TORRENT_SIZE,
  parseInfo,
  parseInfoBytes,
  parseTorrent,
} from "./parse.js";
export {
  MAX_COMPONENT_BYTES,
  resolveDuplicatePaths,
  sanitizeComponent,
  sanitizePath,
} from "./path.js";
export type { TorrentFile, TorrentMeta } from "./types.js";
