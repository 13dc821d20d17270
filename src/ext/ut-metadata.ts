/**
 * BEP 9 ut_metadata messages: a bencoded dictionary `{msg_type, piece[, total_size]}`, followed
 * for `data` by the raw metadata piece. Pure encode/decode; see `metadata-fetcher.ts` and
 * `metadata-server.ts` for the two sides of the exchange.
 */
import { BDict, BencodeError, type BValue, decodePrefix, encode } from "../bencode/index.js";
import { ExtError } from "./errors.js";

/** Extension name in the `m` dictionary. */
export const UT_METADATA = "ut_metadata";
/** Every metadata piece is 16 KiB except the last (BEP 9). */
export const METADATA_PIECE_SIZE = 16 * 1024;
/**
 * Largest metadata (info dictionary) we fetch or accept a `total_size` for: 16 MiB, i.e. 1024
 * pieces. An info dictionary that large describes ~800 000 pieces — far beyond real torrents —
 * while it still bounds what one lying peer can make us buffer. Larger sizes are refused.
 */
export const MAX_METADATA_SIZE = 16 * 1024 * 1024;
/** Tokens allowed in a ut_metadata dictionary: it has three keys, so this is generous. */
const MAX_TOKENS = 64;

/** `msg_type` values (BEP 9). */
export const UtMetadataType = { request: 0, data: 1, reject: 2 } as const;

/** One decoded ut_metadata message. */
export type UtMetadataMessage =
  | { readonly type: "request"; readonly piece: number }
  | { readonly type: "reject"; readonly piece: number }
  | {
      readonly type: "data";
      readonly piece: number;
      readonly totalSize: number;
      /** The piece bytes: a view into the payload. */
      readonly data: Uint8Array;
    }
  /** A `msg_type` this version does not know: BEP 9 says it MUST be ignored. */
  | { readonly type: "unknown"; readonly msgType: number };

/** Number of pieces of metadata of `size` bytes. */
export function metadataPieceCount(size: number): number {
  return Math.ceil(size / METADATA_PIECE_SIZE);
}

/** Bytes of piece `piece` of metadata of `size` bytes (16 KiB except the last). */
export function metadataPieceLength(size: number, piece: number): number {
  return Math.min(METADATA_PIECE_SIZE, size - piece * METADATA_PIECE_SIZE);
}

/** Payload of a request for metadata piece `piece`. */
export function encodeMetadataRequest(piece: number): Uint8Array {
  return encode(
    new Map<string, BValue>([
      ["msg_type", 0],
      ["piece", piece],
    ]),
  );
}

/** Payload of a reject of metadata piece `piece`. */
export function encodeMetadataReject(piece: number): Uint8Array {
  return encode(
    new Map<string, BValue>([
      ["msg_type", 2],
      ["piece", piece],
    ]),
  );
}

/**
 * Payload of a data message: the dictionary then the piece bytes.
 * @throws {RangeError} when `data` is not exactly piece `piece` of `totalSize` bytes (our bug).
 */
export function encodeMetadataData(piece: number, totalSize: number, data: Uint8Array): Uint8Array {
  const count = metadataPieceCount(totalSize);
  if (!Number.isInteger(piece) || piece < 0 || piece >= count) {
    throw new RangeError(`metadata piece ${piece} outside 0..${count - 1}`);
  }
  if (data.length !== metadataPieceLength(totalSize, piece)) {
    throw new RangeError(`metadata piece ${piece} has ${data.length} bytes`);
  }
  const head = encode(
    new Map<string, BValue>([
      ["msg_type", 1],
      ["piece", piece],
      ["total_size", totalSize],
    ]),
  );
  const out = new Uint8Array(head.length + data.length);
  out.set(head, 0);
  out.set(data, head.length);
  return out;
}

/** What the decoder checks a message against. */
export interface UtMetadataDecodeOptions {
  /**
   * The metadata size the peer announced (`metadata_size`) or that we know: `data` must carry the
   * same `total_size`, and `piece` of a request/reject must be inside it. When absent a request's
   * piece is only checked against {@link MAX_METADATA_SIZE}.
   */
  metadataSize?: number;
  /** Largest `total_size` accepted (default {@link MAX_METADATA_SIZE}). */
  maxMetadataSize?: number;
}

/**
 * Decode a ut_metadata payload (the bytes after the extended-id byte).
 * @throws {ExtError} `UT_METADATA_*` codes; never anything else.
 */
export function decodeMetadataMessage(
  payload: Uint8Array,
  options: UtMetadataDecodeOptions = {},
): UtMetadataMessage {
  const max = options.maxMetadataSize ?? MAX_METADATA_SIZE;
  let dict: BValue;
  let end: number;
  try {
    ({ value: dict, end } = decodePrefix(payload, { maxTokens: MAX_TOKENS, maxDepth: 4 }));
  } catch (e) {
    if (e instanceof BencodeError) {
      throw new ExtError("UT_METADATA_BAD_MESSAGE", `ut_metadata: ${e.message}`, { cause: e });
    }
    throw e;
  }
  if (!(dict instanceof BDict)) {
    throw new ExtError("UT_METADATA_BAD_MESSAGE", "ut_metadata message is not a dictionary");
  }
  const msgType = dict.get("msg_type");
  const piece = dict.get("piece");
  if (typeof msgType === "bigint") return { type: "unknown", msgType: Number(msgType) };
  if (typeof msgType !== "number") {
    throw new ExtError("UT_METADATA_BAD_MESSAGE", "ut_metadata msg_type missing or not an integer");
  }
  if (msgType !== 0 && msgType !== 1 && msgType !== 2) return { type: "unknown", msgType };
  if (typeof piece !== "number") {
    throw new ExtError("UT_METADATA_BAD_MESSAGE", "ut_metadata piece missing or not an integer");
  }
  const sizeLimit = options.metadataSize ?? max;
  if (piece < 0 || piece >= metadataPieceCount(sizeLimit)) {
    throw new ExtError(
      "UT_METADATA_PIECE_OUT_OF_RANGE",
      `ut_metadata piece ${piece} outside 0..${metadataPieceCount(sizeLimit) - 1}`,
    );
  }
  if (msgType !== 1) {
    if (end !== payload.length) {
      throw new ExtError(
        "UT_METADATA_BAD_MESSAGE",
        `ut_metadata ${msgType === 0 ? "request" : "reject"} has ${payload.length - end} trailing bytes`,
      );
    }
    return { type: msgType === 0 ? "request" : "reject", piece };
  }
  const totalSize = dict.get("total_size");
  if (typeof totalSize !== "number" || totalSize < 1 || totalSize > max) {
    throw new ExtError(
      "UT_METADATA_BAD_TOTAL_SIZE",
      `ut_metadata total_size ${describe(totalSize)} is not an integer in 1..${max}`,
    );
  }
  if (options.metadataSize !== undefined && totalSize !== options.metadataSize) {
    throw new ExtError(
      "UT_METADATA_BAD_TOTAL_SIZE",
      `ut_metadata total_size ${totalSize} differs from the announced ${options.metadataSize}`,
    );
  }
  if (piece >= metadataPieceCount(totalSize)) {
    throw new ExtError(
      "UT_METADATA_PIECE_OUT_OF_RANGE",
      `ut_metadata piece ${piece} past the last of ${metadataPieceCount(totalSize)}`,
    );
  }
  const expected = metadataPieceLength(totalSize, piece);
  const got = payload.length - end;
  if (got !== expected) {
    throw new ExtError(
      "UT_METADATA_BAD_PIECE_LENGTH",
      `ut_metadata piece ${piece} has ${got} bytes, expected ${expected}`,
    );
  }
  return { type: "data", piece, totalSize, data: payload.subarray(end) };
}

function describe(v: BValue | undefined): string {
  if (v === undefined) return "(missing)";
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  return "(not an integer)";
}
