import { MessageId, PIECE_HEADER_LENGTH, REQUEST_MESSAGE_LENGTH } from "./constants.js";
import type { WireMessage } from "./messages.js";

/*
 * Encoders write big-endian u32s by hand: no DataView per call, and the hot-path helpers write
 * into a caller's buffer so many messages leave in one socket write.
 * Arguments are checked (cheaply) because a wrong value here is our own bug and would otherwise
 * be sent silently, truncated to 32 bits, and get us disconnected.
 */

function u32(out: Uint8Array, at: number, v: number): void {
  out[at] = v >>> 24;
  out[at + 1] = (v >>> 16) & 0xff;
  out[at + 2] = (v >>> 8) & 0xff;
  out[at + 3] = v & 0xff;
}

function checkU32(name: string, v: number): void {
  if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) {
    throw new RangeError(`${name} ${v} is not a 32-bit unsigned integer`);
  }
}

/**
 * Write a request message (17 bytes) into `out` at `offset`; returns the offset after it.
 * Batch a pipeline of requests into one buffer and one socket write.
 * Blocks are normally `MAX_BLOCK_LENGTH` (16 KiB) bytes (shorter at the end of a piece).
 * @throws {RangeError} on a value that is not a u32, a length of 0, or too little room in `out`.
 */
export function encodeRequest(
  out: Uint8Array,
  offset: number,
  index: number,
  begin: number,
  length: number,
): number {
  return writeBlockRef(out, offset, MessageId.request, index, begin, length);
}

function writeBlockRef(
  out: Uint8Array,
  offset: number,
  id: number,
  index: number,
  begin: number,
  length: number,
): number {
  checkU32("index", index);
  checkU32("begin", begin);
  checkU32("length", length);
  // A zero-length block is never valid; peers disconnect for it.
  if (length === 0) throw new RangeError("block length 0");
  if (!(offset >= 0 && offset + REQUEST_MESSAGE_LENGTH <= out.length)) {
    throw new RangeError(
      `no room for ${REQUEST_MESSAGE_LENGTH} bytes at ${offset} in ${out.length}`,
    );
  }
  u32(out, offset, 13);
  out[offset + 4] = id;
  u32(out, offset + 5, index);
  u32(out, offset + 9, begin);
  u32(out, offset + 13, length);
  return offset + REQUEST_MESSAGE_LENGTH;
}

/**
 * The 13-byte header of a piece message carrying `length` bytes of block data. Send the block
 * itself right after it in a vectored write (`writev`/`cork`) so the data is never copied.
 */
export function encodePieceHeader(index: number, begin: number, length: number): Uint8Array {
  const out = new Uint8Array(PIECE_HEADER_LENGTH);
  writePieceHeader(out, 0, index, begin, length);
  return out;
}

/** {@link encodePieceHeader} into `out` at `offset`; returns the offset after it. */
export function writePieceHeader(
  out: Uint8Array,
  offset: number,
  index: number,
  begin: number,
  length: number,
): number {
  checkU32("index", index);
  checkU32("begin", begin);
  if (!(Number.isInteger(length) && length >= 0 && length <= 0xffffffff - 9)) {
    throw new RangeError(`block length ${length} does not fit a piece message`);
  }
  if (!(offset >= 0 && offset + PIECE_HEADER_LENGTH <= out.length)) {
    throw new RangeError(`no room for ${PIECE_HEADER_LENGTH} bytes at ${offset} in ${out.length}`);
  }
  u32(out, offset, 9 + length);
  out[offset + 4] = MessageId.piece;
  u32(out, offset + 5, index);
  u32(out, offset + 9, begin);
  return offset + PIECE_HEADER_LENGTH;
}

/** Bytes `msg` takes on the wire, length prefix included. */
export function encodedLength(msg: WireMessage): number {
  switch (msg.type) {
    case "keep_alive":
      return 4;
    case "choke":
    case "unchoke":
    case "interested":
    case "not_interested":
    case "have_all":
    case "have_none":
      return 5;
    case "have":
    case "suggest":
    case "allowed_fast":
      return 9;
    case "port":
      return 7;
    case "request":
    case "cancel":
    case "reject":
      return REQUEST_MESSAGE_LENGTH;
    case "bitfield":
      return 5 + msg.bits.length;
    case "piece":
      return PIECE_HEADER_LENGTH + msg.block.length;
    case "extended":
      return 6 + msg.payload.length;
    case "unknown":
      return 5 + msg.payload.length;
  }
}

const SIMPLE_ID = {
  choke: MessageId.choke,
  unchoke: MessageId.unchoke,
  interested: MessageId.interested,
  not_interested: MessageId.notInterested,
  have_all: MessageId.haveAll,
  have_none: MessageId.haveNone,
  have: MessageId.have,
  suggest: MessageId.suggest,
  allowed_fast: MessageId.allowedFast,
  request: MessageId.request,
  cancel: MessageId.cancel,
  reject: MessageId.reject,
} as const;

/**
 * Write `msg` into `out` at `offset`; returns the offset after it. Needs
 * {@link encodedLength}(msg) bytes of room.
 * @throws {RangeError} on a field out of range or too little room.
 */
export function writeMessage(out: Uint8Array, offset: number, msg: WireMessage): number {
  const n = encodedLength(msg);
  if (!(offset >= 0 && offset + n <= out.length)) {
    throw new RangeError(`no room for ${n} bytes at ${offset} in ${out.length}`);
  }
  switch (msg.type) {
    case "keep_alive":
      u32(out, offset, 0);
      return offset + 4;
    case "choke":
    case "unchoke":
    case "interested":
    case "not_interested":
    case "have_all":
    case "have_none":
      u32(out, offset, 1);
      out[offset + 4] = SIMPLE_ID[msg.type];
      return offset + 5;
    case "have":
    case "suggest":
    case "allowed_fast":
      checkU32("index", msg.index);
      u32(out, offset, 5);
      out[offset + 4] = SIMPLE_ID[msg.type];
      u32(out, offset + 5, msg.index);
      return offset + 9;
    case "port":
      if (!(Number.isInteger(msg.port) && msg.port >= 0 && msg.port <= 0xffff)) {
        throw new RangeError(`port ${msg.port} outside 0..65535`);
      }
      u32(out, offset, 3);
      out[offset + 4] = MessageId.port;
      out[offset + 5] = msg.port >>> 8;
      out[offset + 6] = msg.port & 0xff;
      return offset + 7;
    case "request":
    case "cancel":
    case "reject":
      return writeBlockRef(out, offset, SIMPLE_ID[msg.type], msg.index, msg.begin, msg.length);
    case "bitfield":
      return writeWithPayload(out, offset, MessageId.bitfield, msg.bits);
    case "piece":
      offset = writePieceHeader(out, offset, msg.index, msg.begin, msg.block.length);
      out.set(msg.block, offset);
      return offset + msg.block.length;
    case "extended":
      if (!(Number.isInteger(msg.extId) && msg.extId >= 0 && msg.extId <= 0xff)) {
        throw new RangeError(`extended id ${msg.extId} outside 0..255`);
      }
      u32(out, offset, 2 + msg.payload.length);
      out[offset + 4] = MessageId.extended;
      out[offset + 5] = msg.extId;
      out.set(msg.payload, offset + 6);
      return offset + 6 + msg.payload.length;
    case "unknown":
      if (!(Number.isInteger(msg.id) && msg.id >= 0 && msg.id <= 0xff)) {
        throw new RangeError(`message id ${msg.id} outside 0..255`);
      }
      return writeWithPayload(out, offset, msg.id, msg.payload);
  }
}

function writeWithPayload(
  out: Uint8Array,
  offset: number,
  id: number,
  payload: Uint8Array,
): number {
  u32(out, offset, 1 + payload.length);
  out[offset + 4] = id;
  out.set(payload, offset + 5);
  return offset + 5 + payload.length;
}

/** `msg` as a fresh byte array, length prefix included. Convenient off the hot path. */
export function encodeMessage(msg: WireMessage): Uint8Array {
  const out = new Uint8Array(encodedLength(msg));
  writeMessage(out, 0, msg);
  return out;
}
