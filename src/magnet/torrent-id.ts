/** What a user may type to name a torrent: a magnet URI or a bare info-hash. */
import { MagnetError } from "./errors.js";
import { decodeV1, decodeV2 } from "./infohash.js";
import { parseMagnet } from "./parse.js";
import { MAX_MAGNET_LENGTH, type MagnetLink } from "./types.js";

/**
 * Parses a magnet URI, a bare v1 info-hash (40 hex or 32 base32 characters) or a bare v2
 * info-hash (64 hex characters) into a {@link MagnetLink}. Surrounding whitespace is ignored,
 * since ids are often pasted from elsewhere.
 *
 * @throws {@link MagnetError} `MAGNET_BAD_TORRENT_ID` when the input is none of these, or any
 *   error of {@link parseMagnet} for a magnet URI.
 */
export function parseTorrentId(input: string): MagnetLink {
  if (typeof input !== "string") {
    throw new MagnetError("MAGNET_BAD_TORRENT_ID", "torrent id must be a string");
  }
  if (input.length > MAX_MAGNET_LENGTH) {
    throw new MagnetError(
      "MAGNET_TOO_LONG",
      `torrent id is ${input.length} characters long, over the ${MAX_MAGNET_LENGTH} limit`,
    );
  }
  const text = input.trim();
  if (/^magnet:/i.test(text)) return parseMagnet(text);
  const empty = { trackers: [], webSeeds: [], peers: [] };
  const v1 = decodeV1(text);
  if (v1 !== undefined) return { infoHashV1: v1, ...empty };
  const v2 = decodeV2(text);
  if (v2 !== undefined) return { infoHashV2: v2, ...empty };
  throw new MagnetError(
    "MAGNET_BAD_TORRENT_ID",
    "torrent id must be a magnet URI, a 40-hex or 32-base32 v1 info-hash, or a 64-hex v2 info-hash",
  );
}
