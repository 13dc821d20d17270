/**
 * A session: many torrents sharing one listen socket, one hashing pool, one peer id and global
 * connection limits. The library's entry point.
 */
import { TesseraError } from "../errors.js";
import type { TorrentMeta } from "../metainfo/index.js";
import { dial, Listener } from "../net/listener.js";
import { type Transport, tcpTransport } from "../net/transport.js";
import { makePeerId } from "../peer/peer-id.js";
import { HashPool } from "../storage/hash-pool.js";
import { TypedEmitter } from "../torrent/events.js";
import { Torrent } from "../torrent/torrent.js";
import { type PeerId, toHex } from "../types.js";
import type { PeerAddress } from "../util/address.js";

export class SessionError extends TesseraError {}

/** Ports tried, in order, when none is given (the classic BitTorrent range), then any free port. */
export const DEFAULT_PORTS = [6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889];
/** Connections across all torrents. */
export const DEFAULT_MAX_CONNECTIONS = 400;

export interface SessionOptions {
  /** Listen port; 0 for any free port; default 6881–6889, else any free port. */
  port?: number;
  /** Listen address; default `::` (IPv4 and IPv6). */
  host?: string;
  maxConnections?: number;
  /** Hashing threads; default one per core. */
  hashThreads?: number;
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
  #connections = 0;
  #closed = false;

  private constructor(listener: Listener, o: SessionOptions) {
    super();
    this.peerId = makePeerId();
    this.hashPool = new HashPool(o.hashThreads !== undefined ? { threads: o.hashThreads } : {});
    this.#listener = listener;
    this.#maxConnections = o.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
  }

  /** Start a session listening for peers. */
  static async create(o: SessionOptions = {}): Promise<Session> {
    let session: Session | undefined;
    const route = (infoHash: Uint8Array, socket: import("node:net").Socket, buffered: Uint8Array) =>
      session?.route(infoHash, socket, buffered) ?? false;
    const ports = o.port !== undefined ? [o.port] : [...DEFAULT_PORTS, 0];
    let listener: Listener | undefined;
    let lastError: unknown;
    for (const port of ports) {
      try {
        listener = await Listener.listen({
          port,
          ...(o.host !== undefined ? { host: o.host } : {}),
          route,
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
      dial: (addr) => this.#dial(addr),
      ...(o.select ? { select: o.select } : {}),
      ...(o.maxPeers !== undefined ? { maxPeers: o.maxPeers } : {}),
      ...(o.uploadSlots !== undefined ? { uploadSlots: o.uploadSlots } : {}),
    });
    this.#torrents.set(meta.infoHashHex, t);
    this.emit("torrent-added", t);
    if (o.peers && o.peers.length > 0) t.addPeers(o.peers, true);
    await t.start();
    return t;
  }

  async remove(t: Torrent): Promise<void> {
    this.#torrents.delete(t.infoHashHex);
    await t.stop();
    this.emit("torrent-removed", t);
  }

  async #dial(addr: PeerAddress): Promise<Transport> {
    if (this.#connections >= this.#maxConnections)
      throw new SessionError("SESSION_LIMIT", "connection limit reached");
    this.#connections++;
    try {
      const socket = await dial(addr.host, addr.port);
      socket.once("close", () => this.#connections--);
      return tcpTransport(socket);
    } catch (e) {
      this.#connections--;
      throw e;
    }
  }

  /** @internal Hand a routed incoming connection to its torrent. */
  route(infoHash: Uint8Array, socket: import("node:net").Socket, buffered: Uint8Array): boolean {
    const t = this.#torrents.get(toHex(infoHash));
    if (!t || this.#connections >= this.#maxConnections) return false;
    if (t.state !== "downloading" && t.state !== "seeding") return false;
    this.#connections++;
    socket.once("close", () => this.#connections--);
    t.attach(tcpTransport(socket, buffered), false);
    return true;
  }

  /** Stop every torrent (flushing files), stop listening, stop the hashing threads. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#torrents.values()].map((t) => t.stop()));
    await this.#listener.close();
    await this.hashPool.close();
  }
}
