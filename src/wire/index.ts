/**
 * Peer wire protocol (BEP 3, with BEP 5 port, BEP 6 Fast extension and BEP 10 framing),
 * sans-I/O: a handshake encoder, message encoders with hot-path variants that write into a
 * caller's buffer, and {@link WireDecoder}, a chunk-list state machine that checks every limit
 * before buffering.
 * @module
 */
export {
  MAX_BLOCK_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_UNKNOWN_MESSAGE_LENGTH,
  MessageId,
  PIECE_HEADER_LENGTH,
  REQUEST_MESSAGE_LENGTH,
} from "./constants.js";
export { WireDecoder, type WireDecoderOptions } from "./decoder.js";
export {
  encodedLength,
  encodeMessage,
  encodePieceHeader,
  encodeRequest,
  writeMessage,
  writePieceHeader,
} from "./encode.js";
export { WireError, type WireErrorCode } from "./errors.js";
export {
  bitfieldLength,
  type PieceGeometry,
  pieceSize,
  validateBitfield,
} from "./geometry.js";
export {
  encodeHandshake,
  HANDSHAKE_LENGTH,
  HANDSHAKE_PREFIX,
  type HandshakeFields,
  PROTOCOL_STRING,
} from "./handshake.js";
export type {
  BlockRef,
  HandshakeInfo,
  WireMessage,
  WireMessageOf,
  WireMessageType,
} from "./messages.js";
export {
  buildReserved,
  hasFeature,
  RESERVED_BITS,
  RESERVED_DHT,
  RESERVED_EXTENDED,
  RESERVED_FAST,
  type ReservedBit,
  type WireFeature,
} from "./reserved.js";
