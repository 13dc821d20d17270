import { TesseraError } from "../errors.js";

/** Stable codes carried by {@link MagnetError}. */
export type MagnetErrorCode =
  /** Input longer than {@link MAX_MAGNET_LENGTH}. */
  | "MAGNET_TOO_LONG"
  /** Does not start with `magnet:?`. */
  | "MAGNET_BAD_SCHEME"
  /** A malformed percent-escape or percent-encoded bytes that are not UTF-8. */
  | "MAGNET_BAD_ENCODING"
  /** No `xt` with a `urn:btih:` or `urn:btmh:` hash. */
  | "MAGNET_NO_INFOHASH"
  /** A btih/btmh hash of the wrong length or alphabet. */
  | "MAGNET_BAD_INFOHASH"
  /** A btmh multihash that is not sha2-256 with a 32-byte digest. */
  | "MAGNET_UNSUPPORTED_MULTIHASH"
  /** Two `xt` of the same kind naming different torrents. */
  | "MAGNET_CONFLICTING_INFOHASH"
  /** `so` is not a comma-separated list of indices and ascending ranges. */
  | "MAGNET_BAD_SELECT_ONLY"
  /** `xl` is not a non-negative safe integer. */
  | "MAGNET_BAD_EXACT_LENGTH"
  /** {@link parseTorrentId} got neither a magnet URI nor a bare info-hash. */
  | "MAGNET_BAD_TORRENT_ID";

/**
 * Thrown by the magnet parser and formatter. The message names the parameter at fault, which is
 * also available as {@link MagnetError.param} when there is one.
 */
export class MagnetError extends TesseraError {
  declare readonly code: MagnetErrorCode;
  /** The magnet parameter at fault (`xt`, `so`, ...), when the error concerns one. */
  readonly param: string | undefined;

  constructor(
    code: MagnetErrorCode,
    message: string,
    param?: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.param = param;
  }
}
