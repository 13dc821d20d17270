import { TesseraError } from "../errors.js";

/**
 * Why the peer's byte stream was refused. Every code is a fault of the remote peer: the caller
 * disconnects it (and may ban it on repeat). Stable strings for scripts, tests and stats.
 *
 * - `WIRE_BAD_HANDSHAKE`: pstrlen is not 19 or the string is not "BitTorrent protocol".
 * - `WIRE_MESSAGE_TOO_LONG`: a length prefix above the cap for its message (or above every cap).
 * - `WIRE_BAD_LENGTH`: a fixed-length message with another length, or a piece/extended message
 *   too short to hold its header.
 * - `WIRE_BAD_BITFIELD`: bitfield not exactly ceil(pieceCount/8) bytes, or spare bits set.
 * - `WIRE_INDEX_OUT_OF_RANGE`: a piece index ≥ pieceCount.
 * - `WIRE_BAD_BLOCK_LENGTH`: request/cancel/reject for 0 bytes or more than maxBlockLength.
 * - `WIRE_BLOCK_OUT_OF_RANGE`: begin + length past the end of the piece (the last one is short).
 * - `WIRE_UNEXPECTED_MESSAGE`: a message the connection state forbids: a Fast-extension message
 *   without Fast negotiated, an extended message without BEP 10 negotiated, or a
 *   bitfield/have_all/have_none that is not the first message.
 */
export type WireErrorCode =
  | "WIRE_BAD_HANDSHAKE"
  | "WIRE_MESSAGE_TOO_LONG"
  | "WIRE_BAD_LENGTH"
  | "WIRE_BAD_BITFIELD"
  | "WIRE_INDEX_OUT_OF_RANGE"
  | "WIRE_BAD_BLOCK_LENGTH"
  | "WIRE_BLOCK_OUT_OF_RANGE"
  | "WIRE_UNEXPECTED_MESSAGE";

/** A protocol violation by the remote peer. The decoder that threw it is dead. */
export class WireError extends TesseraError {
  declare readonly code: WireErrorCode;

  constructor(code: WireErrorCode, message: string) {
    super(code, message);
  }
}
