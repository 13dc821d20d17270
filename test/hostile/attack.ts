/**
 * Shared pieces of the hostile-peer tests: sessions with short timeouts, raw sockets by the
 * hundred, bencoded extension handshakes of any shape, and a memory sampler.
 */
import net from "node:net";
import { type Encodable, encode } from "../../src/bencode/index.js";
import { Session, type SessionTimeouts } from "../../src/session/session.js";
import { encodeHandshake } from "../../src/wire/index.js";
import { attackerId, LOCALHOST, type RawPeer, sleep } from "../swarm/helpers.js";

/** Timeouts short enough for tests of seconds (the defaults are tens of seconds). */
export const SHORT_TIMEOUTS: Partial<SessionTimeouts> = {
  incomingHandshakeMs: 2_000,
  handshakeMs: 3_000,
  idleMs: 3_000,
  keepAliveMs: 1_000,
  requestMs: 3_000,
  snubMs: 3_000,
  connectMs: 3_000,
  uselessPeerMs: 2_000,
};

/** A session on a free port of 127.0.0.1 with one hashing thread. */
export function startSession(timeouts?: Partial<SessionTimeouts>): Promise<Session> {
  return Session.create({
    port: 0,
    host: LOCALHOST,
    hashThreads: 1,
    ...(timeouts ? { timeouts } : {}),
  });
}

export function u32s(...vs: number[]): Buffer {
  const b = Buffer.alloc(4 * vs.length);
  for (const [i, v] of vs.entries()) b.writeUInt32BE(v, 4 * i);
  return b;
}

/** Tessera's display address of a raw peer's connection. */
export function displayOf(p: RawPeer): string {
  return `${p.socket.localAddress}:${p.socket.localPort}`;
}

/** An extended message (id 20) with extended id `extId` and a payload of any bytes. */
export function extMessage(extId: number, payload: Uint8Array): Buffer {
  const head = Buffer.alloc(6);
  head.writeUInt32BE(2 + payload.length, 0);
  head[4] = 20;
  head[5] = extId;
  return Buffer.concat([head, payload]);
}

/** Bencode anything `encode` takes (plain objects are dictionaries). */
export function bencode(v: Encodable): Buffer {
  return Buffer.from(encode(v));
}

/** A BitTorrent handshake for `infoHash` (reserved bytes as given, peer id random by default). */
export function handshakeBytes(
  infoHash: Uint8Array,
  reserved: Uint8Array = new Uint8Array(8),
  peerId: Uint8Array = attackerId(),
): Buffer {
  return Buffer.from(encodeHandshake({ infoHash, peerId, reserved }));
}

/** Open a raw TCP connection from `localAddress`; resolves once connected (or rejects). */
export function rawConnect(
  port: number,
  localAddress: string,
  host = LOCALHOST,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, localAddress, noDelay: true });
    s.once("connect", () => {
      s.off("error", reject);
      s.on("error", () => {});
      resolve(s);
    });
    s.once("error", reject);
  });
}

/** Resolves when `s` is closed, with the ms it took from `since`. */
export function closedAfter(s: net.Socket, since = performance.now()): Promise<number> {
  if (s.destroyed) return Promise.resolve(performance.now() - since);
  return new Promise((resolve) => s.once("close", () => resolve(performance.now() - since)));
}

/** Send `bytes` one byte every `intervalMs` until done or the socket closes. */
export async function trickle(s: net.Socket, bytes: Uint8Array, intervalMs: number): Promise<void> {
  for (const b of bytes) {
    if (s.destroyed) return;
    s.write(Buffer.from([b]));
    await sleep(intervalMs);
  }
}

/** Peak growth of this process's RSS and heap+buffers over a baseline, sampled every 50 ms. */
export class MemorySampler {
  readonly #base = process.memoryUsage();
  #peakRss = 0;
  #peakHeap = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => this.sample(), 50);
    this.#timer.unref();
  }

  sample(): void {
    const m = process.memoryUsage();
    this.#peakRss = Math.max(this.#peakRss, m.rss - this.#base.rss);
    this.#peakHeap = Math.max(
      this.#peakHeap,
      m.heapUsed + m.arrayBuffers - this.#base.heapUsed - this.#base.arrayBuffers,
    );
  }

  /** Stop sampling; peak deltas in bytes. */
  stop(): { rss: number; heap: number } {
    this.sample();
    clearInterval(this.#timer);
    return { rss: this.#peakRss, heap: this.#peakHeap };
  }
}

/** Resident set size of another process (Linux /proc), bytes; undefined once it is gone. */
export async function rssOf(pid: number): Promise<number | undefined> {
  const { readFile } = await import("node:fs/promises");
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const m = /VmRSS:\s+(\d+) kB/.exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
