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
import { type Encryption, formatAddress, type Transport } from "../net/transport.js";
import {
  ADVERTISED_REQQ,
  type CloseReason,
  describeClose,
  type IncomingRequest,
  Peer,
  type PeerHost,
  type PeerTimeouts,
  type ServedBlock,
} from "../peer/peer.js";
import { StorageError } from "../storage/errors.js";
import type { HashPool } from "../storage/hash-pool.js";
import { decodeResume, encodeResume, planResume } from "../storage/resume.js";
import { TorrentStorage, type TorrentStorageOptions } from "../storage/storage.js";
import type { TrackerStatus } from "../tracker/announcer.js";
import type { PeerId } from "../types.js";
import type { PeerAddress } from "../util/address.js";
import type { Bitfield } from "../util/bitfield.js";
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
 * Pieces that complete in the same turn of the event loop go to a hash worker together, in
 * batches of up to this many bytes (at least one piece): one worker round trip per batch instead
 * of one per piece, which cost more CPU than SHA-1 of a small piece itself (bench/README.md).
 * Hashing never runs on the main thread.
 */
export const HASH_BATCH_BYTES = 1024 * 1024;
/**
 * Pieces up to this size are copied into one packed buffer per batch on their way to a hash
 * worker (HashPool.hashBuffers without `transfer`); larger ones are transferred, no copy. Each
 * transferred ArrayBuffer costs some microseconds on both threads and garbage on both heaps,
 * which with 16 KiB pieces (64 per batch) cost more than copying the bytes (bench/README.md).
 */
export const PACK_PIECE_MAX = 64 * 1024;
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

/** Peers per torrent. */
export const DEFAULT_MAX_PEERS = 80;
/** Incoming connections accepted beyond `maxPeers` (dials never go past it). */
export const INCOMING_SLACK = 10;
/**
 * A peer connected this long with nothing to exchange (neither side interested, no requests)
 * may be closed to make room when the torrent is full: for a dial while downloading, or for an
 * incoming connection.
 */
export const USELESS_PEER_MS = 30_000;
/** Upload slots (unchoked peers), optimistic one included. */
export const DEFAULT_UPLOAD_SLOTS = 8;
export const CHOKE_INTERVAL_MS = 10_000;
/**
 * Most bytes of cached blocks sent to one peer in one vectored write (see #serve). Bench (d):
 * per-block writes cost a syscall and a TCP segment each, on the seed and on the leecher.
 */
export const SERVE_BATCH_BYTES = 256 * 1024;
/**
 * Read-ahead depth: the chunks of a peer's next this many requests are loaded into the read cache
 * before #serve reaches them (256 blocks = 4 MiB a peer; 8 unchoked peers fill the 32 MiB cache).
 */
const READ_AHEAD_SCAN = 256;
/** See the keep-alive in #attach's onData: only chunks this small (no block data) get one. */
const IDLE_ACK_MAX_CHUNK = 1024;
/** Dials started per tick. */
const DIALS_PER_TICK = 10;
/** Candidate peers remembered (peers from trackers and PEX beyond this are ignored). */
export const MAX_CANDIDATES = 2_000;
/**
 * Trust points (libtorrent's): a peer gains one per passed piece it contributed to, up to
 * TRUST_MAX, loses TRUST_PER_FAILURE per failed one, and is banned at TRUST_BAN or below. So a
 * peer with no passes yet is banned after four failures, one with a record of good pieces after
 * eight: an honest seed that shares pieces with several not-yet-convicted corrupting peers keeps
 * earning its points back on the pieces it finishes alone.
 */
const TRUST_MAX = 8;
const TRUST_PER_FAILURE = 2;
const TRUST_BAN = -7;
/** Resume data is saved this often while pieces keep arriving (and on completion and stop). */
export const RESUME_SAVE_INTERVAL_MS = 30_000;
/** First retry after a disk error; doubles on each failure up to the maximum. */
export const DISK_RETRY_MS = 5_000;
export const DISK_RETRY_MAX_MS = 60_000;

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
  /** Requests to peers that timed out and went back to the picker (stalled or slow peers). */
  requestsTimedOut: number;
}

/** How the data on disk was found at start. */
export interface CheckInfo {
  /** "resume": resume data was used (only changed files were hashed); "recheck": every piece was hashed. */
  source: "resume" | "recheck";
  /** Pieces hashed to get there. */
  checkedPieces: number;
  /** Why resume data was not used, when there was some. */
  resumeIgnored?: string;
}

export interface TorrentEvents {
  /** The data on disk was checked: `have` pieces were already there. */
  checked: (have: number, info: CheckInfo) => void;
  piece: (index: number) => void;
  "hash-failed": (index: number) => void;
  /** A verified piece could not be read back (file deleted or truncated): wanted again. */
  "piece-lost": (index: number, reason: string) => void;
  /**
   * `features`: what the handshake negotiated ("fast", "extended"); `encryption`: "none" (no
   * MSE), or MSE with "plaintext" or "rc4" selected.
   */
  "peer-connected": (
    address: string,
    id: string,
    features: string[],
    encryption: Encryption,
  ) => void;
  "peer-disconnected": (address: string, reason: string) => void;
  "peer-banned": (address: string, reason: string) => void;
  /** A tracker's state changed (announce sent, reply, failure). */
  tracker: (status: TrackerStatus) => void;
  /** Every wanted piece is verified and on disk. */
  done: () => void;
  /**
   * Writing failed (disk full, read-only, permissions...): downloading stops, uploading of what we
   * have goes on, verified pieces not yet written are kept, and writing is tried again after
   * `retryInMs`.
   */
  "storage-error": (error: StorageError, retryInMs: number) => void;
  /** Writing works again after a storage error: downloading resumes. */
  "storage-recovered": () => void;
  /** Something went wrong that does not stop the torrent (e.g. resume data could not be saved). */
  warning: (message: string) => void;
  /** A fatal error: the torrent stopped (`done` rejects with it). */
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
  /** Keep resume data in `downloadDir/.<infohash>.resume` (default true). */
  resume?: boolean;
  /** First retry after a storage error, in ms (default 5 s; doubles up to 60 s). */
  diskRetryMs?: number;
  /** Makes the storage (tests inject faults with a subclass). */
  createStorage?: (
    meta: TorrentMeta,
    downloadDir: string,
    opts: TorrentStorageOptions,
  ) => TorrentStorage;
  /** Peer timeout overrides (tests). */
  peerTimeouts?: Partial<PeerTimeouts>;
  /** Default {@link USELESS_PEER_MS}. */
  uselessPeerMs?: number;
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
  #requestsTimedOut = 0;
  #haveBytes = 0;
  #wantedBytes = 0;
  #piecesWanted = 0;
  #doneEmitted = false;
  /** The error stopped the torrent for good (as opposed to a storage error being retried). */
  #fatal = false;
  /** Verified pieces whose write failed, kept to be written on the next retry. */
  readonly #unwritten = new Map<number, Uint8Array>();
  #diskFailures = 0;
  /** When to retry writing after a storage error (0: no retry pending). */
  #diskRetryAt = 0;
  #diskRetrying = false;
  #resumeDirty = false;
  #lastResumeSave = 0;
  #savingResume: Promise<void> | undefined;
  #lastResumeWarning = "";
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
    const storageOpts: TorrentStorageOptions = { hashPool: o.hashPool, wantedFiles: layout.files };
    this.storage = o.createStorage
      ? o.createStorage(meta, o.downloadDir, storageOpts)
      : new TorrentStorage(meta, o.downloadDir, storageOpts);
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

  /** A method, so TypeScript does not narrow `state` across awaits. */
  #stopped(): boolean {
    return this.state === "stopped";
  }

  /** Running: downloading, seeding, or waiting out a storage error (still uploading). */
  get active(): boolean {
    return (
      this.state === "downloading" ||
      this.state === "seeding" ||
      (this.state === "error" && !this.#fatal)
    );
  }

  get infoHashHex(): string {
    return this.meta.infoHashHex;
  }

  #pieceSize(p: number): number {
    return Math.min(this.meta.pieceLength, this.meta.length - p * this.meta.pieceLength);
  }

  /**
   * Find what is on disk — from resume data cross-checked against the files (only files that
   * changed since it was saved are hashed), or by hashing everything — then start swarming.
   */
  async start(): Promise<void> {
    try {
      const { have, info } = await this.#checkExisting();
      if (this.state === "stopped") return;
      for (const p of have.ones()) this.#markHave(p, false);
      // Save fresh resume data soon unless what is on disk is exactly what it says.
      this.#resumeDirty = info.source === "recheck" || info.checkedPieces > 0;
      this.#lastResumeSave = this.#now();
      this.emit("checked", have.count, info);
    } catch (e) {
      this.#fail(e as Error);
      return;
    }
    if (this.#stopped()) return;
    this.state = this.#isDone() ? "seeding" : "downloading";
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.#timer.unref();
    this.#checkDone();
    this.#connectMore();
  }

  async #checkExisting(): Promise<{ have: Bitfield; info: CheckInfo }> {
    let resumeIgnored: string | undefined;
    if (this.#o.resume !== false) {
      const bytes = await this.storage.readResume();
      if (bytes !== null) {
        try {
          const saved = decodeResume(bytes, {
            infoHash: this.meta.infoHash,
            pieceCount: this.meta.pieceCount,
            fileCount: this.meta.files.length,
          });
          const now = await this.storage.fileStates();
          const plan = planResume(this.meta, saved, now, this.storage.viaPartPieces);
          const have =
            plan.recheck.length > 0
              ? await this.storage.recheck({ pieces: plan.recheck })
              : await this.storage.recheck({ pieces: [] });
          for (const p of plan.trusted.ones()) have.set(p);
          return { have, info: { source: "resume", checkedPieces: plan.recheck.length } };
        } catch (e) {
          if (e instanceof StorageError && e.code !== "STORAGE_IO") throw e;
          resumeIgnored = (e as Error).message;
          this.emit("warning", resumeIgnored);
        }
      }
    }
    const have = await this.storage.recheck();
    return {
      have,
      info: {
        source: "recheck",
        checkedPieces: this.meta.pieceCount,
        ...(resumeIgnored ? { resumeIgnored } : {}),
      },
    };
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
      requestsTimedOut: this.#requestsTimedOut,
    };
  }

  /**
   * Stop: close peers, let writes in flight land, save resume data (so the next start needs no
   * recheck), close files. Verified pieces that could not be written (storage error) are dropped.
   */
  async stop(): Promise<void> {
    if (this.state === "stopped") return;
    const was = this.state;
    this.state = "stopped";
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#peers.values()])
      p.close({ kind: "local", message: "torrent stopped" });
    if (was !== "checking" && !this.#fatal) {
      await this.storage.settle().catch(() => {});
      await this.#savingResume?.catch(() => {});
      if (this.#resumeDirty) await this.#saveResume();
    }
    for (const buf of this.#unwritten.values()) this.#buffers.recycle(buf);
    this.#unwritten.clear();
    await this.storage.close();
    if (!this.#fatal && !this.#doneEmitted)
      this.#rejectDone(new Error("torrent stopped before completion"));
  }

  /**
   * Save resume data now (also done every 30 s while pieces arrive, on completion and on stop).
   * Files are measured first, then the verified pieces are snapshot, then the file is replaced
   * atomically: see storage/resume.ts for why that order is safe.
   */
  saveResume(): Promise<void> {
    return this.#saveResume();
  }

  #saveResume(): Promise<void> {
    if (this.#o.resume === false) return Promise.resolve();
    if (this.#savingResume) return this.#savingResume;
    const run = async () => {
      try {
        const states = await this.storage.fileStates();
        const have = this.picker.have.clone();
        this.#resumeDirty = false;
        await this.storage.writeResume(
          encodeResume({
            infoHash: this.meta.infoHash,
            pieceCount: this.meta.pieceCount,
            have,
            files: states.files,
            ...(states.parts ? { parts: states.parts } : {}),
            savedAt: Date.now(),
            info: this.meta.infoBytes,
          }),
        );
      } catch (e) {
        this.#resumeDirty = true;
        // Said once (a read-only seed would otherwise repeat it every 30 s).
        const message = `resume data not saved: ${(e as Error).message}`;
        if (message !== this.#lastResumeWarning) this.emit("warning", message);
        this.#lastResumeWarning = message;
      } finally {
        this.#lastResumeSave = this.#now();
        this.#savingResume = undefined;
      }
    };
    this.#savingResume = run();
    return this.#savingResume;
  }

  // ---- connections -------------------------------------------------------------------------

  #connectMore(): void {
    if (this.state !== "downloading" && this.state !== "seeding") return;
    const max = this.#o.maxPeers ?? DEFAULT_MAX_PEERS;
    const now = this.#now();
    let started = 0;
    for (const [k, c] of this.#candidates) {
      if (started >= DIALS_PER_TICK) break;
      const full = this.#peers.size + this.#dialing >= max;
      if (full && this.state !== "downloading") break;
      if (c.connected || c.nextAttempt > now || this.#banned.has(c.addr.host)) continue;
      // Seeds don't dial peers known to be seeds: they have nothing to exchange.
      if (this.#isDone() && c.seed) continue;
      // A download does not let idle peers keep a candidate out forever.
      if (full && !this.#makeRoom(max, now)) break;
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

  /**
   * Close peers connected for a while with nothing to exchange (neither side interested, no
   * requests either way), oldest first, until fewer than `limit` connections are open or dialling.
   * Without it, peers that keep their connections alive and do nothing could hold every slot.
   */
  #makeRoom(limit: number, now: number): boolean {
    const grace = this.#o.uselessPeerMs ?? USELESS_PEER_MS;
    const useless = [...this.#peers.values()]
      .filter(
        (p) =>
          !p.amInterested &&
          !p.peerInterested &&
          p.requests.size === 0 &&
          p.incoming.length === 0 &&
          now - p.connectedAt >= grace,
      )
      .sort((a, b) => a.connectedAt - b.connectedAt);
    for (const p of useless) {
      if (this.#peers.size + this.#dialing < limit) break;
      p.close({ kind: "local", message: "replaced: nothing to exchange" });
    }
    return this.#peers.size + this.#dialing < limit;
  }

  /**
   * Attach a transport (dialled by us, or routed to us by the session's listener). A dial was
   * counted against `maxPeers` when it started, so only incoming connections are refused for
   * room: they count the dials in flight, so a burst of them cannot take a dialled peer's place.
   */
  attach(t: Transport, outgoing: boolean, candidateKey?: string): void {
    const limit = (this.#o.maxPeers ?? DEFAULT_MAX_PEERS) + INCOMING_SLACK;
    if (
      this.#banned.has(t.remoteAddress) ||
      (!outgoing &&
        this.#peers.size + this.#dialing >= limit &&
        !this.#makeRoom(limit, this.#now()))
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
        send: (chunks, onWritten) => void t.write(chunks, onWritten),
        disconnect: () => t.close(),
        address,
        ...(this.#o.peerTimeouts ? { timeouts: this.#o.peerTimeouts } : {}),
      },
      this,
    );
    if (candidateKey) this.#candidateOf.set(key, candidateKey);
    this.#peers.set(key, peer);
    this.#transports.set(key, t);
    t.onData = (chunk, transient) => {
      const now = this.#now();
      const uploaded = this.#uploaded;
      peer.receive(chunk, now, transient);
      // A peer we upload to sent a few small messages (HAVE, ...) and nothing for us to answer
      // with data: it may hold its next requests back until we acknowledge those (Nagle's
      // algorithm on its side, e.g. libtorrent; delayed ACK on ours, ~40 ms on Linux). A
      // keep-alive carries the ACK at once. Bench (d): these stalls took 2 s of a 3 s transfer.
      if (
        chunk.length < IDLE_ACK_MAX_CHUNK &&
        this.#uploaded === uploaded &&
        peer.incoming.length === 0 &&
        !peer.amChoking &&
        peer.peerInterested &&
        !peer.closed &&
        !t.congested &&
        peer.uploadRate.rate(now) > 0
      ) {
        peer.sendKeepAlive(now);
      }
    };
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
      this.#transports.get(peer.key)?.encryption ?? "none",
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
    // Start reading a request that will soon be served while the ones before it are.
    const q = peer.incoming;
    const r = q[q.length - 1];
    if (r !== undefined && q.length <= READ_AHEAD_SCAN && this.picker.have.has(r.index)) {
      this.storage.warmBlock(r.index, r.begin, r.length);
    }
    this.#serve(peer);
  }

  onRequestTimeout(peer: Peer, keys: number[]): void {
    this.#requestsTimedOut += keys.length;
    for (const k of keys) {
      const { index, begin } = peer.blockOf(k);
      this.picker.onRequestCancelled(peer.key, index, begin);
    }
    this.#refillAll();
  }

  onRejected(peer: Peer, keys: number[]): void {
    for (const k of keys) {
      const { index, begin } = peer.blockOf(k);
      this.picker.onRequestCancelled(peer.key, index, begin);
    }
    this.#refillAll();
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
    const want = this.state !== "error" && this.#wantsMore() && this.picker.isInteresting(peer.key);
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
      // One request at a time to a peer whose requests time out (libtorrent's snub).
      snubbed: peer.snubbed(now),
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

  /** Pieces whose last block arrived in this turn of the event loop, to hash as batches. */
  readonly #toVerify: { index: number; data: Uint8Array; senders: Int32Array }[] = [];
  #verifyScheduled = false;

  /** Every block of piece `index` is in: verify it (on a worker), then write it. */
  #hashPiece(index: number, data: Uint8Array, senders: Int32Array): void {
    this.#hashing++;
    this.#toVerify.push({ index, data, senders });
    if (!this.#verifyScheduled) {
      // After every read of this turn, so the pieces they complete share a round trip.
      this.#verifyScheduled = true;
      setImmediate(this.#sendToHash);
    }
  }

  readonly #sendToHash = (): void => {
    this.#verifyScheduled = false;
    const q = this.#toVerify;
    for (let i = 0; i < q.length; ) {
      let bytes = q[i]!.data.length;
      let j = i + 1;
      while (j < q.length && bytes + q[j]!.data.length <= HASH_BATCH_BYTES) {
        bytes += q[j]!.data.length;
        j++;
      }
      const batch = q.slice(i, j);
      const buffers = batch.map((p) => p.data);
      // Each piece buffer is its own ArrayBuffer: transferred to the worker and back, no copy;
      // small pieces are packed into one buffer instead (see PACK_PIECE_MAX).
      const transfer = this.meta.pieceLength > PACK_PIECE_MAX;
      this.#o.hashPool.hashBuffers(buffers, { transfer }).then(
        (r) => {
          for (let k = 0; k < batch.length; k++) {
            const p = batch[k]!;
            this.#verified(p.index, r.data[k]!, p.senders, r.digests.subarray(k * 20, k * 20 + 20));
          }
        },
        (e: Error) => {
          for (let k = 0; k < batch.length; k++) this.#pieceDropped(e);
        },
      );
      i = j;
    }
    q.length = 0;
  };

  /** One trust point for peer `key` (a passed piece had its data), up to TRUST_MAX. */
  #credit(key: number): void {
    const p = key >= 0 ? this.#peers.get(key) : undefined;
    if (p && p.trust < TRUST_MAX) p.trust++;
  }

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
          if (!p) continue;
          p.hashFailures++;
          p.trust -= TRUST_PER_FAILURE;
          if (p.trust <= TRUST_BAN) this.#ban(k, `${p.hashFailures} pieces failed with its data`);
        }
        this.#buffers.recycle(buf);
        this.#refillAll();
      } else {
        for (const k of this.#smartBan.onHashPassed(index, buf))
          this.#ban(k, `smart ban: sent a bad block of piece ${index}`);
        // Good data earns trust, once per peer and piece: an honest peer that shares failed
        // pieces with bad ones is not banned for it. (Most pieces have one sender: no Set then.)
        const first = senders[0] ?? -1;
        let mixed = false;
        for (let i = 1; i < senders.length && !mixed; i++) mixed = senders[i] !== first;
        if (mixed) for (const k of new Set(senders)) this.#credit(k);
        else this.#credit(first);
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
    if (this.state === "stopped" || this.#fatal) {
      const n = q.size;
      q.clear();
      for (let i = 0; i < n; i++) this.#pieceDropped();
      return;
    }
    if (this.state === "error") {
      // Waiting out a storage error: verified pieces are kept for the retry, not written now.
      for (const [index, buf] of q) {
        this.#hashing--;
        this.#unwritten.set(index, buf);
      }
      q.clear();
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
          this.#diskFailures = 0;
          for (let i = 0; i < pieces.length; i++) this.#written(first + i, pieces[i]!);
          this.#pumpWrites();
        },
        (e: Error) => {
          this.#writing--;
          // Part of the run may be on disk: all of it is kept and written again by the retry.
          for (let i = 0; i < pieces.length; i++) {
            this.#hashing--;
            this.#writeFailed(first + i, pieces[i]!, e);
          }
          this.#pumpWrites();
        },
      );
    }
  };

  #markHave(index: number, announce: boolean): void {
    if (!announce) this.picker.setHave(index);
    if (this.#wantedPieces[index]) this.#haveBytes += this.#pieceSize(index);
    if (!announce) return;
    this.#resumeDirty = true;
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
    if (this.#doneEmitted || !this.#isDone()) return;
    if (this.state === "checking" || this.state === "error" || this.state === "stopped") return;
    this.#doneEmitted = true;
    this.state = "seeding";
    // BEP 21: from now on we only upload.
    const now = this.#now();
    for (const p of this.#peers.values())
      p.sendExtended("upload_only", encodeUploadOnly(true), now);
    void this.storage.createEmptyFiles().then(
      () => {
        if (this.state === "stopped") return;
        void this.#saveResume();
        this.emit("done");
        this.#resolveDone();
      },
      (e: Error) => {
        if (this.state === "stopped") return;
        // Retried like a failed write: done is emitted once the files exist.
        this.#doneEmitted = false;
        this.#storageFailed(e);
      },
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

  // ---- storage errors ------------------------------------------------------------------------

  /** A verified piece could not be written: keep it, and retry later (or fail for good). */
  #writeFailed(index: number, buf: Uint8Array, e: Error): void {
    if (this.state === "stopped") {
      this.#buffers.recycle(buf);
      return;
    }
    if (!(e instanceof StorageError) || e.code !== "STORAGE_IO") {
      this.#buffers.recycle(buf);
      this.#fail(e);
      return;
    }
    this.#unwritten.set(index, buf);
    this.#storageFailed(e);
  }

  /**
   * Enter the storage-error state: no new requests (the data has nowhere to go), peers told we are
   * not interested, uploads of what we have go on; writing is retried with backoff. A storage
   * error that is not an I/O failure (an unsafe path) is fatal.
   */
  #storageFailed(e: Error): void {
    if (!(e instanceof StorageError) || e.code !== "STORAGE_IO") {
      this.#fail(e);
      return;
    }
    if (this.state === "stopped" || this.#fatal) return;
    // Writes failing while a retry is already scheduled change nothing: the retry decides.
    if (this.state === "error" && this.#diskRetryAt > 0) return;
    this.#diskFailures++;
    const base = this.#o.diskRetryMs ?? DISK_RETRY_MS;
    const delay = Math.min(
      Math.max(base, DISK_RETRY_MAX_MS),
      base * 2 ** Math.min(this.#diskFailures - 1, 16),
    );
    this.#diskRetryAt = this.#now() + delay;
    const fresh = this.state !== "error";
    this.state = "error";
    this.error = e;
    if (fresh) {
      const now = this.#now();
      for (const p of this.#peers.values()) if (p.handshaken) p.setInterested(false, now);
    }
    this.emit("storage-error", e, delay);
  }

  /** Retry writing the pieces kept after a storage error; leave the error state if it works. */
  async #retryStorage(): Promise<void> {
    if (this.#diskRetrying) return;
    this.#diskRetrying = true;
    this.#diskRetryAt = 0;
    try {
      // Pieces verified while this runs join the map: loop until it is empty.
      for (let next = this.#unwritten.entries().next(); !next.done; ) {
        const [index, buf] = next.value;
        await this.storage.writePiece(index, buf);
        if (this.state === "stopped") return;
        this.#unwritten.delete(index);
        this.#buffers.recycle(buf);
        this.picker.onPieceHashed(index, true);
        this.#markHave(index, true);
        next = this.#unwritten.entries().next();
      }
    } catch (e) {
      if (this.state !== "stopped") this.#storageFailed(e as Error);
      return;
    } finally {
      this.#diskRetrying = false;
    }
    if (this.state !== "error" || this.#fatal) return;
    this.error = undefined;
    this.state = this.#doneEmitted ? "seeding" : "downloading";
    this.emit("storage-recovered");
    for (const p of this.#peers.values()) if (p.bitfieldKnown) this.#updateInterest(p);
    this.#checkDone();
    this.#connectMore();
    this.#refillAll();
  }

  #fail(e: Error): void {
    if (this.#fatal) return;
    this.#fatal = true;
    this.state = "error";
    this.error = e;
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#peers.values()]) p.close({ kind: "local", message: e.message });
    this.emit("error", e);
    this.#rejectDone(e);
  }

  // ---- uploading -----------------------------------------------------------------------------

  readonly #serving = new Set<number>();

  /**
   * Serves the peer's queued requests while its socket takes data. Blocks already in the read
   * cache are collected synchronously and sent in one vectored write of up to SERVE_BATCH_BYTES
   * (one syscall and fewer, fuller TCP segments instead of one per 16 KiB block); a cache miss
   * first sends what was collected, then awaits the chunk. Collecting starts only while the
   * socket is not congested and a batch is then written whole; a block awaited from disk while
   * the socket became congested goes out alone, and the rest waits for `drain`. So at most about
   * one batch and one block are written past the high-water mark (the transport's send-backlog
   * cap counts on this). Blocks are views of cached chunks, given back to the storage once the
   * socket has written them, so the chunk buffers are reused.
   */
  async #serve(peer: Peer): Promise<void> {
    if (this.#serving.has(peer.key)) return;
    this.#serving.add(peer.key);
    const storage = this.storage;
    let batch: ServedBlock[] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      const sent = batch;
      peer.sendBlocks(sent, this.#now(), () => {
        for (const b of sent) if (b.pinned) storage.releaseBlock(b.data);
      });
      if (!peer.closed) this.#uploaded += bytes;
      batch = [];
      bytes = 0;
    };
    try {
      const t = this.#transports.get(peer.key);
      while (!peer.closed && peer.incoming.length > 0 && t) {
        if (bytes >= SERVE_BATCH_BYTES) {
          this.#readAhead(peer);
          flush();
        }
        if (batch.length === 0 && t.congested) break;
        const r = peer.incoming[0] as IncomingRequest;
        // While choked only allowed-fast requests stay queued (BEP 6).
        if (peer.amChoking && !peer.allowedFastToPeer.has(r.index)) break;
        peer.incoming.shift();
        if (!this.picker.have.has(r.index)) {
          peer.reject(r, this.#now()); // a piece we lack: refused (explicitly with Fast)
          continue;
        }
        let data = storage.peekBlock(r.index, r.begin, r.length);
        let pinned = data !== undefined;
        const missed = data === undefined;
        if (data === undefined) {
          flush();
          this.#readAhead(peer);
          try {
            await storage.prefetchBlock(r.index, r.begin, r.length);
            data = storage.peekBlock(r.index, r.begin, r.length);
            pinned = data !== undefined;
            // Not cacheable (no cache, spans chunks, being written): a private copy.
            data ??= await storage.readBlock(r.index, r.begin, r.length);
          } catch (e) {
            // The data went away under us: the piece is lost, not the peer's fault.
            peer.reject(r, this.#now());
            this.#losePiece(r.index, (e as Error).message);
            continue;
          }
          if (peer.closed) {
            if (pinned) storage.releaseBlock(data);
            break;
          }
        }
        batch.push({ index: r.index, begin: r.begin, data, pinned });
        bytes += data.length;
        // Awaited from disk while the socket became congested: it goes out alone.
        if (missed && t.congested) break;
      }
      if (!peer.closed && peer.incoming.length > 0) this.#readAhead(peer);
      flush();
    } catch (e) {
      peer.close({ kind: "local", message: `cannot read block: ${(e as Error).message}` });
    } finally {
      this.#serving.delete(peer.key);
    }
  }

  /**
   * Read-ahead: starts loading the chunks of the pieces among the peer's next READ_AHEAD_SCAN
   * requests into the read cache, so that #serve finds them there instead of stopping at each new
   * piece to wait for the disk.
   */
  #readAhead(peer: Peer): void {
    const q = peer.incoming;
    const n = Math.min(q.length, READ_AHEAD_SCAN);
    let last = -1;
    for (let i = 0; i < n; i++) {
      const r = q[i]!;
      if (r.index === last) continue;
      last = r.index;
      if (this.picker.have.has(r.index)) this.storage.warmBlock(r.index, r.begin, r.length);
    }
  }

  /**
   * A piece we had cannot be read back: tell peers (BEP 54 lt_donthave), want it again, and if we
   * were seeding, download again (peers known to be seeds become worth dialling).
   */
  #losePiece(index: number, reason: string): void {
    if (!this.picker.have.has(index)) return;
    this.picker.unsetHave(index);
    this.#resumeDirty = true;
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
    if (this.state === "error" && this.#diskRetryAt > 0 && now >= this.#diskRetryAt)
      void this.#retryStorage();
    if (this.#resumeDirty && now - this.#lastResumeSave >= RESUME_SAVE_INTERVAL_MS)
      void this.#saveResume();
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
