/**
 * Tessera: a BitTorrent engine for Node.js. The public, typed API.
 * @module
 */
export * from "./bencode/index.js";
export {
  CreateError,
  type CreateOptions,
  type CreateResult,
  createTorrent,
  MIN_PIECE_LENGTH,
} from "./create/index.js";
export { TesseraError } from "./errors.js";
export * from "./magnet/index.js";
export * from "./metainfo/index.js";
export {
  type AddTorrentOptions,
  Session,
  SessionError,
  type SessionOptions,
  type SessionTimeouts,
} from "./session/session.js";
export { StorageError } from "./storage/errors.js";
export {
  DIGEST_SIZE,
  type FileSpan,
  HashError,
  HashIoError,
  HashPool,
  type HashPoolOptions,
} from "./storage/hash-pool.js";
export { TorrentStorage } from "./storage/storage.js";
export { parseSelection, SelectionError } from "./torrent/selection.js";
export {
  Torrent,
  type TorrentEvents,
  type TorrentState,
  type TorrentStats,
} from "./torrent/torrent.js";
export * from "./tracker/index.js";
export type { BlockIndex, FileIndex, InfoHashV1, InfoHashV2, PeerId, PieceIndex } from "./types.js";
export { fromHex, toHex } from "./types.js";
export { AddressError, formatHostPort, type PeerAddress, parseHostPort } from "./util/address.js";
export { VERSION } from "./version.js";
