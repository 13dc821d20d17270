/**
 * Helpers for in-process swarm tests: a random payload and its torrent in a temp dir, sessions
 * on port 0 of 127.0.0.1, bounded waits, and {@link RawPeer}, an attacker that speaks raw bytes
 * over node:net to a Tessera session (it parses what it receives itself, independently of the
 * engine's decoder, and sends whatever bytes a test hands it).
 *
 * Bans are per IP address, so attackers use other loopback addresses (127.0.0.2, 127.0.0.3, …)
 * than the honest sessions (127.0.0.1): banning an attacker must not ban the good seed.
 */

import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { createTorrent } from "../../src/create/index.js";
import type { TorrentMeta } from "../../src/metainfo/index.js";
import { Session } from "../../src/session/session.js";
import type { Torrent, TorrentEvents } from "../../src/torrent/torrent.js";
import type { PeerAddress } from "../../src/util/address.js";
import {
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  HANDSHAKE_PREFIX,
  MessageId,
  type WireMessage,
} from "../../src/wire/index.js";

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const BLOCK = 16 * KIB;
/** Upper bound of every single wait in these tests. */
export const WAIT_MS = 30_000;
export const LOCALHOST = "127.0.0.1";

/** Message ids as the wire codec knows them, plus -1 for a keep-alive (no id byte). */
export const Id = { keepAlive: -1, ...MessageId } as const;

// ---- fixtures ----------------------------------------------------------------------------------

export interface Fixture {
  /** Temp dir holding everything; removed by `cleanup`. */
  dir: string;
  /** Download dir of the seed: holds the complete payload. */
  seedDir: string;
  /** The payload (the torrent's single file). */
  data: Buffer;
  meta: TorrentMeta;
  /** A fresh, empty download dir. */
  newDir(name: string): Promise<string>;
  /** The payload as downloaded into `downloadDir`. */
  read(downloadDir: string): Promise<Buffer>;
  cleanup(): Promise<void>;
}

/** A random single-file payload of `size` bytes and its torrent (`pieceLength`), in a temp dir. */
export async function makeFixture(size: number, pieceLength: number): Promise<Fixture> {
  const dir = await mkdtemp(path.join(tmpdir(), "tessera-swarm-"));
  const seedDir = path.join(dir, "seed");
  await mkdir(seedDir);
  const data = randomBytes(size);
  const file = path.join(seedDir, "payload.bin");
  await writeFile(file, data);
  const { meta } = await createTorrent(file, { pieceLength, creationDate: null });
  return {
    dir,
    seedDir,
    data,
    meta,
    async newDir(name) {
      const d = path.join(dir, name);
      await mkdir(d, { recursive: true });
      return d;
    },
    read: (downloadDir) => readFile(path.join(downloadDir, meta.name)),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

/** Piece `index` of the payload. */
export function pieceOf(f: Fixture, index: number): Buffer {
  const pl = f.meta.pieceLength;
  return f.data.subarray(index * pl, Math.min(f.data.length, (index + 1) * pl));
}

// ---- sessions ----------------------------------------------------------------------------------

/** `n` sessions listening on free ports of 127.0.0.1, one hashing thread each. */
export async function startSessions(n: number): Promise<Session[]> {
  const out: Session[] = [];
  try {
    for (let i = 0; i < n; i++)
      out.push(await Session.create({ port: 0, host: LOCALHOST, hashThreads: 1 }));
  } catch (e) {
    await closeAll(out);
    throw e;
  }
  return out;
}

export async function closeAll(sessions: readonly Session[]): Promise<void> {
  await Promise.allSettled(sessions.map((s) => s.close()));
}

export function addressOf(s: Session): PeerAddress {
  return { host: LOCALHOST, port: s.port };
}

// ---- bounded waits -----------------------------------------------------------------------------

/** `p`, or a rejection naming `what` after `ms`. */
export function withTimeout<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** The next `event` of `t` whose arguments satisfy `pred`, within `ms`. */
export function nextEvent<K extends keyof TorrentEvents & string>(
  t: Torrent,
  event: K,
  pred: (...args: Parameters<TorrentEvents[K]>) => boolean = () => true,
  ms = WAIT_MS,
): Promise<Parameters<TorrentEvents[K]>> {
  let fn: ((...args: Parameters<TorrentEvents[K]>) => void) | undefined;
  const p = new Promise<Parameters<TorrentEvents[K]>>((resolve) => {
    fn = (...args) => {
      if (pred(...args)) resolve(args);
    };
    t.on(event, fn as unknown as TorrentEvents[K]);
  });
  return withTimeout(p, `torrent event "${event}"`, ms).finally(() =>
    t.off(event, fn as unknown as TorrentEvents[K]),
  );
}

/**
 * Rejects as soon as `t` bans a peer at `host` (no timer of its own: race it against a bounded
 * wait). For honest peers whose ban would stall the download.
 */
export function failOnBan(t: Torrent, host: string, who: string): Promise<never> {
  const p = new Promise<never>((_, reject) => {
    t.on("peer-banned", (address, why) => {
      if (address.startsWith(`${host}:`))
        reject(new Error(`${who} (${address}) was banned: ${why}`));
    });
  });
  p.catch(() => {});
  return p;
}

/** Records every event of a torrent, in order, for assertions after the fact. */
export function recordEvents(t: Torrent): { name: string; args: unknown[] }[] {
  const log: { name: string; args: unknown[] }[] = [];
  const names: (keyof TorrentEvents & string)[] = [
    "piece",
    "hash-failed",
    "peer-connected",
    "peer-disconnected",
    "peer-banned",
    "done",
    "error",
  ];
  for (const name of names) t.on(name, ((...args: unknown[]) => log.push({ name, args })) as never);
  return log;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- the attacker ------------------------------------------------------------------------------

/** A message received by a {@link RawPeer}: its id (-1 for keep-alive) and payload. */
export interface RawMessage {
  id: number;
  payload: Buffer;
}

export interface RequestMsg {
  index: number;
  begin: number;
  length: number;
}

export function parseRequest(m: RawMessage): RequestMsg {
  return {
    index: m.payload.readUInt32BE(0),
    begin: m.payload.readUInt32BE(4),
    length: m.payload.readUInt32BE(8),
  };
}

/**
 * True if `first` (a connection's first read) begins like a plaintext BitTorrent handshake, and
 * not like MSE/PE (whose DH key may start with byte 19: the whole prefix decides).
 */
export function startsLikeHandshake(first: Uint8Array): boolean {
  const n = Math.min(first.length, HANDSHAKE_PREFIX.length);
  for (let i = 0; i < n; i++) if (first[i] !== HANDSHAKE_PREFIX[i]) return false;
  return n > 0;
}

/** A 20-byte peer id for an attacker (not Tessera's prefix). */
export function attackerId(): Uint8Array {
  const id = Buffer.from("-XX0001-000000000000");
  randomBytes(12).copy(id, 8);
  return id;
}

/** A peer driven byte by byte from a test, on one TCP connection to or from a Tessera session. */
export class RawPeer extends EventEmitter {
  readonly socket: net.Socket;
  readonly infoHash: Uint8Array;
  readonly peerId: Uint8Array;
  /** The remote handshake, once received. */
  remoteHandshake: Buffer | undefined;
  readonly messages: RawMessage[] = [];
  /** Reserved bytes of our handshake (all zero unless a test sets Fast or extension bits). */
  reserved: Uint8Array = new Uint8Array(8);
  closed = false;
  readonly whenClosed: Promise<void>;
  #buf: Buffer = Buffer.alloc(0);

  constructor(socket: net.Socket, infoHash: Uint8Array, peerId = attackerId()) {
    super();
    this.socket = socket;
    this.infoHash = infoHash;
    this.peerId = peerId;
    socket.setNoDelay(true);
    socket.on("error", () => {});
    socket.on("data", (chunk: Buffer) => this.#onData(chunk));
    this.whenClosed = new Promise((resolve) =>
      socket.once("close", () => {
        this.closed = true;
        this.emit("close");
        resolve();
      }),
    );
  }

  /** Dial a session (from `localAddress`, a loopback address of the attacker's own). */
  static async dial(
    port: number,
    infoHash: Uint8Array,
    localAddress = "127.0.0.2",
  ): Promise<RawPeer> {
    const socket = net.connect({ host: LOCALHOST, port, localAddress, noDelay: true });
    await withTimeout(
      new Promise<void>((resolve, reject) => {
        socket.once("connect", resolve);
        socket.once("error", reject);
      }),
      `connect to ${port}`,
    );
    return new RawPeer(socket, infoHash);
  }

  /** Dial, send our handshake, and wait for the session's. */
  static async connect(
    port: number,
    infoHash: Uint8Array,
    localAddress = "127.0.0.2",
    reserved?: Uint8Array,
  ): Promise<RawPeer> {
    const p = await RawPeer.dial(port, infoHash, localAddress);
    if (reserved) p.reserved = reserved;
    p.sendHandshake();
    await p.handshaken();
    return p;
  }

  sendHandshake(): void {
    this.send(
      encodeHandshake({
        infoHash: this.infoHash,
        peerId: this.peerId,
        reserved: this.reserved,
      }),
    );
  }

  /** Resolves once the remote handshake is in (rejects if the connection closes first). */
  handshaken(ms = WAIT_MS): Promise<Buffer> {
    if (this.remoteHandshake) return Promise.resolve(this.remoteHandshake);
    return this.#until(() => this.remoteHandshake, "remote handshake", ms);
  }

  send(...chunks: Uint8Array[]): void {
    if (this.closed || this.socket.destroyed) return;
    for (const c of chunks) this.socket.write(c);
  }

  sendMessage(msg: WireMessage): void {
    this.send(encodeMessage(msg));
  }

  /** A message with a raw id and payload (any length: nothing is checked). */
  sendRaw(id: number, payload: Uint8Array = new Uint8Array(0)): void {
    const head = Buffer.alloc(5);
    head.writeUInt32BE(1 + payload.length, 0);
    head[4] = id;
    this.send(head, payload);
  }

  sendBlock(index: number, begin: number, data: Uint8Array): void {
    this.send(encodePieceHeader(index, begin, data.length), data);
  }

  /** A bitfield with every one of `pieceCount` bits set (spare bits clear). */
  sendFullBitfield(pieceCount: number): void {
    const bytes = new Uint8Array(Math.ceil(pieceCount / 8)).fill(0xff);
    const rem = pieceCount & 7;
    if (rem !== 0) bytes[bytes.length - 1] = (0xff << (8 - rem)) & 0xff;
    this.sendRaw(Id.bitfield, bytes);
  }

  /** The first message (already received or to come) satisfying `pred`, within `ms`. */
  waitFor(pred: (m: RawMessage) => boolean, what: string, ms = WAIT_MS): Promise<RawMessage> {
    return this.#until(() => this.messages.find(pred), what, ms);
  }

  /** Resolves when the connection is closed (by either side), within `ms`. */
  waitClosed(ms = WAIT_MS): Promise<void> {
    return withTimeout(this.whenClosed, "connection close", ms);
  }

  close(): void {
    this.socket.destroy();
  }

  #until<T>(probe: () => T | undefined, what: string, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const v = probe();
        if (v !== undefined) {
          done();
          resolve(v);
        } else if (this.closed) {
          done();
          reject(new Error(`connection closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
      }, ms);
      const done = () => {
        clearTimeout(timer);
        this.off("message", check);
        this.off("handshake", check);
        this.off("close", check);
      };
      this.on("message", check);
      this.on("handshake", check);
      this.on("close", check);
      check();
    });
  }

  #onData(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    for (;;) {
      if (!this.remoteHandshake) {
        if (this.#buf.length < 68) return;
        this.remoteHandshake = Buffer.from(this.#buf.subarray(0, 68));
        this.#buf = this.#buf.subarray(68);
        this.emit("handshake", this.remoteHandshake);
        continue;
      }
      if (this.#buf.length < 4) return;
      const len = this.#buf.readUInt32BE(0);
      if (this.#buf.length < 4 + len) return;
      const m: RawMessage =
        len === 0
          ? { id: Id.keepAlive, payload: Buffer.alloc(0) }
          : { id: this.#buf[4]!, payload: Buffer.from(this.#buf.subarray(5, 4 + len)) };
      this.#buf = this.#buf.subarray(4 + len);
      this.messages.push(m);
      this.emit("message", m);
    }
  }
}

/**
 * A listening attacker: sessions dial it (give them {@link address} as a peer); each connection
 * becomes a {@link RawPeer} that has answered the handshake by the time `onPeer` runs.
 */
export class AttackerServer {
  readonly server: net.Server;
  readonly host: string;
  readonly peers: RawPeer[] = [];

  private constructor(server: net.Server, host: string) {
    this.server = server;
    this.host = host;
  }

  static async listen(
    host: string,
    infoHash: Uint8Array,
    onPeer: (p: RawPeer) => void,
    reserved?: Uint8Array,
  ): Promise<AttackerServer> {
    const server = net.createServer();
    const a = new AttackerServer(server, host);
    server.on("connection", (socket) => {
      // Like any client without MSE/PE: a connection that does not start with the plaintext
      // handshake (Tessera tries MSE first) is closed at once and not counted as a peer.
      socket.on("error", () => {});
      socket.once("data", (first: Buffer) => {
        if (!startsLikeHandshake(first)) {
          socket.destroy();
          return;
        }
        socket.pause();
        socket.unshift(first);
        accept(socket);
      });
    });
    const accept = (socket: net.Socket) => {
      const p = new RawPeer(socket, infoHash);
      if (reserved) p.reserved = reserved;
      a.peers.push(p);
      p.handshaken().then(
        () => {
          p.sendHandshake();
          onPeer(p);
        },
        () => p.close(),
      );
      socket.resume();
    };
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: 0 }, resolve);
    });
    return a;
  }

  get address(): PeerAddress {
    const a = this.server.address() as net.AddressInfo;
    return { host: this.host, port: a.port };
  }

  /** `host:port` as Tessera displays it. */
  get display(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  async close(): Promise<void> {
    for (const p of this.peers) p.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** What a fake seed does with one request: serve it, serve it corrupted, ignore it, or hang up. */
export type SeedAction = "serve" | "corrupt" | "ignore" | "close";

export interface FakeSeedStats {
  requests: RequestMsg[];
  served: RequestMsg[];
  corrupted: RequestMsg[];
}

/**
 * Make `p` act as a seed of `f`: a full bitfield and an unchoke, then each request answered as
 * `policy` says (it sees the request and how many requests came before it).
 */
export function actAsSeed(
  p: RawPeer,
  f: Fixture,
  policy: (r: RequestMsg, n: number) => SeedAction,
  o: { blockDelayMs?: number } = {},
): FakeSeedStats {
  const stats: FakeSeedStats = { requests: [], served: [], corrupted: [] };
  p.sendFullBitfield(f.meta.pieceCount);
  p.sendMessage({ type: "unchoke" });
  // A slow link: blocks leave one per `blockDelayMs`, in request order.
  let nextSlot = 0;
  p.on("message", (m: RawMessage) => {
    if (m.id !== Id.request || p.closed) return;
    const r = parseRequest(m);
    const action = policy(r, stats.requests.length);
    stats.requests.push(r);
    if (action === "close") {
      p.close();
      return;
    }
    if (action === "ignore") return;
    const start = r.index * f.meta.pieceLength + r.begin;
    let block = f.data.subarray(start, start + r.length);
    if (action === "corrupt") {
      block = Buffer.from(block);
      for (let i = 0; i < block.length; i++) block[i]! ^= 0x5a;
      stats.corrupted.push(r);
    } else {
      stats.served.push(r);
    }
    if (!o.blockDelayMs) {
      p.sendBlock(r.index, r.begin, block);
      return;
    }
    const now = performance.now();
    nextSlot = Math.max(now, nextSlot) + o.blockDelayMs;
    setTimeout(() => p.sendBlock(r.index, r.begin, block), nextSlot - now).unref();
  });
  return stats;
}
