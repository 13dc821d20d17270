/**
 * One peer connection's protocol state machine (sans-I/O).
 *
 * It owns the wire decoder and the per-connection state of BEP 3 — choke/interest in both
 * directions, the peer's pieces, our outstanding requests to it, its requests to us — and the
 * timeouts that go with them. It never touches a socket or a timer: bytes come in through
 * {@link Peer.receive}, time through `now` arguments and {@link Peer.tick}, and bytes go out
 * through the `send` sink given at construction. Decisions (what to request, whom to unchoke,
 * whether to serve) belong to the torrent, which the peer tells about events through
 * {@link PeerHost}.
 *
 * Invariants:
 * - nothing but a handshake is accepted or sent before the handshake exchange completes;
 * - `requests` holds exactly our requests the peer has neither answered nor had cancelled; a
 *   choke from the peer clears it (BEP 3: pending requests are dropped) and reports each block to
 *   the host so it can be picked again;
 * - `incoming` holds the peer's requests we have not served, at most {@link MAX_INCOMING_REQUESTS};
 *   choking the peer clears it;
 * - after `close` the peer sends and accepts nothing more, and the host has heard `onClose` once.
 */
import {
  allowedFastSet,
  answerWhileChoked,
  ExtError,
  type ExtensionRegistry,
  type ExtMessage,
  type ExtName,
  encodeExtHandshake,
  FastState,
  type OurExtHandshake,
  PeerExtensions,
} from "../ext/index.js";
import type { PeerId } from "../types.js";
import { Bitfield } from "../util/bitfield.js";
import {
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequest,
  type HandshakeInfo,
  hasFeature,
  PIECE_HEADER_LENGTH,
  REQUEST_MESSAGE_LENGTH,
  WireDecoder,
  WireError,
  type WireMessage,
  writePieceHeader,
} from "../wire/index.js";
import { RateMeter } from "./rate.js";

/**
 * Most unserved requests a peer may have queued with us before it is dropped as a flooder.
 *
 * We send no extension handshake (BEP 10) yet, so no peer has heard our `reqq`, and peers size
 * their queues by their own rules: Transmission 3.00 keeps 10 s of its download rate from us in
 * flight, uncapped without a `reqq` — ~1,200 requests at 2 MB/s, ~18,000 at the 30 MB/s it
 * reaches on loopback — and sends them in one burst per second, before we can serve any. A cap
 * of 500 (2 × the `reqq` we would advertise) dropped it every few seconds as a "flooder". Until
 * `reqq` is advertised this cap only bounds memory (~50 bytes a request, ~1.6 MB at most per
 * peer); once it is, peers that heard it can be held to 2 × {@link ADVERTISED_REQQ} again.
 */
export const MAX_INCOMING_REQUESTS = 32_768;
/** The `reqq` we advertise in our extension handshake (BEP 10), as libtorrent does. */
export const ADVERTISED_REQQ = 500;
/**
 * Unserved requests allowed from a peer that heard our `reqq`: twice it, for requests crossing
 * our handshake on the wire and peers that count loosely.
 */
export const MAX_INCOMING_REQUESTS_WITH_REQQ = 2 * ADVERTISED_REQQ;
/** Time allowed for the handshake after connecting. */
export const HANDSHAKE_TIMEOUT_MS = 20_000;
/** Send a keep-alive after this long without sending anything. */
export const KEEPALIVE_INTERVAL_MS = 60_000;
/** Drop the peer after this long without a whole message (keep-alives count; trickled bytes not). */
export const IDLE_TIMEOUT_MS = 150_000;
/**
 * A request times out (its block is picked again) when it is unanswered this long while unchoked
 * and no block came from the peer either in that time: a peer still delivering from a deep queue
 * does not time out, a stalled one does (libtorrent measures from the last piece too).
 */
export const REQUEST_TIMEOUT_MS = 30_000;
/** No block for this long while we have requests out: the peer is snubbed. */
export const SNUB_TIMEOUT_MS = 60_000;

/** A peer's timeouts (ms); the defaults are the constants above (libtorrent's order of size). */
export interface PeerTimeouts {
  /** The BitTorrent handshake must complete within this of connecting. */
  handshakeMs: number;
  /** Dropped after this long without a complete message (bytes trickled in do not count). */
  idleMs: number;
  /** A keep-alive goes out after this long without sending. */
  keepAliveMs: number;
  /** A request unanswered this long goes back to the picker; the peer is snubbed until a block. */
  requestMs: number;
  /** No block for this long while requests are out: snubbed. */
  snubMs: number;
}

export const DEFAULT_PEER_TIMEOUTS: Readonly<PeerTimeouts> = Object.freeze({
  handshakeMs: HANDSHAKE_TIMEOUT_MS,
  idleMs: IDLE_TIMEOUT_MS,
  keepAliveMs: KEEPALIVE_INTERVAL_MS,
  requestMs: REQUEST_TIMEOUT_MS,
  snubMs: SNUB_TIMEOUT_MS,
});

export type CloseReason =
  | { kind: "protocol"; error: WireError | ExtError }
  | { kind: "timeout"; what: "handshake" | "idle" }
  | { kind: "wrong-torrent" }
  | { kind: "self" }
  | { kind: "duplicate" }
  | { kind: "banned" }
  | { kind: "request-flood" }
  | { kind: "unrequested-block" }
  | { kind: "socket"; message: string }
  | { kind: "local"; message: string };

/** What a peer reports to its torrent. Handlers run synchronously inside `receive`/`tick`. */
export interface PeerHost {
  onHandshake(peer: Peer, info: HandshakeInfo): void;
  /** The peer's full set of pieces is known (bitfield, have_all, have_none, or none sent). */
  onBitfield(peer: Peer): void;
  onHave(peer: Peer, index: number): void;
  onChoked(peer: Peer, dropped: number[]): void;
  onUnchoked(peer: Peer): void;
  onInterest(peer: Peer, interested: boolean): void;
  /** A block we asked for. `block` is only valid during the call: copy it out. */
  onBlock(peer: Peer, index: number, begin: number, block: Uint8Array): void;
  /** The peer asked for a block (already range-checked); `peer.incoming` holds it. */
  onRequest(peer: Peer): void;
  /** Requests timed out (block keys), to be picked again elsewhere. */
  onRequestTimeout(peer: Peer, keys: number[]): void;
  /** The peer rejected requests of ours (BEP 6; block keys), to be picked again elsewhere. */
  onRejected?(peer: Peer, keys: number[]): void;
  /** An extension message (BEP 10), decoded; the extension handshake is already applied. */
  onExtended?(peer: Peer, msg: ExtMessage): void;
  onClose(peer: Peer, reason: CloseReason): void;
}

export interface PeerOptions {
  key: number;
  infoHash: Uint8Array;
  peerId: PeerId;
  /**
   * The torrent's geometry; all three absent while the metadata is unknown (magnet): the peer then
   * speaks only handshakes and extensions, and ignores piece state.
   */
  pieceCount?: number;
  pieceLength?: number;
  totalLength?: number;
  /** Extensions we offer (BEP 10); none when absent. Requires the extended bit in `reserved`. */
  extensions?: ExtensionRegistry;
  /** Our extension handshake, built when it is sent (after the peer's BitTorrent handshake). */
  extHandshake?: (peer: Peer) => OurExtHandshake;
  /** We dialled (send the handshake at once) or accepted (answer the peer's handshake). */
  outgoing: boolean;
  reserved: Uint8Array;
  now: number;
  /**
   * Writes bytes to the transport, in order. Several chunks form one vectored write. `onWritten`
   * as for the transport's `write` (net/transport.ts).
   */
  send: (chunks: Uint8Array[], onWritten?: () => void) => void;
  /** Closes the transport. */
  disconnect: () => void;
  /** Display address, e.g. `127.0.0.1:6881`. */
  address: string;
  /** Overrides of {@link DEFAULT_PEER_TIMEOUTS} (tests use short ones). */
  timeouts?: Partial<PeerTimeouts>;
}

export interface IncomingRequest {
  index: number;
  begin: number;
  length: number;
}

/** A block ready to send (see {@link Peer.sendBlocks}). */
export interface ServedBlock {
  index: number;
  begin: number;
  data: Uint8Array;
  /** `data` is a storage.peekBlock view, to give back with releaseBlock once written. */
  pinned?: boolean;
}

const BLOCK = 16 * 1024;

export class Peer {
  readonly key: number;
  readonly address: string;
  readonly outgoing: boolean;
  readonly #o: PeerOptions;
  readonly #host: PeerHost;
  readonly #decoder: WireDecoder;
  readonly #blocksPerPiece: number;
  readonly #timeouts: PeerTimeouts;
  /** A request timed out and no block came since: snubbed (libtorrent's snub on timeout). */
  #timedOut = false;
  /** Whether piece geometry is known (false in the metadata phase of a magnet). */
  readonly #geometry: boolean;

  /** The remote peer id, once its handshake arrived. */
  remoteId: PeerId | undefined;
  remoteReserved: Uint8Array | undefined;
  handshaken = false;
  closed = false;
  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  /** The peer's pieces (all zero until its bitfield arrives). */
  have: Bitfield;
  /** Whether the peer's bitfield (or its absence) has been settled. */
  bitfieldKnown = false;
  /** Our outstanding requests: block key → time sent. */
  readonly requests = new Map<number, number>();
  /** The peer's requests to us, oldest first. */
  incoming: IncomingRequest[] = [];
  readonly downloadRate = new RateMeter();
  readonly uploadRate = new RateMeter();
  readonly connectedAt: number;
  /** When bytes last arrived. */
  lastReceived: number;
  /** When a whole message (or the handshake) last arrived: the idle timeout counts from here. */
  lastMessageAt: number;
  lastSent: number;
  lastBlockAt: number;
  /**
   * Trust points, kept by the host (libtorrent's scheme): +1 per passed piece with this peer's
   * data in it (up to a cap), -2 per failed one; the host bans at its floor.
   */
  trust = 0;
  /** Failed pieces with this peer's data in them (for the ban reason). */
  hashFailures = 0;
  /** BEP 10 state, once both sides set the extension bit. */
  ext: PeerExtensions | undefined;
  /** BEP 6 negotiated. */
  fast = false;
  /** What the peer told us with `allowed_fast` and `suggest`. */
  readonly fastState = new FastState();
  /** Pieces we allow the peer to request while choked (BEP 6), as sent. */
  allowedFastToPeer: ReadonlySet<number> = new Set();
  /** The peer's own listen port (from its extension handshake `p`), for PEX and redials. */
  listenPort: number | undefined;
  /** The peer says it will not download (BEP 21: seed or partial seed). */
  uploadOnly = false;
  /** The peer's `reqq`: most requests we keep outstanding with it. */
  remoteReqq: number | undefined;

  constructor(o: PeerOptions, host: PeerHost) {
    this.#o = o;
    this.#host = host;
    this.key = o.key;
    this.address = o.address;
    this.outgoing = o.outgoing;
    this.connectedAt = o.now;
    this.lastReceived = o.now;
    this.lastMessageAt = o.now;
    this.lastSent = o.now;
    this.#timeouts = { ...DEFAULT_PEER_TIMEOUTS };
    for (const [k, v] of Object.entries(o.timeouts ?? {}))
      if (v !== undefined && k in DEFAULT_PEER_TIMEOUTS)
        this.#timeouts[k as keyof PeerTimeouts] = v;
    this.lastBlockAt = o.now;
    this.have = new Bitfield(o.pieceCount ?? 0);
    this.#blocksPerPiece = Math.ceil((o.pieceLength ?? BLOCK) / BLOCK);
    this.#geometry = o.pieceCount !== undefined;
    this.#decoder = new WireDecoder({
      ...(o.pieceCount !== undefined
        ? { pieceCount: o.pieceCount, pieceLength: o.pieceLength, totalLength: o.totalLength }
        : {}),
      fast: hasFeature(o.reserved, "fast"),
      extended: o.extensions !== undefined && hasFeature(o.reserved, "extended"),
      expectHandshake: true,
      // aria2 sends a bitfield mid-connection instead of 20+ HAVEs: see the "bitfield" case.
      lateBitfield: true,
    });
    if (o.outgoing) this.#sendHandshake();
  }

  /** Key of a block for maps: piece × blocks-per-piece + block number. */
  blockKey(index: number, begin: number): number {
    return index * this.#blocksPerPiece + begin / BLOCK;
  }

  /** Inverse of {@link blockKey}. */
  blockOf(key: number): { index: number; begin: number } {
    const index = Math.floor(key / this.#blocksPerPiece);
    return { index, begin: (key - index * this.#blocksPerPiece) * BLOCK };
  }

  #sendHandshake(): void {
    this.#write(
      [
        encodeHandshake({
          infoHash: this.#o.infoHash,
          peerId: this.#o.peerId,
          reserved: this.#o.reserved,
        }),
      ],
      this.#o.now,
    );
  }

  #write(chunks: Uint8Array[], now: number): void {
    if (this.closed) return;
    this.lastSent = now;
    this.#o.send(chunks);
  }

  #msg(msg: WireMessage, now: number): void {
    this.#write([encodeMessage(msg)], now);
  }

  /**
   * Feed bytes read from the transport. A `transient` chunk is a view of a read buffer the
   * transport reuses once this returns: the unparsed tail is copied out before returning, and
   * blocks reach {@link PeerHost.onBlock} as views the host copies at once (as it always must).
   */
  receive(chunk: Uint8Array, now: number, transient = false): void {
    if (this.closed) return;
    this.lastReceived = now;
    this.#decoder.push(chunk, transient);
    try {
      for (;;) {
        if (this.closed) return;
        const item = this.#decoder.next();
        if (item === undefined) return;
        if (item.type === "handshake") this.#onHandshake(item);
        else this.#onMessage(item, now);
      }
    } catch (e) {
      if (e instanceof WireError) this.close({ kind: "protocol", error: e });
      else throw e;
    } finally {
      if (transient && !this.closed) this.#decoder.detach();
    }
  }

  #onHandshake(info: HandshakeInfo): void {
    this.lastMessageAt = this.lastReceived;
    if (!equalBytes(info.infoHash, this.#o.infoHash)) {
      this.close({ kind: "wrong-torrent" });
      return;
    }
    if (equalBytes(info.peerId, this.#o.peerId)) {
      this.close({ kind: "self" });
      return;
    }
    this.remoteId = info.peerId;
    this.remoteReserved = info.reserved;
    if (!this.outgoing) this.#sendHandshake();
    this.handshaken = true;
    this.fast = hasFeature(this.#o.reserved, "fast") && hasFeature(info.reserved, "fast");
    if (
      this.#o.extensions !== undefined &&
      hasFeature(this.#o.reserved, "extended") &&
      hasFeature(info.reserved, "extended")
    ) {
      this.ext = new PeerExtensions(this.#o.extensions);
    }
    // The host sends the bitfield (or have_all/have_none) first: BEP 6 wants it right after the
    // handshake. Our extension handshake follows.
    this.#host.onHandshake(this, info);
    if (this.ext && !this.closed) {
      const h = this.#o.extHandshake?.(this) ?? { m: this.#o.extensions!.localIds() };
      this.#msg({ type: "extended", extId: 0, payload: encodeExtHandshake(h) }, this.lastReceived);
    }
  }

  /** Send an extension message if the peer enabled that extension; false when it did not. */
  sendExtended(name: ExtName, payload: Uint8Array, now: number): boolean {
    const out = this.ext?.outgoing(name, payload);
    if (!out || this.closed) return false;
    this.#msg(out, now);
    return true;
  }

  /** The most requests to keep outstanding with this peer, given our own wish. */
  requestCap(wanted: number): number {
    return this.remoteReqq !== undefined ? Math.min(wanted, this.remoteReqq) : wanted;
  }

  #onExtended(extId: number, payload: Uint8Array): void {
    if (!this.ext) return; // not negotiated: ignored like any unknown message
    let msg: ExtMessage;
    try {
      msg = this.ext.decode(extId, payload, {
        ...(this.#geometry ? { pieceCount: this.have.length } : {}),
      });
    } catch (e) {
      if (e instanceof ExtError) {
        this.close({ kind: "protocol", error: e });
        return;
      }
      throw e;
    }
    if (msg.type === "handshake") {
      const h = msg.handshake;
      if (h.port !== undefined) this.listenPort = h.port;
      if (h.reqq !== undefined) this.remoteReqq = h.reqq;
      if (h.uploadOnly !== undefined) this.uploadOnly = h.uploadOnly;
    } else if (msg.type === "upload_only") {
      this.uploadOnly = msg.uploadOnly;
    } else if (msg.type === "lt_donthave") {
      if (!this.have.has(msg.index)) return;
      this.have.clear(msg.index);
    }
    this.#host.onExtended?.(this, msg);
  }

  #settleBitfield(): void {
    if (this.bitfieldKnown) return;
    this.bitfieldKnown = true;
    this.#host.onBitfield(this);
  }

  #onMessage(m: WireMessage, now: number): void {
    this.lastMessageAt = now;
    if (m.type === "extended") {
      this.#onExtended(m.extId, m.payload);
      return;
    }
    if (!this.#geometry) {
      // Metadata phase: piece state waits for the metadata; nothing can be requested or served.
      if (m.type === "piece") this.close({ kind: "unrequested-block" });
      else if (m.type === "request" && this.fast)
        this.#msg({ type: "reject", index: m.index, begin: m.begin, length: m.length }, now);
      return;
    }
    switch (m.type) {
      case "keep_alive":
        return;
      case "bitfield": {
        if (this.bitfieldKnown) {
          // A later bitfield (aria2 sends one instead of 20+ HAVEs) only adds pieces: it is a
          // batch of HAVEs. Peers do not lose pieces in BEP 3; bits it clears are ignored.
          const bits = new Bitfield(this.have.length, m.bits);
          for (const i of bits.ones()) {
            if (this.closed) return; // the host may drop us on a HAVE (e.g. both seeds)
            if (this.have.set(i)) this.#host.onHave(this, i);
          }
          return;
        }
        this.have = new Bitfield(this.have.length, m.bits);
        this.#settleBitfield();
        return;
      }
      case "have_all":
        if (this.bitfieldKnown) {
          // Late (aria2 on completing): a batch of HAVEs for what is missing.
          for (let i = 0; i < this.have.length; i++) {
            if (this.closed) return;
            if (this.have.set(i)) this.#host.onHave(this, i);
          }
          return;
        }
        this.have.setAll();
        this.#settleBitfield();
        return;
      case "have_none":
        // Late, it takes nothing away (as a late bitfield clears nothing).
        this.#settleBitfield();
        return;
      default:
        break;
    }
    // Any other message means the peer sent no bitfield: it has nothing yet.
    this.#settleBitfield();
    switch (m.type) {
      case "have":
        if (this.have.set(m.index)) this.#host.onHave(this, m.index);
        return;
      case "choke": {
        this.peerChoking = true;
        const dropped = [...this.requests.keys()];
        this.requests.clear();
        // Blocks already on the wire may still arrive after a choke: accept them quietly.
        for (const k of dropped) this.#recentlyCancelled.add(k);
        this.#host.onChoked(this, dropped);
        return;
      }
      case "unchoke":
        this.peerChoking = false;
        this.#host.onUnchoked(this);
        return;
      case "interested":
      case "not_interested":
        this.peerInterested = m.type === "interested";
        this.#host.onInterest(this, this.peerInterested);
        return;
      case "request":
        if (this.amChoking) {
          // BEP 3: requests from choked peers are ignored; BEP 6: answered with a reject,
          // except for allowed-fast pieces while the peer is still starting.
          if (!this.fast) return;
          if (answerWhileChoked(m.index, this.allowedFastToPeer, this.have.count) === "reject") {
            this.reject(m, now);
            return;
          }
        }
        if (
          this.incoming.length >=
          (this.ext ? MAX_INCOMING_REQUESTS_WITH_REQQ : MAX_INCOMING_REQUESTS)
        ) {
          this.close({ kind: "request-flood" });
          return;
        }
        this.incoming.push({ index: m.index, begin: m.begin, length: m.length });
        this.#host.onRequest(this);
        return;
      case "reject": {
        // BEP 6: the peer will not serve this request; pick the block again elsewhere.
        const key = this.blockKey(m.index, m.begin);
        if (this.requests.delete(key)) {
          this.#recentlyCancelled.add(key);
          this.#host.onRejected?.(this, [key]);
        }
        return;
      }
      case "allowed_fast":
        this.fastState.onAllowedFast(m.index);
        return;
      case "suggest":
        this.fastState.onSuggest(m.index);
        return;
      case "cancel": {
        const i = this.incoming.findIndex(
          (r) => r.index === m.index && r.begin === m.begin && r.length === m.length,
        );
        if (i >= 0) this.incoming.splice(i, 1);
        return;
      }
      case "piece": {
        const key = this.blockKey(m.index, m.begin);
        if (!this.requests.delete(key)) {
          // A block we did not ask for (or cancelled in endgame: those arrive late and are fine).
          if (this.#recentlyCancelled.delete(key)) return;
          this.close({ kind: "unrequested-block" });
          return;
        }
        this.lastBlockAt = now;
        this.#timedOut = false;
        this.downloadRate.add(m.block.length, now);
        this.#host.onBlock(this, m.index, m.begin, m.block);
        return;
      }
      default:
        // port, unknown ids and the like: ignored (extensions come with BEP 10).
        return;
    }
  }

  /** Send a keep-alive now (4 zero bytes); see the torrent's serving loop for why. */
  sendKeepAlive(now: number): void {
    this.#write([new Uint8Array(4)], now);
  }

  /** Blocks we cancelled; a peer may still send them (allowed), so they are not "unrequested". */
  readonly #recentlyCancelled = new Set<number>();

  /** Check timeouts; call about once a second. */
  tick(now: number): void {
    if (this.closed) return;
    const t = this.#timeouts;
    if (!this.handshaken) {
      if (now - this.connectedAt > t.handshakeMs)
        this.close({ kind: "timeout", what: "handshake" });
      return;
    }
    // From the last whole message, not the last byte: a peer trickling a message a byte at a
    // time (slowloris) is idle.
    if (now - this.lastMessageAt > t.idleMs) {
      this.close({ kind: "timeout", what: "idle" });
      return;
    }
    if (now - this.lastSent > t.keepAliveMs) this.#write([new Uint8Array(4)], now);
    if (this.requests.size > 0 && !this.peerChoking) {
      let expired: number[] | undefined;
      for (const [key, at] of this.requests) {
        if (now - Math.max(at, this.lastBlockAt) > t.requestMs) {
          expired ??= [];
          expired.push(key);
        }
      }
      if (expired) {
        for (const k of expired) {
          this.requests.delete(k);
          this.#recentlyCancelled.add(k);
        }
        this.#timedOut = true;
        this.#host.onRequestTimeout(this, expired);
      }
    }
    if (this.#recentlyCancelled.size > 4 * ADVERTISED_REQQ) this.#recentlyCancelled.clear();
  }

  /**
   * Snubbed: requests out but no block for {@link SNUB_TIMEOUT_MS}, or a request timed out and
   * no block came since. A snubbed peer gets one request at a time.
   */
  snubbed(now: number): boolean {
    return (
      this.#timedOut || (this.requests.size > 0 && now - this.lastBlockAt > this.#timeouts.snubMs)
    );
  }

  /** Our pieces, right after the handshake: have_all/have_none with Fast, else a bitfield. */
  sendBitfield(bits: Bitfield, now: number): void {
    if (this.fast && (bits.complete || bits.empty)) {
      // Empty first: the 0-piece bitfield of a magnet's metadata phase is "complete" too.
      this.#msg({ type: bits.empty ? "have_none" : "have_all" }, now);
      return;
    }
    if (bits.empty) return; // BEP 3: a peer with nothing may skip the bitfield.
    this.#msg({ type: "bitfield", bits: bits.bytes }, now);
  }

  /**
   * BEP 6: offer the peer its allowed-fast pieces among those we have (pieces it may request
   * while we choke it). Only for IPv4 peers (the BEP has no IPv6 rule).
   */
  sendAllowedFast(infoHash: Uint8Array, remoteIp: string, ours: Bitfield, now: number): void {
    if (!this.fast || !this.#geometry) return;
    const set = allowedFastSet(remoteIp, infoHash, ours.length).filter((i) => ours.has(i));
    this.allowedFastToPeer = new Set(set);
    for (const index of set) this.#msg({ type: "allowed_fast", index }, now);
  }

  /** Refuse a request (BEP 6 `reject`; nothing without Fast). */
  reject(r: IncomingRequest, now: number): void {
    if (!this.fast) return;
    this.#msg({ type: "reject", index: r.index as never, begin: r.begin, length: r.length }, now);
  }

  sendHave(index: number, now: number): void {
    this.#msg({ type: "have", index: index as never }, now);
  }

  setInterested(interested: boolean, now: number): void {
    if (this.amInterested === interested) return;
    this.amInterested = interested;
    this.#msg({ type: interested ? "interested" : "not_interested" }, now);
  }

  choke(now: number): void {
    if (this.amChoking) return;
    this.amChoking = true;
    const queued = this.incoming;
    this.incoming = [];
    this.#msg({ type: "choke" }, now);
    if (!this.fast) return;
    // BEP 6: every dropped request is rejected explicitly; allowed-fast ones stay queued.
    for (const r of queued) {
      if (this.allowedFastToPeer.has(r.index)) this.incoming.push(r);
      else this.reject(r, now);
    }
  }

  unchoke(now: number): void {
    if (!this.amChoking) return;
    this.amChoking = false;
    this.#msg({ type: "unchoke" }, now);
  }

  /** Request blocks, all in one write. Each is `[index, begin, length]`. */
  request(blocks: readonly { piece: number; begin: number; length: number }[], now: number): void {
    if (blocks.length === 0 || this.closed) return;
    const buf = new Uint8Array(blocks.length * REQUEST_MESSAGE_LENGTH);
    let off = 0;
    for (const b of blocks) {
      off = encodeRequest(buf, off, b.piece, b.begin, b.length);
      this.requests.set(this.blockKey(b.piece, b.begin), now);
    }
    this.#write([buf], now);
  }

  /** Cancel one of our requests (endgame: another peer delivered it). */
  cancel(index: number, begin: number, length: number, now: number): void {
    const key = this.blockKey(index, begin);
    if (!this.requests.delete(key)) return;
    this.#recentlyCancelled.add(key);
    this.#msg({ type: "cancel", index: index as never, begin, length }, now);
  }

  /** Send a block the peer requested (header and data in one vectored write, no copy). */
  sendBlock(index: number, begin: number, data: Uint8Array, now: number): void {
    this.uploadRate.add(data.length, now);
    this.#write([encodePieceHeader(index, begin, data.length), data], now);
  }

  /**
   * Send several requested blocks in one vectored write: one header buffer for all, the data not
   * copied. The transport takes them however full its buffer is; the caller bounds the batch.
   * `onWritten` is called once the data is no longer needed (also when nothing is sent).
   */
  sendBlocks(blocks: readonly ServedBlock[], now: number, onWritten?: () => void): void {
    const n = blocks.length;
    if (n === 0 || this.closed) {
      if (onWritten) queueMicrotask(onWritten);
      return;
    }
    const headers = Buffer.allocUnsafe(n * PIECE_HEADER_LENGTH);
    const chunks = new Array<Uint8Array>(2 * n);
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const b = blocks[i]!;
      const at = i * PIECE_HEADER_LENGTH;
      writePieceHeader(headers, at, b.index, b.begin, b.data.length);
      chunks[2 * i] = headers.subarray(at, at + PIECE_HEADER_LENGTH);
      chunks[2 * i + 1] = b.data;
      bytes += b.data.length;
    }
    this.uploadRate.add(bytes, now);
    this.lastSent = now;
    this.#o.send(chunks, onWritten);
  }

  /** Bytes the decoder is holding (for memory accounting). */
  get bufferedBytes(): number {
    return this.#decoder.bufferedBytes;
  }

  /** A short id for logs: address and client prefix. */
  get label(): string {
    const id = this.remoteId
      ? Buffer.from(this.remoteId.subarray(0, 8))
          .toString("latin1")
          .replace(/[^\x20-\x7e]/g, "?")
      : "";
    return id ? `${this.address} (${id})` : this.address;
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    this.#o.disconnect();
    this.#host.onClose(this, reason);
  }
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function describeClose(r: CloseReason): string {
  switch (r.kind) {
    case "protocol":
      return `protocol violation: ${r.error.message} (${r.error.code})`;
    case "timeout":
      return `${r.what} timeout`;
    case "socket":
    case "local":
      return r.message;
    default:
      return r.kind;
  }
}
