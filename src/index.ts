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
  DIGEST_SIZE,
  type FileSpan,
  HashError,
  HashIoError,
  HashPool,
  type HashPoolOptions,
} from "./storage/hash-pool.js";
export type { BlockIndex, FileIndex, InfoHashV1, InfoHashV2, PeerId, PieceIndex } from "./types.js";
export { fromHex, toHex } from "./types.js";
export { AddressError, formatHostPort, type PeerAddress, parseHostPort } from "./util/address.js";
export { VERSION } from "./version.js";
