/** Magnet URI formatting, the inverse of {@link parseMagnet}. */
import { toHex } from "../types.js";
import { formatHostPort } from "../util/address.js";
import { MagnetError } from "./errors.js";
import { formatBtmh } from "./infohash.js";
import { formatSelectOnly } from "./select-only.js";
import type { MagnetLink } from "./types.js";

/** Percent-encodes a value; a lone surrogate cannot be UTF-8, so report it as a MagnetError. */
function encode(value: string, param: string): string {
  try {
    return encodeURIComponent(value);
  } catch (cause) {
    throw new MagnetError(
      "MAGNET_BAD_ENCODING",
      `${param}: value is not valid Unicode (lone surrogate)`,
      param,
      { cause },
    );
  }
}

/**
 * Formats a magnet URI that {@link parseMagnet} reads back to an equal {@link MagnetLink}
 * (provided the lists hold no duplicates or empty strings, which parsing drops).
 *
 * The v1 hash is written as 40 lower-case hex characters, the v2 hash as a `1220` sha2-256
 * multihash. Values are percent-encoded with `encodeURIComponent`, so a space in `dn` becomes
 * `%20` and a `+` becomes `%2B`; `so` is written raw since it only holds digits, `,` and `-`.
 *
 * @throws {@link MagnetError} when the link has no info-hash, a hash of the wrong length, an
 *   invalid `exactLength` or `selectOnly`, or a string that is not valid Unicode.
 */
export function formatMagnet(m: MagnetLink): string {
  const params: string[] = [];
  if (m.infoHashV1 === undefined && m.infoHashV2 === undefined) {
    throw new MagnetError(
      "MAGNET_NO_INFOHASH",
      "xt: magnet link needs infoHashV1 or infoHashV2",
      "xt",
    );
  }
  if (m.infoHashV1 !== undefined) {
    if (m.infoHashV1.length !== 20) {
      throw new MagnetError("MAGNET_BAD_INFOHASH", "xt: infoHashV1 must be 20 bytes", "xt");
    }
    params.push(`xt=urn:btih:${toHex(m.infoHashV1)}`);
  }
  if (m.infoHashV2 !== undefined) {
    if (m.infoHashV2.length !== 32) {
      throw new MagnetError("MAGNET_BAD_INFOHASH", "xt: infoHashV2 must be 32 bytes", "xt");
    }
    params.push(`xt=urn:btmh:${formatBtmh(m.infoHashV2)}`);
  }
  if (m.name !== undefined && m.name !== "") params.push(`dn=${encode(m.name, "dn")}`);
  if (m.exactLength !== undefined) {
    if (!Number.isSafeInteger(m.exactLength) || m.exactLength < 0) {
      throw new MagnetError(
        "MAGNET_BAD_EXACT_LENGTH",
        `xl: ${m.exactLength} is not a non-negative safe integer`,
        "xl",
      );
    }
    params.push(`xl=${m.exactLength}`);
  }
  for (const t of m.trackers) params.push(`tr=${encode(t, "tr")}`);
  for (const w of m.webSeeds) params.push(`ws=${encode(w, "ws")}`);
  for (const p of m.peers) params.push(`x.pe=${encode(formatHostPort(p), "x.pe")}`);
  if (m.selectOnly !== undefined) params.push(`so=${formatSelectOnly(m.selectOnly)}`);
  return `magnet:?${params.join("&")}`;
}
