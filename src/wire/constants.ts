/** Message ids of BEP 3 (0–8), BEP 5 (9), BEP 6 (13–17) and BEP 10 (20). */
export const MessageId = {
  choke: 0,
  unchoke: 1,
  interested: 2,
  notInterested: 3,
  have: 4,
  bitfield: 5,
  request: 6,
  piece: 7,
  cancel: 8,
  port: 9,
  suggest: 13,
  haveAll: 14,
  haveNone: 15,
  reject: 16,
  allowedFast: 17,
  extended: 20,
} as const;

/** Largest block a peer may request or send: 16 KiB, which every current client uses (BEP 3). */
export const MAX_BLOCK_LENGTH = 16 * 1024;

/**
 * Largest extended (BEP 10) message body accepted by default, id and ext-id bytes included.
 * ut_metadata pieces are 16 KiB plus a small dictionary and handshakes a few KiB; 1 MiB leaves
 * room for large PEX or future extensions while bounding per-peer memory.
 */
export const MAX_EXTENDED_MESSAGE_LENGTH = 1024 * 1024;

/**
 * Largest message with an id we do not know (e.g. BEP 52 hash messages 21–23) accepted by
 * default, id byte included. Small on purpose: we only carry such a message to the caller so it
 * can log it and decide; it never needs to be big.
 */
export const MAX_UNKNOWN_MESSAGE_LENGTH = 64 * 1024;

/** Bytes of a request (or cancel/reject) message on the wire: 4 length + 1 id + 12 payload. */
export const REQUEST_MESSAGE_LENGTH = 17;

/** Bytes of a piece message header on the wire: 4 length + 1 id + index + begin. */
export const PIECE_HEADER_LENGTH = 13;
