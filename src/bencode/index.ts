/**
 * Bencode (BEP 3), sans-I/O: a strict decoder over `Uint8Array` that keeps raw spans, and a
 * canonical encoder.
 * @module
 */
export {
  type DecodeOptions,
  decode,
  decodePrefix,
  MAX_DEPTH,
  MAX_INTEGER_DIGITS,
  MAX_TOKENS,
} from "./decode.js";
export { compareBytes, type Encodable, encode } from "./encode.js";
export { BencodeError, type BencodeErrorCode } from "./errors.js";
export { BDict, type BValue, keyBytes, keyOf, rawSpan } from "./value.js";
