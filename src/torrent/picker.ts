/**
 * The piece picker: which blocks to ask of which peer. Pure (sans-I/O): no timers, no sockets;
 * randomness is injected.
 *
 * Policy, after libtorrent's `piece_picker`:
 * 1. Higher priority levels first (1..7; 0 = skip, never picked).
 * 2. Within a level, partial pieces first: the piece this peer was already working on, else the
 *    open partial piece closest to completion. This keeps the number of partial pieces (and the
 *    memory they hold) near the number of peers.
 * 3. Then a fresh piece: random among the peer's pieces until we have
 *    {@link INITIAL_RANDOM_PIECES} (a new peer gets something to trade quickly), rarest first after.
 *    Blocks within a piece are requested in order.
 * 4. Endgame: once every missing wanted block is requested (no fresh piece, no free block in a
 *    partial one), a block already requested from another peer may be requested again, up to
 *    `endgameRequesters` peers per block, fewest requesters first; when it arrives `onBlock`
 *    names the other peers to send `cancel` to.
 *
 * Data structures (the costs that matter at ~20k picks per second):
 * - Fresh pieces (wanted, missing, no block requested or received) live in availability buckets,
 *   one array per (priority, availability) pair, each in random order. Availability counts only
 *   non-seed peers (a seed adds to every piece alike, so it is one counter). A HAVE moves one
 *   piece to the next bucket in O(1); starting a piece removes it in O(1).
 * - A rarest-first pick walks the buckets from the rarest and stops at the first piece the peer
 *   has: O(1) for a seed, ~1/f for a peer with a fraction f of the pieces. The walk has a budget;
 *   when a peer's pieces are all among the common ones the budget runs out and the peer gets a
 *   per-peer candidate list instead: one pass over its bitfield (bytes ANDed with the fresh set)
 *   keeps the {@link CANDIDATES} rarest, and the next picks consume it. So no pick costs a scan of
 *   all pieces; one such pass is amortised over up to {@link CANDIDATES} pieces started.
 * - When that pass finds fewer pieces than the list holds, the list is exact (every fresh piece
 *   the peer has) until some piece becomes fresh again: the peer's HAVEs are appended to it, and
 *   a peer with nothing to offer costs O(1) per pick instead of a pass per pick.
 * - Partial pieces with free blocks are a short list; each piece keeps a cursor to its first free
 *   block.
 * - Interest: a per-peer count of the wanted pieces it has that we lack, kept up to date on
 *   HAVE, on our own completions and on priority changes; `isInteresting` is O(1).
 *
 * Peer keys are caller-chosen integers in 0..2^31-1.
 */
import { TesseraError } from "../errors.js";
import { Bitfield } from "../util/bitfield.js";

/** Request size (BEP 3: 16 KiB; the last block of the last piece may be shorter). */
export const BLOCK_SIZE = 16 * 1024;
/** Priority of a wanted piece unless told otherwise (libtorrent's default_priority). */
export const DEFAULT_PRIORITY = 4;
export const MAX_PRIORITY = 7;
/** Pieces picked at random (not rarest) until we have this many (libtorrent's initial_picker_threshold). */
export const INITIAL_RANDOM_PIECES = 4;
/** In endgame, the most peers a single block is requested from at once. */
export const DEFAULT_ENDGAME_REQUESTERS = 2;
/** Pieces a rarest-first walk may examine before falling back to the per-peer candidate list. */
export const SCAN_BUDGET = 128;
/** Size of a peer's candidate list (its rarest fresh pieces). */
export const CANDIDATES = 32;
/** Random probes for a peer's random pick before falling back to rarest first. */
const RANDOM_PROBES = 16;

export class PickerError extends TesseraError {}

export interface BlockRef {
  piece: number;
  begin: number;
  length: number;
}

export interface PiecePickerOptions {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
  /** Uniform in [0, 1); default `Math.random`. */
  random?: () => number;
  blockSize?: number;
  /** Random picks until this many pieces are had; default {@link INITIAL_RANDOM_PIECES}. */
  initialRandomPieces?: number;
  /** Endgame: most peers one block is requested from; default {@link DEFAULT_ENDGAME_REQUESTERS}. */
  endgameRequesters?: number;
  /** Tuning (tests use small values): rarest-first walk budget; default {@link SCAN_BUDGET}. */
  scanBudget?: number;
  /** Tuning (tests use small values): candidate list size; default {@link CANDIDATES}. */
  candidates?: number;
}

export interface PickOptions {
  /** False: only continue pieces already started (and endgame); e.g. when piece memory is full. */
  allowNewPieces?: boolean;
  /** Start at most this many new pieces (default: no limit); 0 is `allowNewPieces: false`. */
  maxNewPieces?: number;
}

export interface BlockResult {
  /**
   * - `new`: a block we lacked; the caller keeps the data. It counts even when this peer had no
   *   request out for it (a late block after a timeout or a choke is still good data).
   * - `duplicate`: we already had it (endgame race, or a piece already verified): drop the data.
   * - `unexpected`: not a block of this torrent (bad offset) or of a piece we do not want.
   */
  status: "new" | "duplicate" | "unexpected";
  /** Endgame: other peers that had this block requested; send them `cancel`. */
  cancel?: number[];
  /** Every block of the piece is now in: hash it, then call `onPieceHashed`. */
  pieceComplete: boolean;
}

export interface HashFailure {
  /** Distinct peers that sent blocks of the failed piece. */
  contributors: number[];
  /** Sender of each block (-1: none), for smart ban. */
  blockSenders: Int32Array;
}

const FREE = 0;
const REQUESTED = 1;
const RECEIVED = 2;

const NONE = -1;
const OVER_BUDGET = -2;

const RESULT_NEW: BlockResult = Object.freeze({ status: "new", pieceComplete: false });
const RESULT_NEW_COMPLETE: BlockResult = Object.freeze({ status: "new", pieceComplete: true });
const RESULT_DUPLICATE: BlockResult = Object.freeze({ status: "duplicate", pieceComplete: false });
const RESULT_UNEXPECTED: BlockResult = Object.freeze({
  status: "unexpected",
  pieceComplete: false,
});

/** A piece with at least one block requested or received. */
class Downloading {
  piece = -1;
  nBlocks = 0;
  /** FREE / REQUESTED / RECEIVED per block. */
  readonly state: Uint8Array;
  /** First requester of each block, -1 if none. */
  readonly req: Int32Array;
  /** Number of requesters of each block (more than 1 only in endgame). */
  readonly reqN: Uint8Array;
  /** Sender of each received block, -1 if none. */
  readonly sender: Int32Array;
  /** Requesters beyond the first: pairs (block, peer). Endgame only; short. */
  extra: number[] = [];
  nFree = 0;
  nRequested = 0;
  nReceived = 0;
  /** Every block before `hint` is not FREE. */
  hint = 0;
  /** Index in the open list (pieces with free blocks), -1 if not there. */
  openIdx = -1;
  /** Index in the list of all downloading pieces. */
  listIdx = -1;

  constructor(capacity: number) {
    this.state = new Uint8Array(capacity);
    this.req = new Int32Array(capacity);
    this.reqN = new Uint8Array(capacity);
    this.sender = new Int32Array(capacity);
  }

  reset(piece: number, nBlocks: number): void {
    this.piece = piece;
    this.nBlocks = nBlocks;
    this.state.fill(FREE, 0, nBlocks);
    this.req.fill(-1, 0, nBlocks);
    this.reqN.fill(0, 0, nBlocks);
    this.sender.fill(-1, 0, nBlocks);
    this.extra.length = 0;
    this.nFree = nBlocks;
    this.nRequested = 0;
    this.nReceived = 0;
    this.hint = 0;
    this.openIdx = -1;
    this.listIdx = -1;
  }
}

class PeerState {
  readonly key: number;
  /** Its pieces; null for a seed. */
  bits: Bitfield | null;
  /** Wanted pieces it has that we lack (non-seeds only). */
  interesting = 0;
  /** Piece it last picked from. */
  cur = -1;
  /** Requests out to it, and the pieces they may be in (pruned lazily). */
  outstanding = 0;
  readonly reqPieces = new Set<number>();
  /**
   * Candidate list, entries [candPos, candLen): its rarest fresh pieces at the time of the last
   * pass over its bitfield (entries that stopped being fresh are skipped when met).
   */
  cand: Int32Array | null = null;
  candLen = 0;
  candPos = 0;
  /** `orderEpoch` the list was built at; a list from another epoch is void. */
  candEpoch = -1;
  /**
   * `freshEpoch` at which the list held every fresh piece of this peer (possibly none): while
   * no piece becomes fresh, a peer with an exhausted exact list has nothing to pick, and its
   * HAVEs are appended to the list.
   */
  exactEpoch = -1;

  constructor(key: number, bits: Bitfield | null) {
    this.key = key;
    this.bits = bits;
  }
}

export class PiecePicker {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockSize: number;
  readonly #blocksPerPiece: number;
  readonly #random: () => number;
  readonly #initialRandom: number;
  readonly #endgameRequesters: number;
  readonly #scanBudget: number;
  readonly #candMax: number;
  /** Scratch keys for building candidate lists. */
  readonly #candKeys: Float64Array;

  readonly #have: Bitfield;
  /** Wanted and not had. */
  readonly #need: Bitfield;
  #needCount: number;
  readonly #prio: Uint8Array;
  /** Non-seed peers that have each piece. */
  readonly #avail: Int32Array;
  #seeds = 0;

  /** Fresh pieces: buckets[priority][availability] → pieces, in random order. */
  readonly #buckets: number[][][] = [];
  readonly #levelCount = new Int32Array(MAX_PRIORITY + 1);
  #freshTotal = 0;
  /** Position of a fresh piece in its bucket; -1 when not fresh. */
  readonly #pos: Int32Array;
  readonly #fresh: Bitfield;
  /** Bumped whenever a piece becomes fresh. */
  #freshEpoch = 0;
  /** Bumped whenever the ordering changes wholesale (priority changes, seed conversions). */
  #orderEpoch = 0;

  readonly #dl: (Downloading | null)[];
  readonly #dlList: Downloading[] = [];
  readonly #open: Downloading[] = [];
  readonly #pool: Downloading[] = [];

  readonly #peers = new Map<number, PeerState>();

  constructor(o: PiecePickerOptions) {
    const { pieceCount, pieceLength, totalLength } = o;
    const blockSize = o.blockSize ?? BLOCK_SIZE;
    if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0)
      throw geometry(`piece length ${pieceLength}`);
    if (!Number.isSafeInteger(totalLength) || totalLength <= 0)
      throw geometry(`total length ${totalLength}`);
    if (!Number.isSafeInteger(blockSize) || blockSize <= 0)
      throw geometry(`block size ${blockSize}`);
    if (!Number.isSafeInteger(pieceCount) || pieceCount !== Math.ceil(totalLength / pieceLength)) {
      throw geometry(`${pieceCount} pieces for ${totalLength} bytes in pieces of ${pieceLength}`);
    }
    if (pieceCount >= 2 ** 31) throw geometry(`${pieceCount} pieces`);
    this.pieceCount = pieceCount;
    this.pieceLength = pieceLength;
    this.totalLength = totalLength;
    this.blockSize = blockSize;
    this.#blocksPerPiece = Math.ceil(pieceLength / blockSize);
    if (this.#blocksPerPiece > 0xffff) throw geometry(`${this.#blocksPerPiece} blocks per piece`);
    this.#random = o.random ?? Math.random;
    this.#initialRandom = o.initialRandomPieces ?? INITIAL_RANDOM_PIECES;
    this.#endgameRequesters = Math.max(
      1,
      Math.min(255, o.endgameRequesters ?? DEFAULT_ENDGAME_REQUESTERS),
    );
    this.#scanBudget = Math.max(1, o.scanBudget ?? SCAN_BUDGET);
    this.#candMax = Math.max(1, o.candidates ?? CANDIDATES);
    this.#candKeys = new Float64Array(this.#candMax);

    this.#have = new Bitfield(pieceCount);
    this.#need = Bitfield.full(pieceCount);
    this.#needCount = pieceCount;
    this.#prio = new Uint8Array(pieceCount).fill(DEFAULT_PRIORITY);
    this.#avail = new Int32Array(pieceCount);
    this.#pos = new Int32Array(pieceCount).fill(-1);
    this.#fresh = new Bitfield(pieceCount);
    this.#dl = new Array<Downloading | null>(pieceCount).fill(null);
    for (let l = 0; l <= MAX_PRIORITY; l++) this.#buckets.push([[]]);
    for (let i = 0; i < pieceCount; i++) this.#orderAdd(i);
  }

  // ---- geometry ------------------------------------------------------------------------------

  /** Bytes in piece `piece` (the last one may be short). */
  pieceSize(piece: number): number {
    return piece === this.pieceCount - 1
      ? this.totalLength - piece * this.pieceLength
      : this.pieceLength;
  }

  /** Blocks in piece `piece`. */
  blockCount(piece: number): number {
    return piece === this.pieceCount - 1
      ? Math.ceil(this.pieceSize(piece) / this.blockSize)
      : this.#blocksPerPiece;
  }

  /** Length of the block of `piece` at `begin`. */
  blockLength(piece: number, begin: number): number {
    return Math.min(this.blockSize, this.pieceSize(piece) - begin);
  }

  // ---- our pieces ----------------------------------------------------------------------------

  /** Verified pieces. Read-only to callers: change it through `setHave` / `onPieceHashed`. */
  get have(): Bitfield {
    return this.#have;
  }

  /** All wanted pieces had. */
  isComplete(): boolean {
    return this.#needCount === 0;
  }

  /** Wanted pieces not yet had. */
  get missingCount(): number {
    return this.#needCount;
  }

  /**
   * Mark a piece verified (resume recheck, or after hashing). Requests still out for it are
   * forgotten: the caller cancels them if it had any.
   */
  setHave(piece: number): void {
    this.#checkPiece(piece);
    if (!this.#have.set(piece)) return;
    const d = this.#dl[piece];
    if (d !== null && d !== undefined) {
      this.#dropAllRequests(d);
      this.#release(d, false);
    }
    if (this.#pos[piece]! >= 0) this.#orderRemove(piece);
    if (this.#prio[piece]! > 0) this.#needChanged(piece, false);
  }

  /**
   * A piece we had is gone (its data was lost on disk): it is missing again, and wanted again if
   * its priority says so.
   */
  unsetHave(piece: number): void {
    this.#checkPiece(piece);
    if (!this.#have.clear(piece)) return;
    this.#orderEpoch++;
    if (this.#prio[piece]! > 0) {
      this.#orderAdd(piece);
      this.#needChanged(piece, true);
    }
  }

  priority(piece: number): number {
    this.#checkPiece(piece);
    return this.#prio[piece]!;
  }

  /** 0 = do not download; 1..7, higher first. */
  setPriority(piece: number, priority: number): void {
    this.#checkPiece(piece);
    if (!Number.isInteger(priority) || priority < 0 || priority > MAX_PRIORITY) {
      throw new PickerError(
        "PICKER_BAD_PRIORITY",
        `priority ${priority} is not an integer in 0..${MAX_PRIORITY}`,
      );
    }
    const old = this.#prio[piece]!;
    if (old === priority) return;
    this.#orderEpoch++;
    if (this.#have.has(piece)) {
      this.#prio[piece] = priority;
      return;
    }
    if (this.#pos[piece]! >= 0) this.#orderRemove(piece);
    this.#prio[piece] = priority;
    const d = this.#dl[piece];
    if (d !== null && d !== undefined) {
      if (priority === 0) this.#openRemove(d);
      else if (d.nFree > 0 && d.openIdx < 0) this.#openAdd(d);
    } else if (priority > 0) {
      this.#orderAdd(piece);
    }
    if ((old === 0) !== (priority === 0)) this.#needChanged(piece, priority > 0);
  }

  /** Set every piece's priority at once (e.g. from a file selection). */
  setPriorities(priorities: ArrayLike<number>): void {
    if (priorities.length !== this.pieceCount) {
      throw new PickerError(
        "PICKER_BAD_PRIORITY",
        `${priorities.length} priorities for ${this.pieceCount} pieces`,
      );
    }
    for (let i = 0; i < this.pieceCount; i++) this.setPriority(i, priorities[i]!);
  }

  /** Shorthand: wanted → {@link DEFAULT_PRIORITY} (unless already wanted), unwanted → 0. */
  setWanted(piece: number, wanted: boolean): void {
    if (!wanted) this.setPriority(piece, 0);
    else if (this.priority(piece) === 0) this.setPriority(piece, DEFAULT_PRIORITY);
  }

  // ---- availability --------------------------------------------------------------------------

  /**
   * A peer's pieces are known (bitfield, HaveAll, HaveNone). The bitfield is copied: later
   * changes arrive through `peerHave`.
   */
  addPeer(peerKey: number, bitfield: Bitfield | "all" | "none"): void {
    checkKey(peerKey);
    if (this.#peers.has(peerKey))
      throw new PickerError("PICKER_DUPLICATE_PEER", `peer ${peerKey} added twice`);
    if (bitfield instanceof Bitfield && bitfield.length !== this.pieceCount) {
      throw new PickerError(
        "PICKER_BAD_BITFIELD",
        `bitfield of ${bitfield.length} bits for ${this.pieceCount} pieces`,
      );
    }
    if (bitfield === "all" || (bitfield instanceof Bitfield && bitfield.complete)) {
      this.#peers.set(peerKey, new PeerState(peerKey, null));
      this.#seeds++;
      return;
    }
    const bits = bitfield === "none" ? new Bitfield(this.pieceCount) : bitfield.clone();
    const p = new PeerState(peerKey, bits);
    this.#peers.set(peerKey, p);
    const bytes = bits.bytes;
    const need = this.#need.bytes;
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes[i]!;
      if (v === 0) continue;
      const nv = v & need[i]!;
      if (nv !== 0) p.interesting += popcount8(nv);
      for (let bit = 0; bit < 8; bit++) if (v & (0x80 >> bit)) this.#availInc(i * 8 + bit);
    }
  }

  /** A peer announced a piece (HAVE). An unknown peer is added with an empty bitfield first. */
  peerHave(peerKey: number, piece: number): void {
    this.#checkPiece(piece);
    let p = this.#peers.get(peerKey);
    if (p === undefined) {
      this.addPeer(peerKey, "none");
      p = this.#peers.get(peerKey)!;
    }
    const bits = p.bits;
    if (bits === null || !bits.set(piece)) return;
    this.#availInc(piece);
    if (this.#need.has(piece)) p.interesting++;
    if (bits.complete) this.#becomeSeed(p);
    else if (this.#pos[piece]! >= 0 && this.#isExact(p)) this.#appendCandidate(p, piece);
  }

  /** The peer is gone: its availability is withdrawn and its requests become pickable again. */
  removePeer(peerKey: number): void {
    const p = this.#peers.get(peerKey);
    if (p === undefined) return;
    this.releasePeerRequests(peerKey);
    this.#peers.delete(peerKey);
    if (p.bits === null) {
      this.#seeds--;
      return;
    }
    const bytes = p.bits.bytes;
    for (let i = 0; i < bytes.length; i++) {
      const v = bytes[i]!;
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) if (v & (0x80 >> bit)) this.#availDec(i * 8 + bit);
    }
  }

  hasPeer(peerKey: number): boolean {
    return this.#peers.has(peerKey);
  }

  /** Peers (seeds included) known to have `piece`. */
  availability(piece: number): number {
    this.#checkPiece(piece);
    return this.#avail[piece]! + this.#seeds;
  }

  /** Connected peers that have every piece. */
  get seedCount(): number {
    return this.#seeds;
  }

  /** The peer has a wanted piece we lack. O(1). */
  isInteresting(peerKey: number): boolean {
    const p = this.#peers.get(peerKey);
    if (p === undefined) return false;
    return p.bits === null ? this.#needCount > 0 : p.interesting > 0;
  }

  // ---- requests ------------------------------------------------------------------------------

  /**
   * Append to `out` up to `max` blocks to request from this peer, and mark them requested by it.
   * Returns how many were appended.
   */
  pick(peerKey: number, max: number, out: BlockRef[], options?: PickOptions): number {
    const p = this.#peers.get(peerKey);
    if (p === undefined || max <= 0 || this.#needCount === 0) return 0;
    if (p.bits !== null && p.interesting === 0) return 0;
    let budget = options?.allowNewPieces === false ? 0 : (options?.maxNewPieces ?? Infinity);
    let n = 0;
    while (n < max) {
      let d = this.#bestPartial(p);
      if (budget > 0) {
        const minLevel = d === null ? 0 : this.#prio[d.piece]!;
        let x = this.#nextInLine(p, minLevel);
        if (x < 0) x = this.#pickFresh(p, minLevel);
        if (x >= 0) {
          d = this.#start(x);
          budget--;
        }
      }
      if (d === null) break;
      const taken = this.#take(d, p, max - n, out);
      if (taken === 0) break; // unreachable: an open or fresh piece has a free block
      n += taken;
      p.cur = d.piece;
    }
    if (n < max && this.inEndgame()) n += this.#pickEndgame(p, max - n, out);
    return n;
  }

  /**
   * Every missing wanted block is requested (or received): no fresh piece is left and no
   * partial piece has a free block. A piece nobody has keeps us out of endgame.
   */
  inEndgame(): boolean {
    return this.#freshTotal === 0 && this.#open.length === 0 && this.#needCount > 0;
  }

  /** A block arrived from `peerKey`. See {@link BlockResult}. */
  onBlock(peerKey: number, piece: number, begin: number): BlockResult {
    const b = this.#blockIndex(piece, begin);
    if (b < 0) return RESULT_UNEXPECTED;
    if (this.#have.has(piece)) return RESULT_DUPLICATE;
    let d = this.#dl[piece] ?? null;
    if (d === null) {
      // Nothing requested any more (a late block after a cancel, or unsolicited).
      if (this.#prio[piece] === 0) return RESULT_UNEXPECTED;
      d = this.#start(piece);
    }
    const st = d.state[b]!;
    if (st === RECEIVED) return RESULT_DUPLICATE;
    let cancel: number[] | undefined;
    if (st === REQUESTED) {
      const first = d.req[b]!;
      if (first === peerKey) this.#outstandingDec(first);
      else cancel = [first];
      if (d.reqN[b]! > 1) {
        const ex = d.extra;
        let w = 0;
        for (let i = 0; i < ex.length; i += 2) {
          if (ex[i] === b) {
            const k = ex[i + 1]!;
            if (k === peerKey) this.#outstandingDec(k);
            else if (cancel === undefined) cancel = [k];
            else cancel.push(k);
          } else {
            ex[w++] = ex[i]!;
            ex[w++] = ex[i + 1]!;
          }
        }
        ex.length = w;
      }
      // The other requesters' requests are withdrawn here; the caller sends the cancels.
      if (cancel !== undefined) for (const k of cancel) this.#outstandingDec(k);
      d.req[b] = -1;
      d.reqN[b] = 0;
      d.nRequested--;
    } else {
      d.nFree--;
      if (d.nFree === 0) this.#openRemove(d);
    }
    d.state[b] = RECEIVED;
    d.sender[b] = peerKey;
    d.nReceived++;
    const complete = d.nReceived === d.nBlocks;
    if (cancel === undefined) return complete ? RESULT_NEW_COMPLETE : RESULT_NEW;
    return { status: "new", cancel, pieceComplete: complete };
  }

  /** Every block of the piece has arrived (it awaits its hash check). */
  pieceBlocksComplete(piece: number): boolean {
    this.#checkPiece(piece);
    const d = this.#dl[piece];
    return d !== null && d !== undefined && d.nReceived === d.nBlocks;
  }

  /** Sender of each block of a piece being downloaded (-1: none yet), or undefined. */
  blockSenders(piece: number): Int32Array | undefined {
    this.#checkPiece(piece);
    const d = this.#dl[piece];
    return d === null || d === undefined ? undefined : d.sender.slice(0, d.nBlocks);
  }

  /** Whether `peerKey` has a request out for this block. */
  isRequested(peerKey: number, piece: number, begin: number): boolean {
    const b = this.#blockIndex(piece, begin);
    const d = b < 0 ? null : (this.#dl[piece] ?? null);
    return d !== null && d.state[b] === REQUESTED && this.#isRequester(d, b, peerKey);
  }

  /** Requests out to this peer. */
  outstanding(peerKey: number): number {
    return this.#peers.get(peerKey)?.outstanding ?? 0;
  }

  /**
   * A request to this peer is gone (we cancelled it, it timed out, the peer rejected it or
   * choked us): the block is pickable again unless another peer still has it requested.
   */
  onRequestCancelled(peerKey: number, piece: number, begin: number): void {
    const b = this.#blockIndex(piece, begin);
    if (b < 0) return;
    const d = this.#dl[piece];
    if (d === null || d === undefined || d.state[b] !== REQUESTED) return;
    if (!this.#removeRequester(d, b, peerKey)) return;
    this.#outstandingDec(peerKey);
    if (d.reqN[b] === 0) this.#freeBlock(d, b);
    if (d.nRequested === 0 && d.nReceived === 0) this.#release(d, true);
  }

  /** Same as {@link onRequestCancelled}. */
  onRequestRejected(peerKey: number, piece: number, begin: number): void {
    this.onRequestCancelled(peerKey, piece, begin);
  }

  /** Withdraw every request out to this peer (it choked us without the fast extension). */
  releasePeerRequests(peerKey: number): number {
    const p = this.#peers.get(peerKey);
    if (p === undefined || p.outstanding === 0) {
      p?.reqPieces.clear();
      return 0;
    }
    let freed = 0;
    for (const piece of p.reqPieces) {
      const d = this.#dl[piece];
      if (d === null || d === undefined) continue;
      for (let b = 0; b < d.nBlocks; b++) {
        if (d.state[b] !== REQUESTED || !this.#removeRequester(d, b, peerKey)) continue;
        freed++;
        p.outstanding--;
        if (d.reqN[b] === 0) this.#freeBlock(d, b);
      }
      if (d.nRequested === 0 && d.nReceived === 0) this.#release(d, true);
    }
    p.reqPieces.clear();
    p.outstanding = 0;
    return freed;
  }

  /**
   * The piece was hashed. Passed: it is had. Failed: every block is dropped and the piece is
   * fresh again; the result names who sent what, for blame and smart ban.
   */
  onPieceHashed(piece: number, ok: boolean): HashFailure | undefined {
    this.#checkPiece(piece);
    if (ok) {
      this.setHave(piece);
      return undefined;
    }
    const d = this.#dl[piece];
    if (d === null || d === undefined) return { contributors: [], blockSenders: new Int32Array(0) };
    const blockSenders = d.sender.slice(0, d.nBlocks);
    const seen = new Set<number>();
    for (const s of blockSenders) if (s >= 0) seen.add(s);
    this.#dropAllRequests(d);
    this.#release(d, true);
    return { contributors: [...seen], blockSenders };
  }

  // ---- introspection (tests, stats) ----------------------------------------------------------

  /** Pieces with at least one block requested or received, not yet verified. */
  get downloadingCount(): number {
    return this.#dlList.length;
  }

  /** Pieces started with at least one free block. */
  get openPartialCount(): number {
    return this.#open.length;
  }

  /** Throws if an internal invariant does not hold. O(pieces × peers); for tests. */
  checkInvariants(): void {
    const fail = (m: string): never => {
      throw new Error(`picker invariant: ${m}`);
    };
    let seeds = 0;
    const avail = new Int32Array(this.pieceCount);
    for (const p of this.#peers.values()) {
      if (p.bits === null) {
        seeds++;
        continue;
      }
      let interesting = 0;
      for (const i of p.bits.ones()) {
        avail[i]!++;
        if (this.#need.has(i)) interesting++;
      }
      if (interesting !== p.interesting)
        fail(`peer ${p.key} interesting ${p.interesting} != ${interesting}`);
      if (p.bits.complete) fail(`peer ${p.key} complete but not a seed`);
    }
    if (seeds !== this.#seeds) fail(`seeds ${this.#seeds} != ${seeds}`);
    let need = 0;
    let fresh = 0;
    const outstanding = new Map<number, number>();
    for (let i = 0; i < this.pieceCount; i++) {
      if (avail[i] !== this.#avail[i])
        fail(`piece ${i} availability ${this.#avail[i]} != ${avail[i]}`);
      const wanted = this.#prio[i]! > 0 && !this.#have.has(i);
      if (wanted !== this.#need.has(i)) fail(`piece ${i} need bit`);
      if (wanted) need++;
      const d = this.#dl[i];
      const isFresh = this.#pos[i]! >= 0;
      if (isFresh !== this.#fresh.has(i)) fail(`piece ${i} fresh bit`);
      if (isFresh) {
        fresh++;
        if (!wanted || d !== null) fail(`piece ${i} fresh but not wanted or downloading`);
        const bucket = this.#buckets[this.#prio[i]!]![this.#avail[i]!];
        if (bucket?.[this.#pos[i]!] !== i) fail(`piece ${i} not at its bucket position`);
      } else if (wanted && d === null) {
        fail(`piece ${i} wanted, not fresh, not downloading`);
      }
      if (d !== null && d !== undefined) {
        if (this.#have.has(i)) fail(`piece ${i} had and downloading`);
        let f = 0;
        let r = 0;
        let v = 0;
        for (let b = 0; b < d.nBlocks; b++) {
          const s = d.state[b];
          if (s === FREE) {
            f++;
            if (b < d.hint) fail(`piece ${i} free block ${b} before hint ${d.hint}`);
            if (d.reqN[b] !== 0) fail(`piece ${i} free block ${b} has requesters`);
          } else if (s === REQUESTED) {
            r++;
            if (d.reqN[b]! < 1 || d.req[b]! < 0) fail(`piece ${i} block ${b} requested by nobody`);
            const ks = [d.req[b]!];
            for (let j = 0; j < d.extra.length; j += 2)
              if (d.extra[j] === b) ks.push(d.extra[j + 1]!);
            if (ks.length !== d.reqN[b]) fail(`piece ${i} block ${b} requester count`);
            if (new Set(ks).size !== ks.length)
              fail(`piece ${i} block ${b} requested twice by one peer`);
            for (const k of ks) {
              outstanding.set(k, (outstanding.get(k) ?? 0) + 1);
              if (!this.#peers.get(k)?.reqPieces.has(i)) fail(`peer ${k} reqPieces lacks ${i}`);
            }
          } else {
            v++;
            if (d.sender[b]! < 0) fail(`piece ${i} block ${b} received from nobody`);
          }
        }
        if (f !== d.nFree || r !== d.nRequested || v !== d.nReceived)
          fail(`piece ${i} block counts`);
        if (r === 0 && v === 0) fail(`piece ${i} downloading with nothing requested or received`);
        const shouldBeOpen = d.nFree > 0 && this.#prio[i]! > 0;
        if (shouldBeOpen !== d.openIdx >= 0) fail(`piece ${i} open-list membership`);
        if (d.openIdx >= 0 && this.#open[d.openIdx] !== d) fail(`piece ${i} open index`);
        if (this.#dlList[d.listIdx] !== d) fail(`piece ${i} list index`);
      }
    }
    if (need !== this.#needCount) fail(`need count ${this.#needCount} != ${need}`);
    if (fresh !== this.#freshTotal) fail(`fresh total ${this.#freshTotal} != ${fresh}`);
    for (const p of this.#peers.values()) {
      if ((outstanding.get(p.key) ?? 0) !== p.outstanding) {
        fail(`peer ${p.key} outstanding ${p.outstanding} != ${outstanding.get(p.key) ?? 0}`);
      }
    }
  }

  // ---- internals: fresh-piece buckets --------------------------------------------------------

  #bucket(level: number, a: number): number[] {
    const lvl = this.#buckets[level]!;
    while (lvl.length <= a) lvl.push([]);
    return lvl[a]!;
  }

  /** Insert at a random position of its bucket (an inside-out shuffle keeps buckets uniform). */
  #bucketInsert(piece: number): void {
    const b = this.#bucket(this.#prio[piece]!, this.#avail[piece]!);
    const n = b.length;
    const j = Math.floor(this.#random() * (n + 1));
    if (j < n) {
      const other = b[j]!;
      b.push(other);
      this.#pos[other] = n;
      b[j] = piece;
      this.#pos[piece] = j;
    } else {
      b.push(piece);
      this.#pos[piece] = n;
    }
  }

  #bucketRemove(piece: number): void {
    const b = this.#buckets[this.#prio[piece]!]![this.#avail[piece]!]!;
    const i = this.#pos[piece]!;
    const last = b.pop()!;
    if (last !== piece) {
      b[i] = last;
      this.#pos[last] = i;
    }
    this.#pos[piece] = -1;
  }

  #orderAdd(piece: number): void {
    this.#bucketInsert(piece);
    this.#levelCount[this.#prio[piece]!]!++;
    this.#freshTotal++;
    this.#fresh.set(piece);
    this.#freshEpoch++;
  }

  #orderRemove(piece: number): void {
    this.#bucketRemove(piece);
    this.#levelCount[this.#prio[piece]!]!--;
    this.#freshTotal--;
    this.#fresh.clear(piece);
  }

  #availInc(piece: number): void {
    if (this.#pos[piece]! >= 0) {
      this.#bucketRemove(piece);
      this.#avail[piece]!++;
      this.#bucketInsert(piece);
    } else {
      this.#avail[piece]!++;
    }
  }

  #availDec(piece: number): void {
    if (this.#pos[piece]! >= 0) {
      this.#bucketRemove(piece);
      this.#avail[piece]!--;
      this.#bucketInsert(piece);
    } else {
      this.#avail[piece]!--;
    }
  }

  /** A peer's bitfield filled up: count it as a seed (availability drops by one everywhere). */
  #becomeSeed(p: PeerState): void {
    p.bits = null;
    p.interesting = 0;
    p.cand = null;
    this.#seeds++;
    for (let l = 0; l <= MAX_PRIORITY; l++) this.#buckets[l] = [[]];
    for (let i = 0; i < this.pieceCount; i++) {
      this.#avail[i]!--;
      if (this.#pos[i]! >= 0) this.#bucketInsert(i);
    }
    this.#orderEpoch++;
  }

  #needChanged(piece: number, needed: boolean): void {
    if (needed) {
      this.#need.set(piece);
      this.#needCount++;
    } else {
      this.#need.clear(piece);
      this.#needCount--;
    }
    const delta = needed ? 1 : -1;
    for (const p of this.#peers.values()) if (p.bits?.has(piece)) p.interesting += delta;
  }

  // ---- internals: choosing pieces ------------------------------------------------------------

  #peerHas(p: PeerState, piece: number): boolean {
    return p.bits === null || p.bits.has(piece);
  }

  /** The open partial piece to continue: this peer's own first, else the highest priority, nearest done. */
  #bestPartial(p: PeerState): Downloading | null {
    if (this.#open.length === 0) return null;
    if (p.cur >= 0) {
      const d = this.#dl[p.cur];
      if (d !== null && d !== undefined && d.openIdx >= 0 && this.#peerHas(p, d.piece)) return d;
    }
    let best: Downloading | null = null;
    let bestPrio = 0;
    for (const d of this.#open) {
      if (!this.#peerHas(p, d.piece)) continue;
      const pr = this.#prio[d.piece]!;
      if (best === null || pr > bestPrio || (pr === bestPrio && d.nFree < best.nFree)) {
        best = d;
        bestPrio = pr;
      }
    }
    return best;
  }

  /**
   * The piece right after the one this peer last worked on, when it is fresh and as good a pick
   * as any: top priority and the lowest availability of any fresh piece. Rarest first leaves
   * ties in random order; breaking them this way makes the pieces of a peer follow one another,
   * so small verified pieces reach the disk as runs (one write each) and the sender reads
   * sequentially (libtorrent's piece extent affinity does the same). Not while picking the
   * first pieces at random. -1 when it does not apply.
   */
  #nextInLine(p: PeerState, minLevel: number): number {
    const y = p.cur + 1;
    if (p.cur < 0 || y >= this.pieceCount || this.#pos[y]! < 0) return NONE;
    if (this.#have.count < this.#initialRandom || !this.#peerHas(p, y)) return NONE;
    const level = this.#prio[y]!;
    if (level <= minLevel) return NONE;
    for (let l = MAX_PRIORITY; l > level; l--) if (this.#levelCount[l]! > 0) return NONE;
    // No fresh piece of that level is rarer. Bucket 0 (pieces only seeds have) counts for a seed;
    // a non-seed has none of them.
    const lvl = this.#buckets[level]!;
    const a = this.#avail[y]!;
    for (let i = p.bits === null ? 0 : 1; i < a && i < lvl.length; i++) {
      if (lvl[i]!.length > 0) return NONE;
    }
    return y;
  }

  /** A fresh piece of priority above `minLevel` for this peer, or -1. */
  #pickFresh(p: PeerState, minLevel: number): number {
    if (this.#freshTotal === 0) return NONE;
    const exact = this.#isExact(p);
    if (!exact && this.#have.count < this.#initialRandom) {
      const x = this.#pickRandom(p, minLevel);
      if (x >= 0) return x;
    }
    if (p.candPos < p.candLen && p.candEpoch === this.#orderEpoch) {
      const x = this.#fromCandidates(p, minLevel);
      if (x >= 0 || exact) return x;
    } else if (exact) {
      return NONE;
    }
    const x = this.#scanRarest(p, minLevel);
    if (x !== OVER_BUDGET) {
      if (x === NONE && minLevel === 0 && p.bits !== null) {
        // Nothing fresh at all: an exact, empty list.
        p.candLen = p.candPos = 0;
        p.candEpoch = this.#orderEpoch;
        p.exactEpoch = this.#freshEpoch;
      }
      return x;
    }
    this.#buildCandidates(p, minLevel);
    return this.#fromCandidates(p, minLevel);
  }

  #isExact(p: PeerState): boolean {
    return p.exactEpoch === this.#freshEpoch && p.candEpoch === this.#orderEpoch;
  }

  /** Keep an exact list exact: a fresh piece the peer just announced joins it. */
  #appendCandidate(p: PeerState, piece: number): void {
    if (p.cand === null) p.cand = new Int32Array(this.#candMax);
    const cand = p.cand;
    if (p.candLen === this.#candMax && p.candPos > 0) {
      cand.copyWithin(0, p.candPos, p.candLen);
      p.candLen -= p.candPos;
      p.candPos = 0;
    }
    if (p.candLen < this.#candMax) cand[p.candLen++] = piece;
    else p.exactEpoch = -1;
  }

  /** Walk the buckets rarest first; -2 when the budget runs out first. */
  #scanRarest(p: PeerState, minLevel: number): number {
    const bits = p.bits;
    let left = this.#scanBudget;
    for (let l = MAX_PRIORITY; l > minLevel; l--) {
      if (this.#levelCount[l] === 0) continue;
      const lvl = this.#buckets[l]!;
      if (bits === null) {
        for (let a = 0; a < lvl.length; a++) {
          const b = lvl[a]!;
          if (b.length > 0) return b[0]!;
        }
        continue;
      }
      const bytes = bits.bytes;
      // A non-seed's pieces have availability >= 1: skip bucket 0.
      for (let a = 1; a < lvl.length; a++) {
        const b = lvl[a]!;
        for (let i = 0; i < b.length; i++) {
          const x = b[i]!;
          if ((bytes[x >> 3]! & (0x80 >> (x & 7))) !== 0) return x;
          if (--left === 0) return OVER_BUDGET;
        }
      }
    }
    return NONE;
  }

  /** Random probes among the fresh pieces of the highest level; -1 if none hit. */
  #pickRandom(p: PeerState, minLevel: number): number {
    const bits = p.bits;
    const from = bits === null ? 0 : 1;
    for (let l = MAX_PRIORITY; l > minLevel; l--) {
      const lvl = this.#buckets[l]!;
      const count = this.#levelCount[l]! - (from === 1 ? lvl[0]!.length : 0);
      if (count <= 0) continue;
      for (let t = 0; t < RANDOM_PROBES; t++) {
        let r = Math.floor(this.#random() * count);
        for (let a = from; a < lvl.length; a++) {
          const b = lvl[a]!;
          if (r < b.length) {
            const x = b[r]!;
            if (bits === null || bits.has(x)) return x;
            break;
          }
          r -= b.length;
        }
      }
      return NONE;
    }
    return NONE;
  }

  /**
   * Take the first fresh candidate above `minLevel` out of the list. Entries no longer fresh are
   * dropped; fresh ones at or below `minLevel` stay, in order.
   */
  #fromCandidates(p: PeerState, minLevel: number): number {
    const cand = p.cand;
    if (cand === null || p.candEpoch !== this.#orderEpoch) return NONE;
    const start = p.candPos;
    const end = p.candLen;
    let w = start; // kept entries are compacted to [start, w); w <= i throughout
    let found = NONE;
    let i = start;
    for (; i < end; i++) {
      const x = cand[i]!;
      if (this.#pos[x]! < 0) continue;
      if (this.#prio[x]! > minLevel) {
        found = x;
        i++;
        break;
      }
      cand[w++] = x;
    }
    if (w === start) {
      p.candPos = i;
    } else {
      if (w !== i) cand.copyWithin(w, i, end);
      p.candLen = w + (end - i);
    }
    return found;
  }

  /** One pass over the peer's bitfield: keep its {@link CANDIDATES} rarest fresh pieces. */
  #buildCandidates(p: PeerState, minLevel: number): void {
    const bits = p.bits!;
    if (p.cand === null) p.cand = new Int32Array(this.#candMax);
    const cand = p.cand;
    // A max-heap on key: the worst kept candidate on top, replaced by anything better.
    const keys = this.#candKeys;
    const max = this.#candMax;
    let n = 0;
    const salt = Math.floor(this.#random() * 2 ** 31);
    const pb = bits.bytes;
    const fb = this.#fresh.bytes;
    for (let i = 0; i < pb.length; i++) {
      const v = pb[i]! & fb[i]!;
      if (v === 0) continue;
      for (let bit = 0; bit < 8; bit++) {
        if ((v & (0x80 >> bit)) === 0) continue;
        const x = i * 8 + bit;
        const pr = this.#prio[x]!;
        if (pr <= minLevel) continue;
        // Priority first, then availability, then a salted hash of the index as a tie-break, so
        // peers holding the same pieces get different candidates rather than racing for the same.
        const tie = Math.imul(x ^ salt, 0x9e3779b1) >>> 20;
        const key =
          ((MAX_PRIORITY - pr) * 2 ** 20 + Math.min(this.#avail[x]!, 2 ** 20 - 1)) * 2 ** 12 + tie;
        if (n < max) {
          let c = n++;
          while (c > 0) {
            const parent = (c - 1) >> 1;
            if (keys[parent]! >= key) break;
            keys[c] = keys[parent]!;
            cand[c] = cand[parent]!;
            c = parent;
          }
          keys[c] = key;
          cand[c] = x;
        } else if (key < keys[0]!) {
          let c = 0;
          for (;;) {
            const l = 2 * c + 1;
            if (l >= n) break;
            const r = l + 1;
            const m = r < n && keys[r]! > keys[l]! ? r : l;
            if (keys[m]! <= key) break;
            keys[c] = keys[m]!;
            cand[c] = cand[m]!;
            c = m;
          }
          keys[c] = key;
          cand[c] = x;
        }
      }
    }
    // Sort ascending by key (a short list: insertion sort).
    for (let i = 1; i < n; i++) {
      const k = keys[i]!;
      const x = cand[i]!;
      let j = i - 1;
      while (j >= 0 && keys[j]! > k) {
        keys[j + 1] = keys[j]!;
        cand[j + 1] = cand[j]!;
        j--;
      }
      keys[j + 1] = k;
      cand[j + 1] = x;
    }
    p.candLen = n;
    p.candPos = 0;
    p.candEpoch = this.#orderEpoch;
    // Everything fit: the list is every fresh piece the peer has.
    p.exactEpoch = minLevel === 0 && n < max ? this.#freshEpoch : -1;
  }

  // ---- internals: downloading pieces ---------------------------------------------------------

  #start(piece: number): Downloading {
    if (this.#pos[piece]! >= 0) this.#orderRemove(piece);
    const nBlocks = this.blockCount(piece);
    const d = this.#pool.pop() ?? new Downloading(this.#blocksPerPiece);
    d.reset(piece, nBlocks);
    this.#dl[piece] = d;
    d.listIdx = this.#dlList.length;
    this.#dlList.push(d);
    if (this.#prio[piece]! > 0) this.#openAdd(d);
    return d;
  }

  /** Forget a downloading piece; back among the fresh ones if `refresh` and still wanted. */
  #release(d: Downloading, refresh: boolean): void {
    const piece = d.piece;
    this.#openRemove(d);
    const last = this.#dlList.pop()!;
    if (last !== d) {
      this.#dlList[d.listIdx] = last;
      last.listIdx = d.listIdx;
    }
    this.#dl[piece] = null;
    d.piece = -1;
    // Pieces start in bursts (a refill of hundreds of small pieces): keep enough to reuse.
    if (this.#pool.length < 4096) this.#pool.push(d);
    if (refresh && this.#prio[piece]! > 0 && !this.#have.has(piece)) this.#orderAdd(piece);
  }

  #openAdd(d: Downloading): void {
    if (d.openIdx >= 0) return;
    d.openIdx = this.#open.length;
    this.#open.push(d);
  }

  #openRemove(d: Downloading): void {
    if (d.openIdx < 0) return;
    const last = this.#open.pop()!;
    if (last !== d) {
      this.#open[d.openIdx] = last;
      last.openIdx = d.openIdx;
    }
    d.openIdx = -1;
  }

  /** Request up to `max` free blocks of `d` from `p`, in order. */
  #take(d: Downloading, p: PeerState, max: number, out: BlockRef[]): number {
    const piece = d.piece;
    const state = d.state;
    let b = d.hint;
    let taken = 0;
    const nb = d.nBlocks;
    while (taken < max && d.nFree > 0) {
      while (b < nb && state[b] !== FREE) b++;
      if (b === nb) break; // unreachable while `hint` holds
      state[b] = REQUESTED;
      d.req[b] = p.key;
      d.reqN[b] = 1;
      out.push({
        piece,
        begin: b * this.blockSize,
        length: this.blockLength(piece, b * this.blockSize),
      });
      taken++;
      b++;
      d.nFree--;
    }
    d.hint = b;
    d.nRequested += taken;
    if (d.nFree === 0) this.#openRemove(d);
    if (taken > 0) this.#outstandingInc(p, piece, taken);
    return taken;
  }

  /** Endgame: blocks requested from others (fewest requesters first), not yet from this peer. */
  #pickEndgame(p: PeerState, max: number, out: BlockRef[]): number {
    let taken = 0;
    for (let c = 1; c < this.#endgameRequesters && taken < max; c++) {
      for (const d of this.#dlList) {
        if (taken >= max) break;
        const piece = d.piece;
        if (d.nRequested === 0 || this.#prio[piece] === 0 || !this.#peerHas(p, piece)) continue;
        let got = 0;
        for (let b = 0; b < d.nBlocks && taken < max; b++) {
          if (d.state[b] !== REQUESTED || d.reqN[b] !== c || this.#isRequester(d, b, p.key))
            continue;
          d.extra.push(b, p.key);
          d.reqN[b]!++;
          out.push({
            piece,
            begin: b * this.blockSize,
            length: this.blockLength(piece, b * this.blockSize),
          });
          taken++;
          got++;
        }
        if (got > 0) this.#outstandingInc(p, piece, got);
      }
    }
    return taken;
  }

  #isRequester(d: Downloading, b: number, key: number): boolean {
    if (d.req[b] === key) return true;
    if (d.reqN[b]! < 2) return false;
    const ex = d.extra;
    for (let i = 0; i < ex.length; i += 2) if (ex[i] === b && ex[i + 1] === key) return true;
    return false;
  }

  /** Remove `key` from the requesters of block `b`; false if it was not one. */
  #removeRequester(d: Downloading, b: number, key: number): boolean {
    const ex = d.extra;
    if (d.req[b] === key) {
      d.reqN[b]!--;
      d.req[b] = -1;
      if (d.reqN[b]! > 0) {
        // Promote an extra requester of this block.
        for (let i = 0; i < ex.length; i += 2) {
          if (ex[i] === b) {
            d.req[b] = ex[i + 1]!;
            ex.splice(i, 2);
            break;
          }
        }
      }
      return true;
    }
    for (let i = 0; i < ex.length; i += 2) {
      if (ex[i] === b && ex[i + 1] === key) {
        ex.splice(i, 2);
        d.reqN[b]!--;
        return true;
      }
    }
    return false;
  }

  #freeBlock(d: Downloading, b: number): void {
    d.state[b] = FREE;
    d.req[b] = -1;
    d.nRequested--;
    d.nFree++;
    if (b < d.hint) d.hint = b;
    if (this.#prio[d.piece]! > 0) this.#openAdd(d);
  }

  /** Forget every request of a piece (it was verified or failed). */
  #dropAllRequests(d: Downloading): void {
    if (d.nRequested === 0) return;
    for (let b = 0; b < d.nBlocks; b++) {
      if (d.state[b] !== REQUESTED) continue;
      this.#outstandingDec(d.req[b]!);
    }
    for (let i = 1; i < d.extra.length; i += 2) this.#outstandingDec(d.extra[i]!);
    d.extra.length = 0;
  }

  #outstandingInc(p: PeerState, piece: number, n: number): void {
    p.outstanding += n;
    const rp = p.reqPieces;
    if (!rp.has(piece)) {
      if (rp.size >= 64 && rp.size > 2 * p.outstanding) this.#pruneReqPieces(p);
      rp.add(piece);
    }
  }

  #outstandingDec(key: number): void {
    const p = this.#peers.get(key);
    if (p !== undefined && p.outstanding > 0) p.outstanding--;
  }

  /** Drop pieces in which the peer no longer has requests. */
  #pruneReqPieces(p: PeerState): void {
    for (const piece of p.reqPieces) {
      const d = this.#dl[piece];
      let keep = false;
      if (d !== null && d !== undefined && d.nRequested > 0) {
        for (let b = 0; b < d.nBlocks && !keep; b++)
          keep = d.state[b] === REQUESTED && this.#isRequester(d, b, p.key);
      }
      if (!keep) p.reqPieces.delete(piece);
    }
  }

  #blockIndex(piece: number, begin: number): number {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) return -1;
    if (!Number.isInteger(begin) || begin < 0 || begin % this.blockSize !== 0) return -1;
    if (begin >= this.pieceSize(piece)) return -1;
    return begin / this.blockSize;
  }

  #checkPiece(piece: number): void {
    if (!Number.isInteger(piece) || piece < 0 || piece >= this.pieceCount) {
      throw new PickerError("PICKER_BAD_PIECE", `piece ${piece} outside 0..${this.pieceCount - 1}`);
    }
  }
}

function geometry(what: string): PickerError {
  return new PickerError("PICKER_BAD_GEOMETRY", `bad torrent geometry: ${what}`);
}

function checkKey(key: number): void {
  if (!Number.isInteger(key) || key < 0 || key >= 2 ** 31) {
    throw new PickerError("PICKER_BAD_PEER", `peer key ${key} is not an integer in 0..2^31-1`);
  }
}

function popcount8(v: number): number {
  let x = v - ((v >> 1) & 0x55);
  x = (x & 0x33) + ((x >> 2) & 0x33);
  return (x + (x >> 4)) & 0x0f;
}
