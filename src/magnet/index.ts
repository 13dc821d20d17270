/**
 * Magnet links (BEP 9 `btih`/`btmh`, BEP 53 `so`) and torrent ids typed by users.
 * @module
 */
export type { PeerAddress } from "../util/address.js";
export { decodeBase32, encodeBase32 } from "./base32.js";
export { MagnetError, type MagnetErrorCode } from "./errors.js";
export { formatMagnet } from "./format.js";
export { parseMagnet } from "./parse.js";
export { parseTorrentId } from "./torrent-id.js";
export { MAX_MAGNET_LENGTH, type MagnetLink } from "./types.js";
