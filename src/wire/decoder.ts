import type { PeerId, PieceIndex } from "../types.js";
import { ChunkQueue } from "./chunks.js";
import {
  MAX_BLOCK_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  MAX_UNKNOWN_MESSAGE_LENGTH,
  MessageId,
} from "./constants.js";
import { WireError, type WireErrorCode } from "./errors.js";
import {
  bitfieldLength,
  checkGeometry,
  type PieceGeometry,
  pieceSize,
  validateBitfield,
} from "./geometry.js";
import { HANDSHAKE_LENGTH, HANDSHAKE_PREFIX } from "./handshake.js";
import type { HandshakeInfo, WireMessage } from "./messages.js";
import { hasFeature } from "./reserved.js";

/** Options of {@link WireDecoder}. */
export interface WireDecoderOptions extends Partial<PieceGeometry> {
  /**
   * With `expectHandshake` (the default): whether WE advertise the Fast extension; it is in use
   * only if the peer's handshake also sets the bit. Without: whether it was negotiated.
   */
  fast: boolean;
  /** As `fast`, for the extension protocol (BEP 10). */
  extended: boolean;
  /** Largest block accepted in request, cancel, reject and piece. Default {@link MAX_BLOCK_LENGTH}. */
  maxBlockLength?: number;
  /** Largest extended message body (id byte included). Default {@link MAX_EXTENDED_MESSAGE_LENGTH}. */
  maxMessageLength?: number;
  /** Largest unknown-id message body (id byte included). Default {@link MAX_UNKNOWN_MESSAGE_LENGTH}. */
  maxUnknownLength?: number;
  /** Parse a BEP 3 handshake before messages. Default true. */
  expectHandshake?: boolean;
  /**
   * Accept a bitfield after other messages too (default false: only as the first message). aria2
   * sends one mid-connection in place of 20 or more HAVEs, and libtorrent and Transmission accept
   * it; the caller must treat a later bitfield as an update of the peer's pieces.
   */
  lateBitfield?: boolean;
}

// Decoder states; `next()` moves through them in order and back to S_LENGTH per message.
const S_HANDSHAKE = 0;
const S_LENGTH = 1;
const S_ID = 2;
const S_PIECE_HEADER = 3;
const S_BODY = 4;

// Payload-free messages are shared frozen objects: the commonest messages allocate nothing.
const KEEP_ALIVE: WireMessage = Object.freeze({ type: "keep_alive" });
const CHOKE: WireMessage = Object.freeze({ type: "choke" });
const UNCHOKE: WireMessage = Object.freeze({ type: "unchoke" });
const INTERESTED: WireMessage = Object.freeze({ type: "interested" });
const NOT_INTERESTED: WireMessage = Object.freeze({ type: "not_interested" });
const HAVE_ALL: WireMessage = Object.freeze({ type: "have_all" });
const HAVE_NONE: WireMessage = Object.freeze({ type: "have_none" });

/**
 * Sans-I/O decoder of one peer's byte stream: the handshake, then length-prefixed messages.
 *
 * Feed received chunks with {@link push} and drain with {@link next} until it returns
 * `undefined` ("need more bytes"). Chunks are queued by reference and never concatenated; a
 * fully read chunk is dropped at once, so memory holds only what is not yet decoded.
 *
 * Byte payloads (piece `block`, `bitfield.bits`, extended/unknown `payload`) are views into a
 * pushed chunk when they lie inside it and copies when they straddle chunks. The caller must
 * therefore not reuse a pushed chunk's memory while it holds them, with one exception: a chunk
 * pushed as `transient` (a view of a read buffer the caller reuses, e.g. a socket's) may be
 * overwritten once the caller has drained {@link next} and called {@link detach}. For a
 * transient chunk, every payload but a piece `block` is a copy; a `block` is still a view,
 * valid only until the caller reuses the buffer (copy it out at once).
 *
 * Every limit is checked as early as the bytes allow: the length prefix against the largest
 * message possible, then against the cap for its id, piece headers before their block arrives.
 * A violation throws a {@link WireError}; the decoder is then dead and every later `push` or
 * `next` throws the same error. The caller disconnects the peer.
 *
 * Ordering rule: bitfield, have_all and have_none are accepted only as the first message
 * (BEP 3, BEP 6; a bitfield anywhere with `lateBitfield`). Keep-alive, port, extended and
 * unknown messages before them are tolerated, since real clients send the extension handshake
 * or DHT port first. A `port` message is accepted whether or not the DHT bit was set: it is
 * harmless and the peer layer may ignore it.
 * Unknown ids are returned as `unknown` (up to `maxUnknownLength`) instead of being fatal, so
 * the policy (libtorrent disconnects) lives in the peer layer.
 *
 * Geometry (`pieceCount`, `pieceLength`, `totalLength`) may be omitted while the torrent's
 * metadata is unknown (magnet links): indices and block ranges are then unchecked and a
 * bitfield of any length up to `maxMessageLength` passes; give it later with
 * {@link setGeometry} and check an earlier bitfield with `validateBitfield`.
 */
export class WireDecoder {
  readonly #q = new ChunkQueue();
  readonly #maxBlock: number;
  readonly #maxExtended: number;
  readonly #maxUnknown: number;
  #geometry: PieceGeometry | undefined;
  #fast: boolean;
  #extended: boolean;
  readonly #lateBitfield: boolean;
  #state: number;
  /** Largest length prefix any message could have now; checked before the id is read. */
  #maxLength = 0;
  /** True until a message other than keep-alive, port, extended or unknown has arrived. */
  #initial = true;
  #length = 0;
  #id = 0;
  #pieceIndex = 0;
  #pieceBegin = 0;
  #error: WireError | undefined;
  /** A transient chunk was pushed since the last detach: payloads that may outlive it are copied. */
  #transient = false;

  constructor(options: WireDecoderOptions) {
    const { pieceCount, pieceLength, totalLength } = options;
    if (pieceCount !== undefined || pieceLength !== undefined || totalLength !== undefined) {
      if (pieceCount === undefined || pieceLength === undefined || totalLength === undefined) {
        throw new RangeError("pieceCount, pieceLength and totalLength go together");
      }
      const g = { pieceCount, pieceLength, totalLength };
      checkGeometry(g);
      this.#geometry = g;
    }
    this.#maxBlock = positive("maxBlockLength", options.maxBlockLength ?? MAX_BLOCK_LENGTH);
    this.#maxExtended = positive(
      "maxMessageLength",
      options.maxMessageLength ?? MAX_EXTENDED_MESSAGE_LENGTH,
    );
    this.#maxUnknown = positive(
      "maxUnknownLength",
      options.maxUnknownLength ?? MAX_UNKNOWN_MESSAGE_LENGTH,
    );
    this.#fast = options.fast;
    this.#extended = options.extended;
    this.#lateBitfield = options.lateBitfield ?? false;
    this.#state = (options.expectHandshake ?? true) ? S_HANDSHAKE : S_LENGTH;
    this.#updateMaxLength();
  }

  /** Bytes pushed and not yet decoded (for per-peer memory accounting and back-pressure). */
  get bufferedBytes(): number {
    return this.#q.length;
  }

  /** Whether the Fast extension is in use (after the handshake: both sides set the bit). */
  get fast(): boolean {
    return this.#fast;
  }

  /** Whether the extension protocol is in use (after the handshake: both sides set the bit). */
  get extended(): boolean {
    return this.#extended;
  }

  /** The error that killed this decoder, if any. */
  get error(): WireError | undefined {
    return this.#error;
  }

  /**
   * Give the torrent's geometry once its metadata is known; later messages are checked against
   * it. Messages already decoded are not re-checked.
   * @throws {RangeError} on an inconsistent geometry, or when one was already given.
   */
  setGeometry(g: PieceGeometry): void {
    if (this.#geometry !== undefined) throw new RangeError("geometry already set");
    checkGeometry(g);
    this.#geometry = {
      pieceCount: g.pieceCount,
      pieceLength: g.pieceLength,
      totalLength: g.totalLength,
    };
    this.#updateMaxLength();
  }

  /**
   * Queue a received chunk by reference. Do not overwrite it afterwards, unless it is
   * `transient`: then drain {@link next} and call {@link detach} before reusing its memory.
   */
  push(chunk: Uint8Array, transient = false): void {
    if (this.#error !== undefined) throw this.#error;
    this.#q.push(chunk);
    if (transient) this.#transient = true;
  }

  /**
   * Copy the bytes not yet decoded (less than one message) out of the pushed chunks, so the
   * caller may reuse a transient chunk's memory. Payloads returned earlier are unaffected.
   */
  detach(): void {
    this.#q.detach();
    this.#transient = false;
  }

  /**
   * The next complete handshake or message, or `undefined` when more bytes are needed.
   * @throws {WireError} on a protocol violation; the decoder is dead afterwards.
   */
  next(): WireMessage | HandshakeInfo | undefined {
    if (this.#error !== undefined) throw this.#error;
    try {
      return this.#step();
    } catch (e) {
      if (e instanceof WireError) {
        this.#error = e;
        this.#q.clear();
      }
      throw e;
    }
  }

  #step(): WireMessage | HandshakeInfo | undefined {
    const q = this.#q;
    if (this.#state === S_HANDSHAKE) return this.#handshake();
    if (this.#state === S_LENGTH) {
      if (q.length < 4) return undefined;
      const len = q.readU32();
      if (len === 0) return KEEP_ALIVE;
      // Before the id is even read: nothing this long could be valid, whatever it claims to be.
      if (len > this.#maxLength) {
        fail("WIRE_MESSAGE_TOO_LONG", `message length ${len} exceeds ${this.#maxLength}`);
      }
      this.#length = len;
      this.#state = S_ID;
    }
    if (this.#state === S_ID) {
      if (q.length < 1) return undefined;
      const id = q.readU8();
      this.#id = id;
      const simple = this.#checkId(id, this.#length);
      if (simple !== undefined) {
        this.#state = S_LENGTH;
        return simple;
      }
      this.#state = id === MessageId.piece ? S_PIECE_HEADER : S_BODY;
    }
    if (this.#state === S_PIECE_HEADER) {
      // Index and begin are checked before the block arrives, so a bad one costs us nothing.
      if (q.length < 8) return undefined;
      this.#pieceIndex = q.readU32();
      this.#pieceBegin = q.readU32();
      this.#checkBlock(this.#pieceIndex, this.#pieceBegin, this.#length - 9);
      this.#state = S_BODY;
    }
    const id = this.#id;
    const need = id === MessageId.piece ? this.#length - 9 : this.#length - 1;
    if (q.length < need) return undefined;
    this.#state = S_LENGTH;
    return this.#body(id, need);
  }

  #handshake(): HandshakeInfo | undefined {
    const q = this.#q;
    // Check the protocol prefix on whatever has arrived so a non-BitTorrent peer fails fast.
    const have = Math.min(q.length, HANDSHAKE_PREFIX.length);
    for (let i = 0; i < have; i++) {
      if (q.peek(i) !== HANDSHAKE_PREFIX[i]) {
        fail(
          "WIRE_BAD_HANDSHAKE",
          i === 0
            ? `handshake pstrlen is ${q.peek(0)}, not 19`
            : `handshake protocol string differs from "BitTorrent protocol" at byte ${i}`,
        );
      }
    }
    if (q.length < HANDSHAKE_LENGTH) return undefined;
    // Copies: the handshake is once per connection and its fields outlive the chunks. (Not
    // slice(): on a Buffer chunk that is a view.)
    const raw = q.take(HANDSHAKE_LENGTH);
    const reserved = new Uint8Array(raw.subarray(20, 28));
    const info: HandshakeInfo = {
      type: "handshake",
      reserved,
      infoHash: new Uint8Array(raw.subarray(28, 48)),
      peerId: new Uint8Array(raw.subarray(48, 68)) as PeerId,
    };
    this.#fast &&= hasFeature(reserved, "fast");
    this.#extended &&= hasFeature(reserved, "extended");
    this.#updateMaxLength();
    this.#state = S_LENGTH;
    return info;
  }

  /**
   * Check message `id` of length `len` (id byte included) against negotiation, ordering and the
   * length rule of its id. Returns the message when it has no payload.
   */
  #checkId(id: number, len: number): WireMessage | undefined {
    switch (id) {
      case MessageId.choke:
      case MessageId.unchoke:
      case MessageId.interested:
      case MessageId.notInterested:
        this.#initial = false;
        exactLength(id, len, 1);
        return id === MessageId.choke
          ? CHOKE
          : id === MessageId.unchoke
            ? UNCHOKE
            : id === MessageId.interested
              ? INTERESTED
              : NOT_INTERESTED;
      case MessageId.have:
        this.#initial = false;
        exactLength(id, len, 5);
        return undefined;
      case MessageId.request:
      case MessageId.cancel:
        this.#initial = false;
        exactLength(id, len, 13);
        return undefined;
      case MessageId.bitfield: {
        if (this.#lateBitfield) this.#initial = false;
        else this.#firstOnly("bitfield");
        const g = this.#geometry;
        if (g !== undefined && len - 1 !== bitfieldLength(g.pieceCount)) {
          fail(
            "WIRE_BAD_BITFIELD",
            `bitfield of ${len - 1} bytes, expected ${bitfieldLength(g.pieceCount)} for ${g.pieceCount} pieces`,
          );
        }
        if (g === undefined && len === 1) fail("WIRE_BAD_BITFIELD", "empty bitfield");
        if (g === undefined && len - 1 > this.#maxExtended) {
          fail(
            "WIRE_MESSAGE_TOO_LONG",
            `bitfield of ${len - 1} bytes exceeds ${this.#maxExtended}`,
          );
        }
        return undefined;
      }
      case MessageId.piece:
        this.#initial = false;
        if (len < 10) fail("WIRE_BAD_LENGTH", `piece message of length ${len} carries no block`);
        if (len - 9 > this.#maxBlock) {
          fail(
            "WIRE_MESSAGE_TOO_LONG",
            `piece block of ${len - 9} bytes exceeds ${this.#maxBlock}`,
          );
        }
        return undefined;
      case MessageId.port:
        exactLength(id, len, 3);
        return undefined;
      case MessageId.suggest:
      case MessageId.allowedFast:
        this.#needFast(id);
        this.#initial = false;
        exactLength(id, len, 5);
        return undefined;
      case MessageId.reject:
        this.#needFast(id);
        this.#initial = false;
        exactLength(id, len, 13);
        return undefined;
      case MessageId.haveAll:
      case MessageId.haveNone:
        this.#needFast(id);
        // aria2 sends have_all when it completes mid-connection, as it does a late bitfield.
        if (this.#lateBitfield) this.#initial = false;
        else this.#firstOnly(id === MessageId.haveAll ? "have_all" : "have_none");
        exactLength(id, len, 1);
        return id === MessageId.haveAll ? HAVE_ALL : HAVE_NONE;
      case MessageId.extended:
        if (!this.#extended) {
          fail("WIRE_UNEXPECTED_MESSAGE", "extended message (id 20) without BEP 10 negotiated");
        }
        if (len < 2) fail("WIRE_BAD_LENGTH", "extended message without an extended id");
        if (len > this.#maxExtended) {
          fail(
            "WIRE_MESSAGE_TOO_LONG",
            `extended message of ${len} bytes exceeds ${this.#maxExtended}`,
          );
        }
        return undefined;
      default:
        if (len > this.#maxUnknown) {
          fail(
            "WIRE_MESSAGE_TOO_LONG",
            `unknown message id ${id} of ${len} bytes exceeds ${this.#maxUnknown}`,
          );
        }
        return undefined;
    }
  }

  #body(id: number, n: number): WireMessage {
    const q = this.#q;
    switch (id) {
      case MessageId.have:
      case MessageId.suggest:
      case MessageId.allowedFast: {
        const index = q.readU32();
        this.#checkIndex(index);
        const type =
          id === MessageId.have ? "have" : id === MessageId.suggest ? "suggest" : "allowed_fast";
        return { type, index: index as PieceIndex };
      }
      case MessageId.request:
      case MessageId.cancel:
      case MessageId.reject: {
        const index = q.readU32();
        const begin = q.readU32();
        const length = q.readU32();
        if (length === 0 || length > this.#maxBlock) {
          fail("WIRE_BAD_BLOCK_LENGTH", `block length ${length} outside 1..${this.#maxBlock}`);
        }
        this.#checkBlock(index, begin, length);
        const type =
          id === MessageId.request ? "request" : id === MessageId.cancel ? "cancel" : "reject";
        return { type, index: index as PieceIndex, begin, length };
      }
      case MessageId.piece:
        return {
          type: "piece",
          index: this.#pieceIndex as PieceIndex,
          begin: this.#pieceBegin,
          block: q.take(n),
        };
      case MessageId.bitfield: {
        const bits = this.#takeOwned(n);
        if (this.#geometry !== undefined) validateBitfield(bits, this.#geometry.pieceCount);
        return { type: "bitfield", bits };
      }
      case MessageId.port:
        return { type: "port", port: (q.readU8() << 8) | q.readU8() };
      case MessageId.extended: {
        const extId = q.readU8();
        return { type: "extended", extId, payload: this.#takeOwned(n - 1) };
      }
      default:
        return { type: "unknown", id, payload: this.#takeOwned(n) };
    }
  }

  /** `n` bytes the caller may keep: a copy when they may lie in a transient chunk. */
  #takeOwned(n: number): Uint8Array {
    const b = this.#q.take(n);
    return this.#transient ? new Uint8Array(b) : b;
  }

  #checkIndex(index: number): void {
    const g = this.#geometry;
    if (g !== undefined && index >= g.pieceCount) {
      fail("WIRE_INDEX_OUT_OF_RANGE", `piece index ${index} ≥ piece count ${g.pieceCount}`);
    }
  }

  /** `begin + length` must lie inside piece `index` (block length itself checked by callers). */
  #checkBlock(index: number, begin: number, length: number): void {
    this.#checkIndex(index);
    const g = this.#geometry;
    if (g === undefined) return;
    const size = pieceSize(g, index);
    // u32 + u32 is exact in a double, so no overflow can wrap a bad range into a good one.
    if (begin + length > size) {
      fail(
        "WIRE_BLOCK_OUT_OF_RANGE",
        `block ${begin}+${length} past the end of piece ${index} (${size} bytes)`,
      );
    }
  }

  #needFast(id: number): void {
    if (!this.#fast) {
      fail("WIRE_UNEXPECTED_MESSAGE", `Fast extension message (id ${id}) without Fast negotiated`);
    }
  }

  #firstOnly(name: string): void {
    if (!this.#initial) fail("WIRE_UNEXPECTED_MESSAGE", `${name} is not the first message`);
    this.#initial = false;
  }

  #updateMaxLength(): void {
    const g = this.#geometry;
    this.#maxLength = Math.max(
      13,
      9 + this.#maxBlock,
      this.#maxUnknown,
      g !== undefined ? 1 + bitfieldLength(g.pieceCount) : 1 + this.#maxExtended,
      this.#extended ? this.#maxExtended : 0,
    );
  }
}

function fail(code: WireErrorCode, message: string): never {
  throw new WireError(code, message);
}

function exactLength(id: number, len: number, want: number): void {
  if (len !== want) fail("WIRE_BAD_LENGTH", `message id ${id} has length ${len}, expected ${want}`);
}

function positive(name: string, v: number): number {
  if (!(Number.isSafeInteger(v) && v >= 1)) throw new RangeError(`${name} ${v} must be ≥ 1`);
  return v;
}
