/** Info-hash text forms found in magnet `xt` values and bare torrent ids. */
import { fromHex, type InfoHashV1, type InfoHashV2, toHex } from "../types.js";
import { decodeBase32 } from "./base32.js";
import { MagnetError } from "./errors.js";

/** Multihash prefix of a sha2-256 digest: function code 0x12, digest length 0x20. */
const SHA256_MULTIHASH_PREFIX = "1220";

const HEX40_RE = /^[0-9a-fA-F]{40}$/;
const HEX64_RE = /^[0-9a-fA-F]{64}$/;
const BASE32_32_RE = /^[A-Za-z2-7]{32}$/;

/** A v1 hash from 40 hex or 32 base32 characters (either case), or `undefined`. */
export function decodeV1(text: string): InfoHashV1 | undefined {
  if (HEX40_RE.test(text)) return fromHex(text) as InfoHashV1;
  if (BASE32_32_RE.test(text)) return decodeBase32(text) as InfoHashV1 | undefined;
  return undefined;
}

/** A v2 hash from 64 hex characters (either case), or `undefined`. */
export function decodeV2(text: string): InfoHashV2 | undefined {
  return HEX64_RE.test(text) ? (fromHex(text) as InfoHashV2) : undefined;
}

/** Parses the part after `urn:btih:`; `param` names the `xt` key for error messages. */
export function parseBtih(text: string, param: string): InfoHashV1 {
  const hash = decodeV1(text);
  if (hash === undefined) {
    throw new MagnetError(
      "MAGNET_BAD_INFOHASH",
      `${param}: urn:btih hash must be 40 hex or 32 base32 characters, got ${text.length} characters`,
      param,
    );
  }
  return hash;
}

/**
 * Parses the part after `urn:btmh:`: a hex multihash. BEP 52 only defines sha2-256, so any other
 * function code or digest length is refused rather than silently truncated.
 */
export function parseBtmh(text: string, param: string): InfoHashV2 {
  if (!/^[0-9a-fA-F]+$/.test(text) || text.length % 2 !== 0 || text.length < 4) {
    throw new MagnetError(
      "MAGNET_BAD_INFOHASH",
      `${param}: urn:btmh hash must be a hex-encoded multihash`,
      param,
    );
  }
  const prefix = text.slice(0, 4);
  if (prefix !== SHA256_MULTIHASH_PREFIX) {
    throw new MagnetError(
      "MAGNET_UNSUPPORTED_MULTIHASH",
      `${param}: urn:btmh multihash prefix ${prefix.toLowerCase()} is not sha2-256 with a 32-byte digest (1220)`,
      param,
    );
  }
  const hash = decodeV2(text.slice(4));
  if (hash === undefined) {
    throw new MagnetError(
      "MAGNET_BAD_INFOHASH",
      `${param}: urn:btmh sha2-256 digest must be 64 hex characters, got ${text.length - 4}`,
      param,
    );
  }
  return hash;
}

/** `urn:btmh:` value for a v2 hash. */
export function formatBtmh(hash: InfoHashV2): string {
  return SHA256_MULTIHASH_PREFIX + toHex(hash);
}
