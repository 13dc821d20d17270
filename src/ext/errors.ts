import { TesseraError } from "../errors.js";

/**
 * Why an extension message from a peer was refused. Every code is a fault of the remote peer;
 * the caller decides what it costs (see `docs/ARCHITECTURE.md`, "Extensions"): most are worth a
 * disconnect, none should crash anything. Stable strings for scripts, tests and stats.
 *
 * - `EXT_HANDSHAKE_TOO_LONG`: an extension handshake above {@link MAX_EXT_HANDSHAKE_LENGTH}.
 * - `EXT_BAD_HANDSHAKE`: the handshake is not bencode or not a dictionary. (A field of the wrong
 *   type is not an error: that field is ignored and named in `ignored`.)
 * - `UT_METADATA_BAD_MESSAGE`: not a bencoded dictionary, or `msg_type`/`piece` missing or not
 *   integers, or bytes after the dictionary of a request or reject.
 * - `UT_METADATA_PIECE_OUT_OF_RANGE`: `piece` negative or past the last piece of the metadata.
 * - `UT_METADATA_BAD_TOTAL_SIZE`: a data message whose `total_size` is missing, not a positive
 *   integer, above the cap, or different from the size the peer announced.
 * - `UT_METADATA_BAD_PIECE_LENGTH`: a data piece that is not 16 KiB (or, for the last piece,
 *   exactly what remains).
 * - `PEX_BAD_MESSAGE`: not a bencoded dictionary, or a field that must be a byte string is not.
 * - `PEX_BAD_COMPACT_LENGTH`: an address list whose length is not a multiple of 6 (IPv4) or 18
 *   (IPv6).
 * - `DONTHAVE_BAD_LENGTH`: an lt_donthave payload that is not exactly 4 bytes.
 * - `DONTHAVE_PIECE_OUT_OF_RANGE`: an lt_donthave index ≥ the piece count.
 * - `UPLOAD_ONLY_BAD_LENGTH`: an empty upload_only message.
 */
export type ExtErrorCode =
  | "EXT_HANDSHAKE_TOO_LONG"
  | "EXT_BAD_HANDSHAKE"
  | "UT_METADATA_BAD_MESSAGE"
  | "UT_METADATA_PIECE_OUT_OF_RANGE"
  | "UT_METADATA_BAD_TOTAL_SIZE"
  | "UT_METADATA_BAD_PIECE_LENGTH"
  | "PEX_BAD_MESSAGE"
  | "PEX_BAD_COMPACT_LENGTH"
  | "DONTHAVE_BAD_LENGTH"
  | "DONTHAVE_PIECE_OUT_OF_RANGE"
  | "UPLOAD_ONLY_BAD_LENGTH";

/** An extension message (BEP 9, 10, 11, 21, 54) the remote peer got wrong. */
export class ExtError extends TesseraError {
  declare readonly code: ExtErrorCode;

  constructor(code: ExtErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
