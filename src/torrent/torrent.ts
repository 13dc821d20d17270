/**
 * One torrent's swarm: peers, piece picking, choking, hashing and storage, and its events.
 *
 * Piece lifecycle (each wanted piece is in exactly one state):
 *   missing → requested (blocks out to peers, buffer in PieceBuffers) → full (all blocks in,
 *   detached, hashing in a worker) → writing (verified, queued to storage) → had (announced with
 *   HAVE, served to peers). A hash failure sends the piece back to missing and feeds smart ban.
 * A piece is announced and served only once it is on disk, so a peer's request can always be
 * read back.
 */
import crypto from "node:crypto";
import {
  EXT_NAMES,
  ExtensionRegistry,
  type ExtMessage,
  type ExtName,
  encodeDontHave,
  encodeUploadOnly,
  ipToBytes,
  isDialableIp,
  MetadataServer,
  type PexPeer,
  PexState,
  UT_PEX,
} from "../ext/index.js";
import type { TorrentMeta } from "../metainfo/index.js";
import { formatAddress, type Transport } from "../net/transport.js";
import {
  ADVERTISED_REQQ,
  type CloseReason,
  describeClose,
  type IncomingRequest,
  Peer,
  type PeerHost,
} from "../peer/peer.js";
import type { HashPool } from "../storage/hash-pool.js";
import { TorrentStorage } from "../storage/storage.js";
import type { TrackerStatus } from "../tracker/announcer.js";
import type { PeerId } from "../types.js";
import type { PeerAddress } from "../util/address.js";
import { VERSION } from "../version.js";
import type { HandshakeInfo } from "../wire/index.js";
import { buildReserved } from "../wire/index.js";
import { type ChokerPeer, chooseUnchokes, desiredQueue } from "./choker.js";
import { TypedEmitter } from "./events.js";
import { type BlockRef, PiecePicker } from "./picker.js";
import { PieceBuffers } from "./piece-buffers.js";
import { wantedLayout } from "./selection.js";
import { SmartBan } from "./smart-ban.js";

/**
 * Cap on memory for pieces being downloaded, hashed or written (at least three pieces), counted
 * in whole pieces from a piece's first request: no new piece starts past it. Partial pieces are
 * bounded by the peers' request queues; this bounds them when many peers each hold a few.
 */
export const MAX_PARTIAL_BYTES = 96 * 1024 * 1024;
/**
 * Cap on pieces hashing or waiting for the disk (at least one): past it no new piece starts, so
 * the network slows to the disk's pace instead of memory filling up. 16 MiB keeps peak
 * anonymous memory under 100 MiB at full speed; the request pipeline (up to 8 MiB per peer)
 * comes on top. See bench/README.md for the measurements.
 */
export const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;
/**
 * Pieces up to this size are hashed on the main thread: the round trip to a hash worker costs
 * more CPU than SHA-1 of the piece itself (bench/README.md; 1 MiB blocks the event loop about
 * 0.5 ms). Larger ones go to the hash pool.
 */
export const INLINE_HASH_BYTES = 1024 * 1024;
/**
 * Verified pieces that follow one another are written together, up to this many bytes (at
 * least one piece), in one vectored write: per-write overhead dominates with small pieces.
 * Larger writes cost more kernel time per byte (storage's MAX_WRITE_BYTES).
 */
export const WRITE_RUN_BYTES = 1024 * 1024;
/**
 * Writes in flight at once; pieces that wait meanwhile join the next write as a run. One
 * writer left the download waiting on it (16 KiB pieces: 0.3 CPU-s per GiB more, 20% slower);
 * more than two gained nothing and write concurrently to the same file (1 GiB of 1 MiB writes
 * into the page cache: 0.27 sys CPU-s from one thread, 0.40 s from four at once).
 */
const MAX_WRITES = 2;

/** SHA-1 in one call; crypto.hash (Node >= 20.12) skips the Hash object. */
const sha1: (data: Uint8Array) => Uint8Array =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (data) => crypto.hash("sha1", data, "buffer") as unknown as Uint8Array
    : (data) => crypto.createHash("sha1").update(data).digest();
/** Peers per torrent. */
export const DEFAULT_MAX_PEERS = 80;
/** Upload slots (unchoked peers), optimistic one included. */
export const DEFAULT_UPLOAD_SLOTS = 8;
export const CHOKE_INTERVAL_MS = 10_000;
/** Dials started per tick. */
const DIALS_PER_TICK = 10;
/** Candidate peers remembered (peers from trackers and PEX beyond this are ignored). */
export const MAX_CANDIDATES = 2_000;
/** Peers a peer is banned after this many pieces that failed with its data in them. */
const MAX_HASH_FAILURES = 3;

export type TorrentState = "checking" | "downloading" | "seeding" | "stopped" | "error";

export interface TorrentStats {
  state: TorrentState;
  /** Verified bytes of wanted pieces. */
  have: number;
  /** Bytes of wanted pieces. */
  wanted: number;
  piecesHave: number;
  piecesWanted: number;
  downloaded: number;
  uploaded: number;
  downloadRate: number;
  uploadRate: number;
  peers: number;
  seeds: number;
}

export interface TorrentEvents {
  /** The data on disk was checked: `have` pieces were already there. */
  checked: (have: number) => void;
  piece: (index: number) => void;
  "hash-failed": (index: number) => void;
  /** A verified piece could not be read back (file deleted or truncated): wanted again. */
  "piece-lost": (index: number, reason: string) => void;
  /** `features`: what the handshake negotiated ("fast", "extended"). */
  "peer-connected": (address: string, id: string, features: string[]) => void;
  "peer-disconnected": (address: string, reason: string) => void;
  "peer-banned": (address: string, reason: string) => void;
  /** A tracker's state changed (announce sent, reply, failure). */
  tracker: (status: TrackerStatus) => void;
  /** Every wanted piece is verified and on disk. */
  done: () => void;
  error: (error: Error) => void;
}

export interface TorrentOptions {
  downloadDir: string;
  peerId: PeerId;
  hashPool: HashPool;
  /** Dial a peer; the session owns sockets and limits. */
  dial: (addr: PeerAddress) => Promise<Transport>;
  /** User-visible (non-padding) file indices to download; default all. */
  select?: Set<number>;
  maxPeers?: number;
  uploadSlots?: number;
  /** Keep seeding after done (default true: a torrent seeds until stopped). */
  seed?: boolean;
  /** Our listen port, told to peers in the extension handshake (BEP 10 `p`). */
  listenPort?: number;
  /** Addresses that are ourselves (PEX may hand them to us). */
  isSelf?: (addr: PeerAddress) => boolean;
  now?: () => number;
  random?: () => number;
}

interface Candidate {
  addr: PeerAddress;
  failures: number;
  nextAttempt: number;
  connected: boolean;
  /** Given by hand: never forgotten. */
  pinned: boolean;
  /** Last seen with every piece: a seed of ours has nothing to exchange with it. */
  seed: boolean;
}

export class Torrent extends TypedEmitter<TorrentEvents> implements PeerHost {
  readonly meta: TorrentMeta;
  readonly storage: TorrentStorage;
  readonly picker: PiecePicker;
  state: TorrentState = "checking";
  error: Error | undefined;
  readonly #o: TorrentOptions;
  readonly #now: () => number;
  readonly #peers = new Map<number, Peer>();
  readonly #transports = new Map<number, Transport>();
  readonly #candidates = new Map<string, Candidate>();
  /** Peer key → the candidate it was dialled from (absent for incoming connections). */
  readonly #candidateOf = new Map<number, string>();
  readonly #banned = new Set<string>();
  /** Candidate keys that turned out to be ourselves or another torrent: never dialled again. */
  readonly #rejected = new Set<string>();
  #trackerStatus: () => TrackerStatus[] = () => [];
  /** Keys of peers banned for bad data: a piece that failed with their data in it is explained. */
  readonly #convicted = new Set<number>();
  readonly #buffers: PieceBuffers;
  /** Most pieces downloading at once (requested, hashing or being written): the memory cap. */
  readonly #maxPieces: number;
  /** Most pieces hashing or being written: past it no new piece starts (the disk sets the pace). */
  readonly #maxBacklog: number;
  readonly #smartBan = new SmartBan();
  readonly #wantedPieces: Uint8Array;
  readonly #reserved = buildReserved(["fast", "extended"]);
  readonly #extensions: ExtensionRegistry;
  readonly #metadataServer: MetadataServer<number>;
  readonly #pex = new Map<number, PexState>();
  #nextKey = 1;
  #hashing = 0;
  #dialing = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastChoke = 0;
  #optimisticState: unknown;
  #downloaded = 0;
  #uploaded = 0;
  #haveBytes = 0;
  #wantedBytes = 0;
  #piecesWanted = 0;
  #doneEmitted = false;
  readonly #scratch: BlockRef[] = [];
  readonly done: Promise<void>;
  #resolveDone!: () => void;
  #rejectDone!: (e: Error) => void;

  constructor(meta: TorrentMeta, o: TorrentOptions) {
    super();
    this.meta = meta;
    this.#o = o;
    this.#now = o.now ?? (() => performance.now());
    const layout = wantedLayout(meta, o.select);
    this.#wantedPieces = layout.pieces;
    this.storage = new TorrentStorage(meta, o.downloadDir, {
      hashPool: o.hashPool,
      wantedFiles: layout.files,
    });
    this.picker = new PiecePicker({
      pieceCount: meta.pieceCount,
      pieceLength: meta.pieceLength,
      totalLength: meta.length,
      ...(o.random ? { random: o.random } : {}),
    });
    for (let p = 0; p < meta.pieceCount; p++) {
      if (layout.pieces[p]) {
        this.#piecesWanted++;
        this.#wantedBytes += this.#pieceSize(p);
      } else {
        this.picker.setPriority(p, 0);
      }
    }
    this.#maxPieces = Math.max(3, Math.floor(MAX_PARTIAL_BYTES / meta.pieceLength));
    this.#maxBacklog = Math.max(1, Math.floor(MAX_BACKLOG_BYTES / meta.pieceLength));
    // The free list can hold every buffer the cap allows: a steady download allocates none.
    this.#buffers = new PieceBuffers(meta.pieceLength, meta.length, 16 * 1024, this.#maxPieces);
    // BEP 27: a private torrent gets peers from its trackers only, so no PEX.
    this.#extensions = new ExtensionRegistry(
      EXT_NAMES.filter((n: ExtName) => !(meta.private && n === UT_PEX)),
    );
    this.#metadataServer = new MetadataServer<number>(meta.infoBytes);
    this.done = new Promise((resolve, reject) => {
      this.#resolveDone = resolve;
      this.#rejectDone = reject;
    });
    // An unobserved failure must not crash the process; `error` events and `done` carry it.
    this.done.catch(() => {});
  }

  get infoHashHex(): string {
    return this.meta.infoHashHex;
  }

  #pieceSize(p: number): number {
    return Math.min(this.meta.pieceLength, this.meta.length - p * this.meta.pieceLength);
  }

  /** Check existing data (resume by recheck), then start swarming. */
  async start(): Promise<void> {
    try {
      const have = await this.storage.recheck();
      for (const p of have.ones()) this.#markHave(p, false);
      this.emit("checked", have.count);
    } catch (e) {
      this.#fail(e as Error);
      return;
    }
    this.state = this.#isDone() ? "seeding" : "downloading";
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.#timer.unref();
    this.#checkDone();
    this.#connectMore();
  }

  /** Add candidate peers (from --peer, trackers, PEX...). `pinned` ones are retried forever. */
  addPeers(addrs: PeerAddress[], pinned = false): void {
    for (const addr of addrs) {
      const k = formatAddress(addr.host, addr.port);
      const c = this.#candidates.get(k);
      if (c) {
        c.pinned ||= pinned;
        continue;
      }
      if (!pinned && (this.#rejected.has(k) || this.#candidates.size >= MAX_CANDIDATES)) continue;
      this.#candidates.set(k, {
        addr,
        failures: 0,
        nextAttempt: 0,
        connected: false,
        pinned,
        seed: false,
      });
    }
    if (this.state === "downloading" || this.state === "seeding") this.#connectMore();
  }

  /** The torrent's trackers and their state (empty when it has none). */
  trackers(): TrackerStatus[] {
    return this.#trackerStatus();
  }

  /** @internal The session attaches the torrent's trackers. */
  setTrackerStatusSource(f: () => TrackerStatus[]): void {
    this.#trackerStatus = f;
  }

  /** @internal The session reports a tracker's change of state. */
  reportTracker(s: TrackerStatus): void {
    this.emit("tracker", s);
  }

  stats(): TorrentStats {
    const now = this.#now();
    let down = 0;
    let up = 0;
    let seeds = 0;
    for (const p of this.#peers.values()) {
      if (!p.handshaken) continue;
      down += p.downloadRate.rate(now);
      up += p.uploadRate.rate(now);
      if (p.have.complete) seeds++;
    }
    return {
      state: this.state,
      have: this.#haveBytes,
      wanted: this.#wantedBytes,
      piecesHave: this.picker.have.count,
      piecesWanted: this.#piecesWanted,
      downloaded: this.#downloaded,
      uploaded: this.#uploaded,
      downloadRate: down,
      uploadRate: up,
      peers: [...this.#peers.values()].filter((p) => p.handshaken).length,
      seeds,
    };
  }

  /** Stop: close peers, flush and close files. */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    const was = this.state;
    this.state = "stopped";
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#peers.values()])
      p.close({ kind: "local", message: "torrent stopped" });
    await this.storage.close();
    if (was !== "error" && !this.#doneEmitted)
      this.#rejectDone(new Error("torrent stopped before completion"));
  }

  // ---- connections -------------------------------------------------------------------------

  #connectMore(): void {
    if (this.state !== "downloading" && this.state !== "seeding") return;
    const max = this.#o.maxPeers ?? DEFAULT_MAX_PEERS;
    const now = this.#now();
    let started = 0;
    for (const [k, c] of this.#candidates) {
      if (this.#peers.size + this.#dialing >= max || started >= DIALS_PER_TICK) break;
      if (c.connected || c.nextAttempt > now || this.#banned.has(c.addr.host)) continue;
      // Seeds don't dial peers known to be seeds: they have nothing to exchange.
      if (this.#isDone() && c.seed) continue;
      c.connected = true;
      started++;
      this.#dialing++;
      this.#o.dial(c.addr).then(
        (t) => {
          this.#dialing--;
          if (this.state === "stopped" || this.state === "error") {
            t.close();
            return;
          }
          this.attach(t, true, k);
        },
        () => {
          this.#dialing--;
          this.#dialFailed(c, now);
        },
      );
    }
  }

  #dialFailed(c: Candidate, now: number): void {
    c.connected = false;
    c.failures++;
    const backoff = Math.min(c.pinned ? 30_000 : 300_000, 2_000 * 2 ** Math.min(c.failures, 10));
    c.nextAttempt = now + backoff * (0.75 + 0.5 * Math.random());
    if (!c.pinned && c.failures >= 8)
      this.#candidates.delete(formatAddress(c.addr.host, c.addr.port));
  }

  /** Attach a transport (dialled by us, or routed to us by the session's listener). */
  attach(t: Transport, outgoing: boolean, candidateKey?: string): void {
    if (
      this.#banned.has(t.remoteAddress) ||
      this.#peers.size >= (this.#o.maxPeers ?? DEFAULT_MAX_PEERS) + (outgoing ? 0 : 10)
    ) {
      t.close();
      if (candidateKey) {
        const c = this.#candidates.get(candidateKey);
        if (c) c.connected = false;
      }
      return;
    }
    const key = this.#nextKey++;
    const address = formatAddress(t.remoteAddress, t.remotePort);
    const peer = new Peer(
      {
        key,
        infoHash: this.meta.infoHash,
        peerId: this.#o.peerId,
        pieceCount: this.meta.pieceCount,
        pieceLength: this.meta.pieceLength,
        totalLength: this.meta.length,
        outgoing,
        reserved: this.#reserved,
        extensions: this.#extensions,
        extHandshake: () => ({
          m: this.#extensions.localIds(),
          client: `Tessera ${VERSION}`,
          ...(this.#o.listenPort ? { port: this.#o.listenPort } : {}),
          reqq: ADVERTISED_REQQ,
          ...(ipToBytes(t.remoteAddress) ? { yourIp: t.remoteAddress } : {}),
          metadataSize: this.meta.infoBytes.length,
          uploadOnly: this.#isDone(),
        }),
        now: this.#now(),
        // A full kernel buffer is seen through `t.congested`; serving resumes on drain.
        send: (chunks) => void t.write(chunks),
        disconnect: () => t.close(),
        address,
      },
      this,
    );
    if (candidateKey) this.#candidateOf.set(key, candidateKey);
    this.#peers.set(key, peer);
    this.#transports.set(key, t);
    t.onData = (chunk, transient) => peer.receive(chunk, this.#now(), transient);
    t.onDrain = () => this.#serve(peer);
    t.onClose = (err) =>
      peer.close({ kind: "socket", message: err ? err.message : "connection closed" });
  }

  // ---- PeerHost ------------------------------------------------------------------------------

  onHandshake(peer: Peer, _info: HandshakeInfo): void {
    for (const other of this.#peers.values()) {
      if (
        other !== peer &&
        other.remoteId &&
        peer.remoteId &&
        Buffer.compare(other.remoteId, peer.remoteId) === 0
      ) {
        peer.close({ kind: "duplicate" });
        return;
      }
    }
    const now = this.#now();
    peer.sendBitfield(this.picker.have, now);
    this.emit(
      "peer-connected",
      peer.address,
      peer.remoteId ? Buffer.from(peer.remoteId.subarray(0, 8)).toString("latin1") : "",
      [...(peer.fast ? ["fast"] : []), ...(peer.ext ? ["extended"] : [])],
    );
  }

  onBitfield(peer: Peer): void {
    if (this.#isDone() && peer.have.complete && !this.#wantsMore()) {
      // Two seeds have nothing to say to each other.
      peer.close({ kind: "local", message: "both seeding" });
      return;
    }
    this.picker.addPeer(peer.key, peer.have);
    this.#updateInterest(peer);
    // BEP 6: a starting peer may fetch a few pieces from us even while choked.
    if (peer.fast && peer.have.count <= 10 && this.picker.have.count > 0) {
      const t = this.#transports.get(peer.key);
      if (t)
        peer.sendAllowedFast(this.meta.infoHash, t.remoteAddress, this.picker.have, this.#now());
    }
  }

  onHave(peer: Peer, index: number): void {
    this.picker.peerHave(peer.key, index);
    if (!peer.amInterested) this.#updateInterest(peer);
    if (this.#isDone() && peer.have.complete)
      peer.close({ kind: "local", message: "both seeding" });
  }

  onChoked(peer: Peer, dropped: number[]): void {
    for (const k of dropped) {
      const { index, begin } = peer.blockOf(k);
      this.picker.onRequestCancelled(peer.key, index, begin);
    }
    this.#refillAll();
  }

  onUnchoked(peer: Peer): void {
    this.#fillRequests(peer);
  }

  onInterest(peer: Peer, interested: boolean): void {
    if (interested && peer.amChoking) {
      // Unchoke at once while slots are free; the choker rebalances every 10 s.
      let unchoked = 0;
      for (const p of this.#peers.values()) if (!p.amChoking) unchoked++;
      if (unchoked < (this.#o.uploadSlots ?? DEFAULT_UPLOAD_SLOTS)) peer.unchoke(this.#now());
    }
  }

  onBlock(peer: Peer, index: number, begin: number, block: Uint8Array): void {
    this.#downloaded += block.length;
    const result = this.picker.onBlock(peer.key, index, begin);
    if (result.status === "unexpected") return;
    // Endgame: the same block was asked of others; cancel theirs.
    for (const otherKey of result.cancel ?? []) {
      const other = this.#peers.get(otherKey);
      other?.cancel(index, begin, block.length, this.#now());
    }
    if (result.status === "duplicate") {
      this.#scheduleRefill(peer);
      return;
    }
    const partial = this.#buffers.acquire(index);
    this.#buffers.write(partial, begin, block, peer.key);
    if (this.#buffers.isFull(partial)) {
      const p = this.#buffers.detach(index)!;
      this.#hashPiece(index, p.data, p.senders);
    }
    this.#scheduleRefill(peer);
  }

  onRequest(peer: Peer): void {
    this.#serve(peer);
  }

  onRequestTimeout(peer: Peer, keys: number[]): void {
    for (const k of keys) {
      const { index, begin } = peer.blockOf(k);
      this.picker.onRequestCancelled(peer.key, index, begin);
    }
    this.#refillAll();
  }

  onRejected(peer: Peer, keys: number[]): void {
    this.onRequestTimeout(peer, keys);
  }

  onExtended(peer: Peer, msg: ExtMessage): void {
    const now = this.#now();
    switch (msg.type) {
      case "handshake":
        // BEP 21: two peers that only upload have nothing to exchange.
        if (peer.uploadOnly && this.#isDone() && !this.#wantsMore()) {
          this.#markSeed(peer);
          peer.close({ kind: "local", message: "both seeding" });
          return;
        }
        if (
          peer.ext?.supports(UT_PEX) &&
          this.#extensions.idOf(UT_PEX) !== undefined &&
          !this.#pex.has(peer.key)
        )
          this.#pex.set(
            peer.key,
            new PexState({ remote: this.#listenAddress(peer) ?? { host: "", port: 0 } }),
          );
        return;
      case "ut_metadata": {
        const m = msg.message;
        if (m.type !== "request") return; // we have the metadata: data and rejects mean nothing
        const reply = this.#metadataServer.onRequest(peer.key, m.piece);
        peer.sendExtended("ut_metadata", reply.payload, now);
        return;
      }
      case "ut_pex": {
        const pex = this.#pex.get(peer.key);
        const got = pex?.receive(msg.payload, now);
        if (!got) return;
        const isSelf = this.#o.isSelf;
        this.addPeers(
          got.added
            .filter((p) => {
              const b = ipToBytes(p.host);
              return b !== undefined && isDialableIp(b) && p.port > 0;
            })
            .filter((p) => !isSelf?.(p))
            .map((p) => ({ host: p.host, port: p.port })),
        );
        return;
      }
      case "lt_donthave":
        // The peer dropped a piece (BEP 54): recount its availability from its bitfield.
        if (peer.bitfieldKnown) {
          this.picker.removePeer(peer.key);
          this.picker.addPeer(peer.key, peer.have);
          this.#updateInterest(peer);
        }
        return;
      default:
        return;
    }
  }

  #markSeed(peer: Peer): void {
    const ck = this.#candidateOf.get(peer.key);
    const c = ck ? this.#candidates.get(ck) : undefined;
    if (c) c.seed = true;
  }

  /** Where a connected peer accepts connections: the address we dialled, or its `p` port. */
  #listenAddress(peer: Peer): PeerAddress | undefined {
    const ck = this.#candidateOf.get(peer.key);
    const c = ck ? this.#candidates.get(ck) : undefined;
    if (c) return c.addr;
    const t = this.#transports.get(peer.key);
    if (t && peer.listenPort) return { host: t.remoteAddress, port: peer.listenPort };
    return undefined;
  }

  /** PEX: tell each peer (at most once a minute, by its PexState) whom we are connected to. */
  #sendPex(now: number): void {
    if (this.#pex.size === 0) return;
    const connected: PexPeer[] = [];
    for (const p of this.#peers.values()) {
      if (!p.handshaken) continue;
      const a = this.#listenAddress(p);
      if (!a) continue;
      connected.push({
        host: a.host,
        port: a.port,
        flags:
          (p.have.complete || p.uploadOnly ? 0x02 : 0) | (this.#candidateOf.has(p.key) ? 0x10 : 0),
      });
    }
    for (const [key, pex] of this.#pex) {
      const peer = this.#peers.get(key);
      if (!peer) continue;
      const payload = pex.update(connected, now);
      if (payload) peer.sendExtended("ut_pex", payload, now);
    }
  }

  onClose(peer: Peer, reason: CloseReason): void {
    this.#pex.delete(peer.key);
    this.#metadataServer.removePeer(peer.key);
    this.#peers.delete(peer.key);
    this.#transports.delete(peer.key);
    if (peer.bitfieldKnown) this.picker.removePeer(peer.key);
    const ck = this.#candidateOf.get(peer.key);
    this.#candidateOf.delete(peer.key);
    const c = ck ? this.#candidates.get(ck) : undefined;
    if (c) {
      c.connected = false;
      c.seed = peer.bitfieldKnown && peer.have.complete;
      if (reason.kind === "self" || reason.kind === "wrong-torrent" || reason.kind === "banned") {
        this.#candidates.delete(ck!);
        if (this.#rejected.size < MAX_CANDIDATES) this.#rejected.add(ck!);
      } else {
        this.#dialFailed(c, this.#now());
        if (peer.handshaken) c.failures = Math.max(0, c.failures - 1);
      }
    }
    if (peer.handshaken) this.emit("peer-disconnected", peer.address, describeClose(reason));
    if (this.state === "downloading") this.#refillAll();
  }

  // ---- downloading ---------------------------------------------------------------------------

  #wantsMore(): boolean {
    return !this.picker.isComplete();
  }

  #isDone(): boolean {
    return this.picker.isComplete() && this.#hashing === 0;
  }

  #updateInterest(peer: Peer): void {
    const want = this.#wantsMore() && this.picker.isInteresting(peer.key);
    peer.setInterested(want, this.#now());
    if (want && !peer.peerChoking) this.#fillRequests(peer);
  }

  #fillRequests(peer: Peer): void {
    if (peer.closed || peer.peerChoking || !peer.amInterested || this.state !== "downloading")
      return;
    const now = this.#now();
    const target = desiredQueue({
      rateBytesPerSec: peer.downloadRate.rate(now),
      rttMs: 50,
      blockSize: 16384,
      reqq: peer.remoteReqq ?? 250,
    });
    const room = target - peer.requests.size;
    // Hysteresis: top the queue up in batches, not one request (one socket write) per block.
    if (room <= 0 || (peer.requests.size > 0 && room < Math.max(1, target >> 3))) return;
    const out = this.#scratch;
    out.length = 0;
    // The picker counts every piece from its first request until it is verified and written
    // (or fails): each holds, or is about to hold, one piece buffer.
    const budget =
      this.#hashing >= this.#maxBacklog ? 0 : this.#maxPieces - this.picker.downloadingCount;
    if (budget <= 0) this.#capped = true;
    const n = this.picker.pick(peer.key, room, out, { maxNewPieces: Math.max(0, budget) });
    if (n > 0) peer.request(out.slice(0, n), now);
  }

  /**
   * A refill found piece memory at the cap: refill every peer as soon as some is freed, or queues
   * that drained meanwhile would wait for the next tick.
   */
  #capped = false;

  /** Piece memory was freed (a piece written or dropped): wake peers that the cap held back. */
  #memoryFreed(): void {
    if (!this.#capped || this.state !== "downloading") return;
    if (this.#hashing >= this.#maxBacklog || this.picker.downloadingCount >= this.#maxPieces)
      return;
    this.#capped = false;
    for (const p of this.#peers.values()) this.#scheduleRefill(p);
  }

  readonly #refillPending = new Set<Peer>();
  #refillScheduled = false;

  /**
   * Refill `peer`'s request queue once this turn of the event loop is over, so the blocks of one
   * socket read (several per 64 KiB chunk) lead to one batch of requests and one write.
   */
  #scheduleRefill(peer: Peer): void {
    this.#refillPending.add(peer);
    if (this.#refillScheduled) return;
    this.#refillScheduled = true;
    setImmediate(() => {
      this.#refillScheduled = false;
      for (const p of this.#refillPending) this.#fillRequests(p);
      this.#refillPending.clear();
    });
  }

  #refillAll(): void {
    for (const p of this.#peers.values()) this.#fillRequests(p);
  }

  /**
   * Pieces up to INLINE_HASH_BYTES whose last block just arrived: hashed together once the peer's
   * current read is handled (one microtask, no promise or async frame per piece).
   */
  readonly #toVerify: { index: number; data: Uint8Array; senders: Int32Array }[] = [];

  /** Every block of piece `index` is in: verify it, then write it. */
  #hashPiece(index: number, data: Uint8Array, senders: Int32Array): void {
    this.#hashing++;
    if (data.length <= INLINE_HASH_BYTES) {
      if (this.#toVerify.length === 0) queueMicrotask(this.#verifyQueued);
      this.#toVerify.push({ index, data, senders });
      return;
    }
    this.#o.hashPool.hashBuffer(data, { transfer: true }).then(
      (r) => this.#verified(index, r.data, senders, r.digest),
      (e: Error) => this.#pieceDropped(e),
    );
  }

  readonly #verifyQueued = (): void => {
    const q = this.#toVerify;
    for (let i = 0; i < q.length; i++) {
      const { index, data, senders } = q[i]!;
      this.#verified(index, data, senders, sha1(data));
    }
    q.length = 0;
  };

  /** A piece was hashed: ban or strike on failure, else on to the disk. */
  #verified(index: number, buf: Uint8Array, senders: Int32Array, digest: Uint8Array): void {
    const at = index * 20;
    const expected = this.meta.pieceHashes;
    let ok = digest.length === 20;
    for (let i = 0; ok && i < 20; i++) ok = digest[i] === expected[at + i];
    try {
      if (!ok) {
        this.picker.onPieceHashed(index, false);
        this.emit("hash-failed", index);
        for (const k of this.#smartBan.onHashFailed(index, buf, senders))
          this.#ban(k, `sent data for piece ${index} that failed its hash`);
        const contributors = new Set<number>();
        for (const s of senders) if (s >= 0) contributors.add(s);
        // A convicted peer's data in the piece explains the failure: no strike for the others.
        const explained = [...contributors].some((k) => this.#convicted.has(k));
        for (const k of explained ? [] : contributors) {
          const p = this.#peers.get(k);
          if (p && ++p.hashFailures >= MAX_HASH_FAILURES)
            this.#ban(k, `${p.hashFailures} pieces failed with its data`);
        }
        this.#buffers.recycle(buf);
        this.#refillAll();
      } else {
        for (const k of this.#smartBan.onHashPassed(index, buf))
          this.#ban(k, `smart ban: sent a bad block of piece ${index}`);
        // Good data earns a strike back (libtorrent's trust points): an honest peer that shared
        // failed pieces with a bad one is not banned for it. (Once per peer: a Set only then.)
        for (const k of senders) {
          if (k >= 0 && (this.#peers.get(k)?.hashFailures ?? 0) > 0) {
            for (const j of new Set(senders)) {
              const p = j >= 0 ? this.#peers.get(j) : undefined;
              if (p && p.hashFailures > 0) p.hashFailures--;
            }
            break;
          }
        }
      }
    } catch (e) {
      this.#pieceDropped(e as Error);
      return;
    }
    if (!ok || this.state === "stopped") {
      this.#pieceDropped();
      return;
    }
    this.#toWrite.set(index, buf);
    if (!this.#pumpScheduled) {
      // After the other pieces verified in this batch, so they can join the same write.
      this.#pumpScheduled = true;
      queueMicrotask(this.#pumpWrites);
    }
  }

  /** A verified piece is on disk: recycle its buffer, announce it. */
  #written(index: number, buf: Uint8Array): void {
    this.#hashing--;
    try {
      this.#buffers.recycle(buf);
      this.picker.onPieceHashed(index, true);
      this.#markHave(index, true);
    } catch (e) {
      if (this.state !== "stopped") this.#fail(e as Error);
    }
    this.#memoryFreed();
    this.#checkDone();
  }

  /** A piece left the hash/write stage without being had (failed hash, error, stop). */
  #pieceDropped(error?: Error): void {
    this.#hashing--;
    if (error !== undefined && this.state !== "stopped") this.#fail(error);
    this.#memoryFreed();
    this.#checkDone();
  }

  /** Verified pieces waiting for the disk, oldest first. */
  readonly #toWrite = new Map<number, Uint8Array>();
  #writing = 0;
  #pumpScheduled = false;

  /**
   * Start writes while fewer than MAX_WRITES are in flight: the oldest waiting piece, with the
   * waiting pieces before and after it that follow one another (WRITE_RUN_BYTES at most).
   */
  readonly #pumpWrites = (): void => {
    this.#pumpScheduled = false;
    const q = this.#toWrite;
    if (this.state === "stopped" || this.state === "error") {
      const n = q.size;
      q.clear();
      for (let i = 0; i < n; i++) this.#pieceDropped();
      return;
    }
    while (this.#writing < MAX_WRITES && q.size > 0) {
      const oldest: number = q.keys().next().value!;
      let first = oldest;
      let bytes = q.get(oldest)!.length;
      for (;;) {
        const prev = q.get(first - 1);
        if (prev === undefined || bytes + prev.length > WRITE_RUN_BYTES) break;
        first--;
        bytes += prev.length;
      }
      let end = oldest + 1;
      for (;;) {
        const next = q.get(end);
        if (next === undefined || bytes + next.length > WRITE_RUN_BYTES) break;
        end++;
        bytes += next.length;
      }
      const pieces: Uint8Array[] = [];
      for (let i = first; i < end; i++) {
        pieces.push(q.get(i)!);
        q.delete(i);
      }
      this.#writing++;
      this.storage.writePieces(first, pieces).then(
        () => {
          this.#writing--;
          for (let i = 0; i < pieces.length; i++) this.#written(first + i, pieces[i]!);
          this.#pumpWrites();
        },
        (e: Error) => {
          this.#writing--;
          for (let i = 0; i < pieces.length; i++) this.#pieceDropped(e);
          this.#pumpWrites();
        },
      );
    }
  };

  #markHave(index: number, announce: boolean): void {
    if (!announce) this.picker.setHave(index);
    if (this.#wantedPieces[index]) this.#haveBytes += this.#pieceSize(index);
    if (!announce) return;
    const now = this.#now();
    for (const p of this.#peers.values()) {
      if (!p.handshaken) continue;
      // A peer that already has the piece needn't hear of it (libtorrent's lazy HAVE), except
      // that it costs nothing and keeps the exchange simple: skip only for seeds.
      if (!p.have.complete) p.sendHave(index, now);
      if (p.amInterested && !this.picker.isInteresting(p.key)) p.setInterested(false, now);
    }
    this.emit("piece", index);
  }

  #checkDone(): void {
    if (this.#doneEmitted || !this.#isDone() || this.state === "checking") return;
    this.#doneEmitted = true;
    this.state = "seeding";
    // BEP 21: from now on we only upload.
    const now = this.#now();
    for (const p of this.#peers.values())
      p.sendExtended("upload_only", encodeUploadOnly(true), now);
    void this.storage.createEmptyFiles().then(
      () => {
        this.emit("done");
        this.#resolveDone();
      },
      (e: Error) => this.#fail(e),
    );
    // Seeds drop peers that are seeds too.
    for (const p of [...this.#peers.values()]) {
      if (p.have.complete) p.close({ kind: "local", message: "both seeding" });
      else p.setInterested(false, this.#now());
    }
  }

  #ban(key: number, why: string): void {
    this.#convicted.add(key);
    const p = this.#peers.get(key);
    if (!p) return;
    this.#banned.add(this.#transports.get(key)?.remoteAddress ?? p.address);
    this.emit("peer-banned", p.address, why);
    p.close({ kind: "banned" });
  }

  #fail(e: Error): void {
    if (this.state === "error") return;
    this.state = "error";
    this.error = e;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#peers.values()]) p.close({ kind: "local", message: e.message });
    this.emit("error", e);
    this.#rejectDone(e);
  }

  // ---- uploading -----------------------------------------------------------------------------

  readonly #serving = new Set<number>();

  async #serve(peer: Peer): Promise<void> {
    if (this.#serving.has(peer.key)) return;
    this.#serving.add(peer.key);
    try {
      const t = this.#transports.get(peer.key);
      while (!peer.closed && peer.incoming.length > 0 && t && !t.congested) {
        const r = peer.incoming[0] as IncomingRequest;
        // While choked only allowed-fast requests stay queued (BEP 6).
        if (peer.amChoking && !peer.allowedFastToPeer.has(r.index)) break;
        peer.incoming.shift();
        if (!this.picker.have.has(r.index)) {
          peer.reject(r, this.#now()); // a piece we lack: refused (explicitly with Fast)
          continue;
        }
        let data: Uint8Array;
        try {
          data = await this.storage.readBlock(r.index, r.begin, r.length);
        } catch (e) {
          // The data went away under us: the piece is lost, not the peer's fault.
          peer.reject(r, this.#now());
          this.#losePiece(r.index, (e as Error).message);
          continue;
        }
        if (peer.closed) break;
        peer.sendBlock(r.index, r.begin, data, this.#now());
        this.#uploaded += data.length;
      }
    } catch (e) {
      peer.close({ kind: "local", message: `cannot read block: ${(e as Error).message}` });
    } finally {
      this.#serving.delete(peer.key);
    }
  }

  /**
   * A piece we had cannot be read back: tell peers (BEP 54 lt_donthave), want it again, and if we
   * were seeding, download again (peers known to be seeds become worth dialling).
   */
  #losePiece(index: number, reason: string): void {
    if (!this.picker.have.has(index)) return;
    this.picker.unsetHave(index);
    if (this.#wantedPieces[index]) this.#haveBytes -= this.#pieceSize(index);
    const now = this.#now();
    const wasSeeding = this.state === "seeding";
    for (const p of this.#peers.values()) {
      p.sendExtended("lt_donthave", encodeDontHave(index), now);
      if (wasSeeding) p.sendExtended("upload_only", encodeUploadOnly(false), now);
    }
    this.emit("piece-lost", index, reason);
    if (wasSeeding && this.#wantsMore()) {
      this.state = "downloading";
      this.#doneEmitted = false;
      for (const p of this.#peers.values()) if (p.bitfieldKnown) this.#updateInterest(p);
      this.#connectMore();
    }
  }

  // ---- periodic ------------------------------------------------------------------------------

  #tick(): void {
    const now = this.#now();
    for (const p of [...this.#peers.values()]) p.tick(now);
    if (now - this.#lastChoke >= CHOKE_INTERVAL_MS) {
      this.#lastChoke = now;
      this.#runChoker(now);
    }
    this.#connectMore();
    this.#refillAll();
    this.#sendPex(now);
  }

  #runChoker(now: number): void {
    const snapshot: ChokerPeer[] = [];
    for (const p of this.#peers.values()) {
      if (!p.handshaken) continue;
      snapshot.push({
        key: p.key,
        interested: p.peerInterested,
        choked: p.amChoking,
        downloadRate: p.downloadRate.rate(now),
        uploadRate: p.uploadRate.rate(now),
        snubbed: p.snubbed(now),
        isSeed: p.have.complete,
        connectedAt: p.connectedAt,
      });
    }
    const result = chooseUnchokes({
      peers: snapshot,
      mode: this.#isDone() ? "seeding" : "leeching",
      slots: this.#o.uploadSlots ?? DEFAULT_UPLOAD_SLOTS,
      now,
      state: this.#optimisticState,
    });
    this.#optimisticState = result.state;
    const unchoke = new Set(result.unchoke);
    for (const p of this.#peers.values()) {
      if (!p.handshaken) continue;
      if (unchoke.has(p.key)) p.unchoke(now);
      else p.choke(now);
    }
  }
}
