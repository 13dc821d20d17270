/**
 * A session: many torrents sharing one listen socket, one hashing pool, one peer id and global
 * connection limits. The library's entry point.
 */

import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { TesseraError } from "../errors.js";
import type { MagnetLink } from "../magnet/index.js";
import type { TorrentMeta } from "../metainfo/index.js";
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  MseInitiator,
  MseResponder,
  req2Hash,
} from "../mse/index.js";
import { dial, Listener } from "../net/listener.js";
import { FallbackTransport, mseHandshake } from "../net/mse-transport.js";
import { formatAddress, type Transport, tcpTransport } from "../net/transport.js";
import type { PeerTimeouts } from "../peer/peer.js";
import { makePeerId } from "../peer/peer-id.js";
import { HashPool } from "../storage/hash-pool.js";
import { TypedEmitter } from "../torrent/events.js";
import { MetadataPhase } from "../torrent/metadata-phase.js";
import { Torrent, type TorrentOptions } from "../torrent/torrent.js";
import type { IntervalPolicy } from "../tracker/announcer.js";
import { TrackerClient } from "../tracker/client.js";
import { TorrentTrackers } from "../tracker/torrent-trackers.js";
import { type PeerId, toHex } from "../types.js";
import type { PeerAddress } from "../util/address.js";

export class SessionError extends TesseraError {}

/** Ports tried, in order, when none is given (the classic BitTorrent range), then any free port. */
export const DEFAULT_PORTS = [6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889];
/** Connections across all torrents. */
export const DEFAULT_MAX_CONNECTIONS = 400;

/**
 * MSE/PE policy. Incoming: `off` refuses MSE, `require` refuses plaintext, the others accept
 * both. Outgoing: `prefer` dials MSE (offering RC4 and plaintext) and redials plaintext if that
 * fails; `allow` dials plaintext and redials MSE if the peer hangs up at once; `require` dials
 * MSE with RC4 only; `off` dials plaintext only.
 */
export type EncryptionPolicy = "prefer" | "allow" | "require" | "off";
export const ENCRYPTION_POLICIES: readonly EncryptionPolicy[] = [
  "prefer",
  "allow",
  "require",
  "off",
];
/** Like libtorrent (both directions enabled, encrypted outgoing first) and Transmission. */
export const DEFAULT_ENCRYPTION: EncryptionPolicy = "prefer";
/** Addresses remembered as needing the other kind of dial than the policy's first choice. */
const MAX_REMEMBERED_DIALS = 4096;

/** Every timeout of a session's connections (ms); see `DEFAULT_PEER_TIMEOUTS` for the peer's. */
export interface SessionTimeouts extends PeerTimeouts {
  /** An incoming connection must name its torrent (48 bytes of handshake) within this; 10 s. */
  incomingHandshakeMs: number;
  /** A dial gives up after this; 10 s. */
  connectMs: number;
  /** A peer with nothing to exchange this long may be closed to make room; 30 s. */
  uselessPeerMs: number;
}

export interface SessionOptions {
  /** Listen port; 0 for any free port; default 6881–6889, else any free port. */
  port?: number;
  /** Listen address; default `::` (IPv4 and IPv6). */
  host?: string;
  maxConnections?: number;
  /** Hashing threads; default one per core. */
  hashThreads?: number;
  /** Announce timing bounds (seconds); defaults as documented in `tracker/announcer.ts`. */
  trackerPolicy?: Partial<IntervalPolicy>;
  /** Timeout overrides (tests use short ones); the defaults suit real networks. */
  timeouts?: Partial<SessionTimeouts>;
  /** MSE/PE policy; default `prefer`. */
  encryption?: EncryptionPolicy;
}

export interface AddTorrentOptions {
  /** Where content goes (laid out as libtorrent and Transmission lay it out). */
  downloadDir: string;
  /** Peers to connect to; retried until the torrent stops. */
  peers?: PeerAddress[];
  /** User-visible (non-padding) file indices to download; default all. */
  select?: Set<number>;
  maxPeers?: number;
  uploadSlots?: number;
  /** Tracker URLs to use besides the torrent's own (each becomes a tier of its own). */
  trackers?: string[];
  /** Announce to trackers (default true). */
  announce?: boolean;
  /**
   * The metadata phase this torrent's metadata came from: its peers become candidates and its
   * trackers carry on (no second `started`).
   */
  from?: MetadataPhase;
  /** Keep resume data in `downloadDir/.<infohash>.resume` (default true). */
  resume?: boolean;
  /** First retry after a storage error, ms (default 5 s, doubling up to 60 s). */
  diskRetryMs?: number;
  /** Makes the torrent's storage (tests inject disk faults with a TorrentStorage subclass). */
  createStorage?: TorrentOptions["createStorage"];
}

export interface FetchMetadataOptions {
  /** Peers to ask besides the link's `x.pe` ones (pinned). */
  peers?: PeerAddress[];
  /** Trackers besides the link's `tr` ones. */
  trackers?: string[];
  /** Announce to trackers (default true). */
  announce?: boolean;
}

export interface SessionEvents {
  "torrent-added": (t: Torrent) => void;
  "torrent-removed": (t: Torrent) => void;
}

export class Session extends TypedEmitter<SessionEvents> {
  readonly peerId: PeerId;
  readonly hashPool: HashPool;
  readonly #listener: Listener;
  readonly #torrents = new Map<string, Torrent>();
  readonly #maxConnections: number;
  readonly #trackerClient: TrackerClient;
  readonly #trackers = new Map<string, TorrentTrackers>();
  readonly #phases = new Map<string, MetadataPhase>();
  readonly #trackerPolicy: Partial<IntervalPolicy> | undefined;
  readonly #timeouts: Partial<SessionTimeouts> | undefined;
  /** Our own addresses, so trackers handing us back to ourselves cost no dial. */
  readonly #ownHosts: Set<string>;
  readonly #encryption: EncryptionPolicy;
  /** Peers whose first-choice dial (by the policy) failed in a way the other kind may not. */
  readonly #flipped = new Set<string>();
  #connections = 0;
  #closed = false;

  private constructor(listener: Listener, o: SessionOptions) {
    super();
    this.peerId = makePeerId();
    this.hashPool = new HashPool(o.hashThreads !== undefined ? { threads: o.hashThreads } : {});
    this.#listener = listener;
    this.#maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    const host = o.host ?? "::";
    const fam = isIP(host);
    this.#trackerClient = new TrackerClient({
      // A dual-stack listener takes peers of both families; an address literal only its own.
      families:
        host === "::" || fam === 0
          ? { ipv4: true, ipv6: true }
          : { ipv4: fam === 4, ipv6: fam === 6 },
    });
    this.#trackerPolicy = o.trackerPolicy;
    this.#timeouts = o.timeouts;
    this.#encryption = o.encryption ?? DEFAULT_ENCRYPTION;
    this.#ownHosts = new Set(["127.0.0.1", "::1", "::", "0.0.0.0"]);
    for (const list of Object.values(networkInterfaces()))
      for (const a of list ?? []) this.#ownHosts.add(a.address.toLowerCase());
  }

  /** Start a session listening for peers. */
  static async create(o: SessionOptions = {}): Promise<Session> {
    let session: Session | undefined;
    const route = (infoHash: Uint8Array, socket: import("node:net").Socket, buffered: Uint8Array) =>
      session?.route(infoHash, socket, buffered) ?? false;
    const policy = o.encryption ?? DEFAULT_ENCRYPTION;
    if (!ENCRYPTION_POLICIES.includes(policy))
      throw new SessionError("SESSION_OPTION", `unknown encryption policy ${String(policy)}`);
    const mse =
      policy === "off"
        ? undefined
        : {
            responder: () =>
              new MseResponder({
                lookup: (r: Uint8Array) => session?.lookupReq2(r),
                allow: policy === "require" ? CRYPTO_RC4 : CRYPTO_PLAINTEXT | CRYPTO_RC4,
                // As libtorrent at its defaults (prefer_rc4 off): an initiator that offers
                // plaintext has said it is enough, and RC4 in JavaScript costs a core per
                // ~230 MiB/s each way. `require` is the way to insist on RC4.
                preferPlaintext: true,
              }),
            route: (infoHash: Uint8Array, t: Transport, socket: import("node:net").Socket) =>
              session?.routeTransport(infoHash, t, socket) ?? false,
          };
    const ports = o.port !== undefined ? [o.port] : [...DEFAULT_PORTS, 0];
    let listener: Listener | undefined;
    let lastError: unknown;
    for (const port of ports) {
      try {
        listener = await Listener.listen({
          port,
          ...(o.host !== undefined ? { host: o.host } : {}),
          ...(o.timeouts?.incomingHandshakeMs !== undefined
            ? { handshakeTimeoutMs: o.timeouts.incomingHandshakeMs }
            : {}),
          route,
          plaintext: policy !== "require",
          ...(mse ? { mse } : {}),
        });
        break;
      } catch (e) {
        lastError = e;
      }
    }
    if (!listener) {
      const code = (lastError as NodeJS.ErrnoException)?.code ?? String(lastError);
      throw new SessionError("SESSION_LISTEN", `cannot listen on port ${o.port}: ${code}`, {
        cause: lastError,
      });
    }
    session = new Session(listener, o);
    return session;
  }

  /** The port peers can reach us on. */
  get port(): number {
    return this.#listener.port;
  }

  get torrents(): Torrent[] {
    return [...this.#torrents.values()];
  }

  get(infoHashHex: string): Torrent | undefined {
    return this.#torrents.get(infoHashHex.toLowerCase());
  }

  /** Add a torrent and start it (checking existing data first). */
  async add(meta: TorrentMeta, o: AddTorrentOptions): Promise<Torrent> {
    if (this.#closed) throw new SessionError("SESSION_CLOSED", "the session is closed");
    if (this.#torrents.has(meta.infoHashHex)) {
      throw new SessionError(
        "SESSION_DUPLICATE",
        `torrent ${meta.infoHashHex} is already in the session`,
      );
    }
    const t = new Torrent(meta, {
      downloadDir: o.downloadDir,
      peerId: this.peerId,
      hashPool: this.hashPool,
      dial: (addr) => this.#dial(addr, meta.infoHash),
      listenPort: this.port,
      isSelf: (a) => this.#isSelf(a),
      ...(o.select ? { select: o.select } : {}),
      ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
      ...(o.uploadSlots !== undefined ? { uploadSlots: o.uploadSlots } : {}),
      ...(o.resume !== undefined ? { resume: o.resume } : {}),
      ...(o.diskRetryMs !== undefined ? { diskRetryMs: o.diskRetryMs } : {}),
      ...(o.createStorage ? { createStorage: o.createStorage } : {}),
      ...(this.#timeouts ? { peerTimeouts: this.#timeouts } : {}),
      ...(this.#timeouts?.uselessPeerMs !== undefined
        ? { uselessPeerMs: this.#timeouts.uselessPeerMs }
        : {}),
    });
    this.#torrents.set(meta.infoHashHex, t);
    this.emit("torrent-added", t);
    if (o.peers && o.peers.length > 0) t.addPeers(o.peers, true);
    if (o.from) {
      for (const k of o.from.knownPeers()) t.addPeers([k.addr], k.pinned);
      this.#phases.delete(meta.infoHashHex);
    }
    const inherited = o.from ? this.#trackers.get(meta.infoHashHex) : undefined;
    const tiers = [...meta.trackers, ...(o.trackers ?? []).map((u) => [u])];
    const trackers =
      inherited ??
      (o.announce !== false && tiers.length > 0 ? this.#makeTrackers(t, tiers) : undefined);
    if (inherited) inherited.retarget(this.#trackerTarget(t));
    if (trackers) {
      this.#trackers.set(meta.infoHashHex, trackers);
      t.setTrackerStatusSource(() => trackers.status());
    }
    await t.start();
    // Announce once the check is done, so `left` is true from the first `started`.
    if (trackers && (t.state === "downloading" || t.state === "seeding")) {
      t.on("done", () => trackers.poke());
      trackers.start();
    }
    return t;
  }

  /**
   * Start fetching a magnet link's metadata (BEP 9) from its peers, trackers and PEX. Await
   * `phase.meta`, then `add(meta, { from: phase, ... })` to download.
   */
  fetchMetadata(link: MagnetLink, o: FetchMetadataOptions = {}): MetadataPhase {
    if (this.#closed) throw new SessionError("SESSION_CLOSED", "the session is closed");
    const infoHash = link.infoHashV1 ?? link.infoHashV2?.subarray(0, 20);
    if (!infoHash || !link.infoHashV1)
      throw new SessionError(
        "SESSION_UNSUPPORTED",
        "a v2-only magnet link (btmh without btih) needs BEP 52, which is not supported yet",
      );
    const hex = toHex(infoHash);
    if (this.#torrents.has(hex) || this.#phases.has(hex))
      throw new SessionError("SESSION_DUPLICATE", `torrent ${hex} is already in the session`);
    const tiers = [...link.trackers.map((u) => [u]), ...(o.trackers ?? []).map((u) => [u])];
    const phase = new MetadataPhase({
      infoHash,
      peerId: this.peerId,
      dial: (addr) => this.#dial(addr, infoHash),
      listenPort: this.port,
      isSelf: (a) => this.#isSelf(a),
      trackers: tiers,
      webSeeds: [...link.webSeeds],
      ...(this.#timeouts ? { peerTimeouts: this.#timeouts } : {}),
      ...(this.#timeouts?.uselessPeerMs !== undefined
        ? { uselessPeerMs: this.#timeouts.uselessPeerMs }
        : {}),
    });
    this.#phases.set(hex, phase);
    phase.addPeers([...link.peers, ...(o.peers ?? [])], true);
    phase.start();
    if (o.announce !== false && tiers.length > 0) {
      const trackers = new TorrentTrackers({
        tiers,
        infoHash,
        peerId: this.peerId,
        client: this.#trackerClient,
        port: this.port,
        // libtorrent announces 16 KiB left while the size is unknown.
        stats: () => ({
          uploaded: 0,
          downloaded: 0,
          left: 16_384,
          done: false,
          peers: phase.stats().peers,
        }),
        onPeers: (peers) => phase.addPeers(peers.filter((p) => !this.#isSelf(p))),
        onStatus: () => {},
        ...(this.#trackerPolicy ? { policy: this.#trackerPolicy } : {}),
      });
      this.#trackers.set(hex, trackers);
      trackers.start();
    }
    // A phase that ends without a torrent (stopped, failed) lets its trackers go.
    phase.meta.catch(() => {
      this.#phases.delete(hex);
      if (!this.#torrents.has(hex)) {
        void this.#trackers.get(hex)?.stop();
        this.#trackers.delete(hex);
      }
    });
    return phase;
  }

  #isSelf(p: PeerAddress): boolean {
    return p.port === this.port && this.#ownHosts.has(p.host.toLowerCase());
  }

  #trackerTarget(t: Torrent) {
    return {
      stats: () => {
        const s = t.stats();
        return {
          uploaded: s.uploaded,
          downloaded: s.downloaded,
          left: Math.max(0, s.wanted - s.have),
          done: s.state === "seeding" || s.have >= s.wanted,
          peers: s.peers,
        };
      },
      onPeers: (peers: PeerAddress[]) => t.addPeers(peers.filter((p) => !this.#isSelf(p))),
      onStatus: (s: import("../tracker/announcer.js").TrackerStatus) => t.reportTracker(s),
    };
  }

  #makeTrackers(t: Torrent, tiers: string[][]): TorrentTrackers {
    return new TorrentTrackers({
      tiers,
      infoHash: t.meta.infoHash,
      peerId: this.peerId,
      client: this.#trackerClient,
      port: this.port,
      ...this.#trackerTarget(t),
      ...(this.#trackerPolicy ? { policy: this.#trackerPolicy } : {}),
    });
  }

  async remove(t: Torrent): Promise<void> {
    this.#torrents.delete(t.infoHashHex);
    const trackers = this.#trackers.get(t.infoHashHex);
    this.#trackers.delete(t.infoHashHex);
    await t.stop();
    await trackers?.stop();
    this.emit("torrent-removed", t);
  }

  /** The encryption policy connections follow. */
  get encryption(): EncryptionPolicy {
    return this.#encryption;
  }

  /** One TCP connection, counted against the session's cap until it closes. */
  async #connect(addr: PeerAddress): Promise<Transport> {
    if (this.#connections >= this.#maxConnections)
      throw new SessionError("SESSION_LIMIT", "connection limit reached");
    this.#connections++;
    try {
      const socket = await dial(addr.host, addr.port, this.#timeouts?.connectMs);
      socket.once("close", () => this.#connections--);
      return tcpTransport(socket);
    } catch (e) {
      this.#connections--;
      throw e;
    }
  }

  /** Dial and run the MSE initiator; resolves with the payload stream. */
  async #connectMse(addr: PeerAddress, infoHash: Uint8Array, rc4Only: boolean): Promise<Transport> {
    const raw = await this.#connect(addr);
    const a = new MseInitiator({
      infoHash,
      provide: rc4Only ? CRYPTO_RC4 : CRYPTO_PLAINTEXT | CRYPTO_RC4,
    });
    return mseHandshake(raw, a, {
      first: a.start(),
      ...(this.#timeouts?.connectMs !== undefined ? { timeoutMs: this.#timeouts.connectMs } : {}),
    });
  }

  #remember(key: string): void {
    if (this.#flipped.size >= MAX_REMEMBERED_DIALS) this.#flipped.clear();
    this.#flipped.add(key);
  }

  async #dial(addr: PeerAddress, infoHash: Uint8Array): Promise<Transport> {
    const policy = this.#encryption;
    if (policy === "off") return this.#connect(addr);
    if (policy === "require") return this.#connectMse(addr, infoHash, true);
    const key = formatAddress(addr.host, addr.port);
    const mseFirst = (policy === "prefer") !== this.#flipped.has(key);
    if (mseFirst) {
      try {
        return await this.#connectMse(addr, infoHash, false);
      } catch (e) {
        // Only a peer that answered (and then failed the handshake) earns a plaintext redial.
        if (!(e instanceof Error && "code" in e && String(e.code).startsWith("MSE_"))) throw e;
        if (policy === "prefer") this.#remember(key);
        else this.#flipped.delete(key);
        return this.#connect(addr);
      }
    }
    const raw = await this.#connect(addr);
    return new FallbackTransport(raw, async () => {
      const t = await this.#connectMse(addr, infoHash, false);
      if (policy === "allow") this.#remember(key);
      else this.#flipped.delete(key);
      return t;
    });
  }

  /** @internal The info-hash whose HASH('req2', info-hash) is `req2` (MSE responder). */
  lookupReq2(req2: Uint8Array): Uint8Array | undefined {
    const hit = (hex: string) => Buffer.compare(this.#req2Of(hex), req2) === 0;
    for (const [hex, t] of this.#torrents) if (t.active && hit(hex)) return t.meta.infoHash;
    for (const hex of this.#phases.keys())
      if (hit(hex)) return new Uint8Array(Buffer.from(hex, "hex"));
    return undefined;
  }

  /** HASH('req2', info-hash) per info-hash (hex), computed once: each MSE connection checks all. */
  readonly #req2Cache = new Map<string, Uint8Array>();
  #req2Of(hex: string): Uint8Array {
    let h = this.#req2Cache.get(hex);
    if (h === undefined) {
      // Bounded: torrents and metadata fetches come and go; recomputing is cheap.
      if (this.#req2Cache.size >= 4096) this.#req2Cache.clear();
      h = req2Hash(Buffer.from(hex, "hex"));
      this.#req2Cache.set(hex, h);
    }
    return h;
  }

  /** @internal Hand a routed incoming connection to its torrent. */
  route(infoHash: Uint8Array, socket: import("node:net").Socket, buffered: Uint8Array): boolean {
    return this.routeTransport(infoHash, () => tcpTransport(socket, buffered), socket);
  }

  /** @internal Hand a routed incoming transport (plaintext or MSE) to its torrent. */
  routeTransport(
    infoHash: Uint8Array,
    transport: Transport | (() => Transport),
    socket: import("node:net").Socket,
  ): boolean {
    const make = () => (typeof transport === "function" ? transport() : transport);
    const hex = toHex(infoHash);
    const phase = this.#phases.get(hex);
    if (phase && phase.state === "fetching" && this.#connections < this.#maxConnections) {
      this.#connections++;
      socket.once("close", () => this.#connections--);
      phase.attach(make(), false);
      return true;
    }
    const t = this.#torrents.get(hex);
    if (!t || this.#connections >= this.#maxConnections) return false;
    if (!t.active) return false;
    this.#connections++;
    socket.once("close", () => this.#connections--);
    t.attach(make(), false);
    return true;
  }

  /** Stop every torrent (flushing files), stop listening, stop the hashing threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of this.#phases.values()) p.stop();
    await Promise.allSettled(
      [...this.#trackers.entries()]
        .filter(([h]) => !this.#torrents.has(h))
        .map(([, tr]) => tr.stop()),
    );
    await Promise.allSettled(
      [...this.#torrents.values()].map(async (t) => {
        await t.stop();
        await this.#trackers.get(t.infoHashHex)?.stop();
      }),
    );
    this.#trackerClient.close();
    await this.#listener.close();
    await this.hashPool.close();
  }
}
