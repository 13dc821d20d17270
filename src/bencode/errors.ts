import { TesseraError } from "../errors.js";

/** Why a bencoded input was refused. Stable codes for scripts and tests. */
export type BencodeErrorCode =
  | "BENCODE_UNEXPECTED_END"
  | "BENCODE_INVALID_BYTE"
  | "BENCODE_LEADING_ZERO"
  | "BENCODE_NEGATIVE_ZERO"
  | "BENCODE_INVALID_INTEGER"
  | "BENCODE_INTEGER_TOO_LONG"
  | "BENCODE_STRING_LENGTH"
  | "BENCODE_KEY_NOT_STRING"
  | "BENCODE_DUPLICATE_KEY"
  | "BENCODE_MISSING_VALUE"
  | "BENCODE_DEPTH_LIMIT"
  | "BENCODE_TOKEN_LIMIT"
  | "BENCODE_TRAILING_BYTES"
  | "BENCODE_UNENCODABLE";

/** A malformed bencoded input, with the byte offset where decoding stopped. */
export class BencodeError extends TesseraError {
  declare readonly code: BencodeErrorCode;
  /** Byte offset in the input where the fault was found (-1 when encoding). */
  readonly offset: number;

  constructor(code: BencodeErrorCode, message: string, offset: number) {
    super(code, offset >= 0 ? `${message} at byte ${offset}` : message);
    this.offset = offset;
  }
}
