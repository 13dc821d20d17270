/**
 * The metadata phase of a magnet link (BEP 9): connect to peers of an info-hash, fetch its info
 * dictionary with ut_metadata from several of them at once, verify it against the info-hash and
 * turn it into a {@link TorrentMeta}. The download itself is then a {@link Torrent}; the peers met
 * here are handed over as candidates.
 *
 * Invariants: no piece data is ever requested or accepted here (peers have no geometry yet); a
 * peer convicted of sending metadata that fails the hash, or of breaking ut_metadata, is banned
 * for the rest of the phase; `meta` settles once, with metadata whose SHA-1 is the info-hash.
 */
import {
  ExtensionRegistry,
  type ExtMessage,
  encodeMetadataReject,
  encodeMetadataRequest,
  ipToBytes,
  isDialableIp,
  type MetadataAction,
  MetadataFetcher,
  PexState,
  UT_METADATA,
  UT_PEX,
} from "../ext/index.js";
import { MetainfoError, parseInfoBytes, type TorrentMeta } from "../metainfo/index.js";
import type { Transport } from "../net/transport.js";
import { type Encryption, formatAddress } from "../net/transport.js";
import {
  type CloseReason,
  describeClose,
  Peer,
  type PeerHost,
  type PeerTimeouts,
} from "../peer/peer.js";
import type { PeerId } from "../types.js";
import type { PeerAddress } from "../util/address.js";
import { Bitfield } from "../util/bitfield.js";
import { VERSION } from "../version.js";
import { buildReserved } from "../wire/index.js";
import { TypedEmitter } from "./events.js";

/** Connections kept open while fetching metadata. */
export const METADATA_MAX_PEERS = 30;
/** Incoming connections accepted beyond `maxPeers`. */
const INCOMING_SLACK = 5;
/** A peer that has not offered the metadata within this may be closed to make room. */
export const NON_SOURCE_PEER_MS = 30_000;
const DIALS_PER_TICK = 10;

export interface MetadataPhaseOptions {
  /** The v1 info-hash (20 bytes). */
  infoHash: Uint8Array;
  peerId: PeerId;
  dial: (addr: PeerAddress) => Promise<Transport>;
  /** Our listen port, for the extension handshake. */
  listenPort?: number;
  isSelf?: (addr: PeerAddress) => boolean;
  /** Trackers and web seeds the resulting torrent gets (from the magnet link). */
  trackers?: string[][];
  webSeeds?: string[];
  maxPeers?: number;
  /** Peer timeout overrides (tests). */
  peerTimeouts?: Partial<PeerTimeouts>;
  /** Default {@link NON_SOURCE_PEER_MS}. */
  uselessPeerMs?: number;
  now?: () => number;
}

export interface MetadataPhaseEvents {
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
  /** Metadata assembled but failed the info-hash check (its contributors are suspected). */
  "hash-failed": (size: number, contributors: number) => void;
  metadata: (meta: TorrentMeta) => void;
  error: (e: Error) => void;
}

interface Candidate {
  addr: PeerAddress;
  pinned: boolean;
  connected: boolean;
  failures: number;
  nextAttempt: number;
}

export interface MetadataPhaseStats {
  /** Connected peers (handshake done). */
  peers: number;
  /** Peers that offer the metadata (ut_metadata with a usable size). */
  sources: number;
  /** Metadata bytes received and expected (0 while unknown). */
  received: number;
  size: number;
}

export class MetadataPhase extends TypedEmitter<MetadataPhaseEvents> implements PeerHost {
  readonly infoHash: Uint8Array;
  readonly meta: Promise<TorrentMeta>;
  state: "fetching" | "done" | "stopped" = "fetching";
  readonly #o: MetadataPhaseOptions;
  readonly #now: () => number;
  readonly #fetcher: MetadataFetcher<number>;
  readonly #registry = new ExtensionRegistry([UT_METADATA, UT_PEX]);
  readonly #reserved = buildReserved(["fast", "extended"]);
  readonly #peers = new Map<number, Peer>();
  readonly #transports = new Map<number, Transport>();
  readonly #candidateOf = new Map<number, string>();
  readonly #candidates = new Map<string, Candidate>();
  readonly #banned = new Set<string>();
  readonly #pex = new Map<number, PexState>();
  readonly #sources = new Set<number>();
  #nextKey = 1;
  #dialing = 0;
  #timer: NodeJS.Timeout | undefined;
  #resolve!: (m: TorrentMeta) => void;
  #reject!: (e: Error) => void;

  constructor(o: MetadataPhaseOptions) {
    super();
    this.#o = o;
    this.infoHash = o.infoHash;
    this.#now = o.now ?? (() => performance.now());
    this.#fetcher = new MetadataFetcher<number>(o.infoHash);
    this.meta = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.meta.catch(() => {});
  }

  start(): void {
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.#timer.unref();
    this.#connectMore();
  }

  stats(): MetadataPhaseStats {
    const p = this.#fetcher.progress();
    let peers = 0;
    for (const x of this.#peers.values()) if (x.handshaken) peers++;
    return { peers, sources: this.#sources.size, received: p?.received ?? 0, size: p?.size ?? 0 };
  }

  /** Every peer address met (given, from trackers, from PEX), for the download that follows. */
  knownPeers(): { addr: PeerAddress; pinned: boolean }[] {
    return [...this.#candidates.values()]
      .filter((c) => !this.#banned.has(c.addr.host))
      .map((c) => ({ addr: c.addr, pinned: c.pinned }));
  }

  addPeers(addrs: PeerAddress[], pinned = false): void {
    for (const addr of addrs) {
      const k = formatAddress(addr.host, addr.port);
      const c = this.#candidates.get(k);
      if (c) {
        c.pinned ||= pinned;
        continue;
      }
      if (!pinned && this.#candidates.size >= 2000) continue;
      this.#candidates.set(k, { addr, pinned, connected: false, failures: 0, nextAttempt: 0 });
    }
    if (this.state === "fetching" && this.#timer) this.#connectMore();
  }

  #connectMore(): void {
    if (this.state !== "fetching") return;
    const max = this.#o.maxPeers ?? METADATA_MAX_PEERS;
    const now = this.#now();
    let started = 0;
    for (const [k, c] of this.#candidates) {
      if (started >= DIALS_PER_TICK) break;
      if (c.connected || c.nextAttempt > now || this.#banned.has(c.addr.host)) continue;
      // Peers that never offered the metadata do not keep a candidate out forever.
      if (this.#peers.size + this.#dialing >= max && !this.#makeRoom(max, now)) break;
      c.connected = true;
      started++;
      this.#dialing++;
      this.#o.dial(c.addr).then(
        (t) => {
          this.#dialing--;
          if (this.state !== "fetching") {
            t.close();
            c.connected = false;
            return;
          }
          this.attach(t, true, k);
        },
        () => {
          this.#dialing--;
          this.#failed(c);
        },
      );
    }
  }

  #failed(c: Candidate): void {
    c.connected = false;
    c.failures++;
    const backoff = Math.min(c.pinned ? 15_000 : 120_000, 1_000 * 2 ** Math.min(c.failures, 10));
    c.nextAttempt = this.#now() + backoff * (0.75 + 0.5 * Math.random());
    if (!c.pinned && c.failures >= 6)
      this.#candidates.delete(formatAddress(c.addr.host, c.addr.port));
  }

  /**
   * Close peers connected for a while that do not offer the metadata, oldest first, until fewer
   * than `limit` connections are open or dialling.
   */
  #makeRoom(limit: number, now: number): boolean {
    const grace = this.#o.uselessPeerMs ?? NON_SOURCE_PEER_MS;
    const useless = [...this.#peers.values()]
      .filter((p) => !this.#sources.has(p.key) && now - p.connectedAt >= grace)
      .sort((a, b) => a.connectedAt - b.connectedAt);
    for (const p of useless) {
      if (this.#peers.size + this.#dialing < limit) break;
      p.close({ kind: "local", message: "replaced: does not offer the metadata" });
    }
    return this.#peers.size + this.#dialing < limit;
  }

  /**
   * A connection (dialled, or routed to us by info-hash). Dials were counted against `maxPeers`
   * when they started, so only incoming connections are refused for room, counting the dials.
   */
  attach(t: Transport, outgoing: boolean, candidateKey?: string): void {
    const limit = (this.#o.maxPeers ?? METADATA_MAX_PEERS) + INCOMING_SLACK;
    if (
      this.state !== "fetching" ||
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
    const peer = new Peer(
      {
        key,
        infoHash: this.infoHash,
        peerId: this.#o.peerId,
        outgoing,
        reserved: this.#reserved,
        extensions: this.#registry,
        extHandshake: () => ({
          m: this.#registry.localIds(),
          client: `Tessera ${VERSION}`,
          ...(this.#o.listenPort ? { port: this.#o.listenPort } : {}),
          ...(ipToBytes(t.remoteAddress) ? { yourIp: t.remoteAddress } : {}),
        }),
        now: this.#now(),
        send: (chunks) => void t.write(chunks),
        disconnect: () => t.close(),
        address: formatAddress(t.remoteAddress, t.remotePort),
        ...(this.#o.peerTimeouts ? { timeouts: this.#o.peerTimeouts } : {}),
      },
      this,
    );
    if (candidateKey) this.#candidateOf.set(key, candidateKey);
    this.#peers.set(key, peer);
    this.#transports.set(key, t);
    t.onData = (chunk, transient) => peer.receive(chunk, this.#now(), transient);
    t.onDrain = () => {};
    t.onClose = (err) =>
      peer.close({ kind: "socket", message: err ? err.message : "connection closed" });
  }

  // ---- PeerHost ------------------------------------------------------------------------------

  onHandshake(peer: Peer): void {
    for (const other of this.#peers.values()) {
      if (
        other !== peer &&
        other.remoteId &&
        Buffer.compare(other.remoteId, peer.remoteId!) === 0
      ) {
        peer.close({ kind: "duplicate" });
        return;
      }
    }
    if (!peer.ext) {
      peer.close({ kind: "local", message: "no extension protocol: cannot send metadata" });
      return;
    }
    // We have no pieces (BEP 6 asks for have_none in place of a bitfield).
    peer.sendBitfield(new Bitfield(0), this.#now());
    this.emit(
      "peer-connected",
      peer.address,
      peer.remoteId ? Buffer.from(peer.remoteId.subarray(0, 8)).toString("latin1") : "",
      [...(peer.fast ? ["fast"] : []), ...(peer.ext ? ["extended"] : [])],
      this.#transports.get(peer.key)?.encryption ?? "none",
    );
  }

  onBitfield(): void {}
  onHave(): void {}
  onChoked(): void {}
  onUnchoked(): void {}
  onInterest(): void {}
  onBlock(): void {}
  onRequest(): void {}
  onRequestTimeout(): void {}

  onExtended(peer: Peer, msg: ExtMessage): void {
    const now = this.#now();
    switch (msg.type) {
      case "handshake": {
        const h = msg.handshake;
        if (peer.ext?.supports(UT_PEX) && !this.#pex.has(peer.key))
          this.#pex.set(peer.key, new PexState());
        if (!peer.ext?.supports(UT_METADATA)) {
          this.#sources.delete(peer.key);
          this.#run(this.#fetcher.removePeer(peer.key, now));
          if (!peer.ext?.supports(UT_PEX))
            peer.close({
              kind: "local",
              message: "peer does not offer the metadata (ut_metadata)",
            });
          return;
        }
        if (this.#fetcher.acceptsSize(h.metadataSize)) this.#sources.add(peer.key);
        this.#run(this.#fetcher.addPeer(peer.key, h.metadataSize, now));
        return;
      }
      case "ut_metadata": {
        const m = msg.message;
        if (m.type === "data")
          this.#run(this.#fetcher.onData(peer.key, m.piece, m.totalSize, m.data, now));
        else if (m.type === "reject") this.#run(this.#fetcher.onReject(peer.key, m.piece, now));
        else if (m.type === "request")
          // We have nothing yet: BEP 9 says reject.
          peer.sendExtended(UT_METADATA, encodeMetadataReject(m.piece), now);
        return;
      }
      case "ut_pex": {
        const got = this.#pex.get(peer.key)?.receive(msg.payload, now);
        if (!got) return;
        this.addPeers(
          got.added
            .filter((p) => {
              const b = ipToBytes(p.host);
              return b !== undefined && isDialableIp(b) && p.port > 0 && !this.#o.isSelf?.(p);
            })
            .map((p) => ({ host: p.host, port: p.port })),
        );
        return;
      }
      default:
        return;
    }
  }

  onClose(peer: Peer, reason: CloseReason): void {
    this.#peers.delete(peer.key);
    this.#transports.delete(peer.key);
    this.#pex.delete(peer.key);
    this.#sources.delete(peer.key);
    const ck = this.#candidateOf.get(peer.key);
    this.#candidateOf.delete(peer.key);
    const c = ck ? this.#candidates.get(ck) : undefined;
    if (c) {
      if (reason.kind === "self" || reason.kind === "wrong-torrent") this.#candidates.delete(ck!);
      else if (this.state === "fetching") this.#failed(c);
      else c.connected = false;
    }
    if (peer.handshaken && this.state === "fetching")
      this.emit("peer-disconnected", peer.address, describeClose(reason));
    if (this.state === "fetching") this.#run(this.#fetcher.removePeer(peer.key, this.#now()));
  }

  // ---- fetcher actions -----------------------------------------------------------------------

  #run(actions: MetadataAction<number>[]): void {
    const now = this.#now();
    for (const a of actions) {
      if (this.state !== "fetching") return;
      switch (a.type) {
        case "request":
          this.#peers.get(a.peer)?.sendExtended(UT_METADATA, encodeMetadataRequest(a.piece), now);
          break;
        case "ban": {
          const p = this.#peers.get(a.peer);
          const t = this.#transports.get(a.peer);
          if (t) this.#banned.add(t.remoteAddress);
          if (p) {
            this.emit("peer-banned", p.address, a.reason);
            p.close({ kind: "banned" });
          }
          break;
        }
        case "hash_failed":
          this.emit("hash-failed", a.size, a.contributors.length);
          break;
        case "done":
          this.#finish(a.info);
          return;
      }
    }
  }

  #finish(info: Uint8Array): void {
    let meta: TorrentMeta;
    try {
      meta = {
        ...parseInfoBytes(info),
        trackers: this.#o.trackers ?? [],
        webSeeds: this.#o.webSeeds ?? [],
        httpSeeds: [],
      };
    } catch (e) {
      // It hashed right, so it is what the torrent's creator made: nothing else to try.
      this.#end();
      const err = new MetainfoError(
        e instanceof MetainfoError ? e.code : "METAINFO_BENCODE",
        e instanceof MetainfoError ? e.field : "info",
        `the fetched metadata is not a valid torrent: ${(e as Error).message}`,
      );
      this.emit("error", err);
      this.#reject(err);
      return;
    }
    this.#end();
    this.emit("metadata", meta);
    this.#resolve(meta);
  }

  #end(): void {
    this.state = "done";
    if (this.#timer) clearInterval(this.#timer);
    for (const p of [...this.#peers.values()])
      p.close({ kind: "local", message: "metadata received" });
  }

  #tick(): void {
    const now = this.#now();
    for (const p of [...this.#peers.values()]) p.tick(now);
    this.#run(this.#fetcher.tick(now));
    this.#connectMore();
  }

  stop(): void {
    if (this.state !== "fetching") return;
    this.#end();
    this.state = "stopped";
    this.#reject(new Error("stopped before the metadata arrived"));
  }
}
