import type { InfoHashV1, InfoHashV2 } from "../types.js";
import type { PeerAddress } from "../util/address.js";

/**
 * Longest magnet URI (or torrent id) accepted, in UTF-16 code units. Checked before any other
 * work so a hostile multi-megabyte string costs nothing; real magnets with dozens of trackers
 * stay well under a few KiB.
 */
export const MAX_MAGNET_LENGTH = 64 * 1024;

/** The content of a magnet link (BEP 9, with BEP 53 `so` and the `xl` exact length). */
export interface MagnetLink {
  /** From `xt=urn:btih:` (40 hex or 32 base32 characters). */
  infoHashV1?: InfoHashV1;
  /** From `xt=urn:btmh:1220<64 hex>` (sha2-256 multihash). */
  infoHashV2?: InfoHashV2;
  /** Display name, from `dn`. */
  name?: string;
  /** Tracker URLs from every `tr`, in order, without duplicates. */
  trackers: string[];
  /** Web seed URLs from every `ws`, in order, without duplicates. */
  webSeeds: string[];
  /** Peers from every well-formed `x.pe`, in order, without duplicates. */
  peers: PeerAddress[];
  /** BEP 53 select-only file indices as inclusive `[first, last]` ranges, in the order given. */
  selectOnly?: Array<[number, number]>;
  /** Total size in bytes, from `xl`. */
  exactLength?: number;
}
