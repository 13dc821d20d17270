/**
 * A fault-injecting TCP proxy for tests: listens on a loopback address, forwards each connection
 * to one upstream peer, and damages the path on the way — the simulated transport of the network
 * fault tests (`tc netem` needs the sch_netem kernel module, which CI machines may lack).
 *
 * "down" is upstream → client (the seed's blocks to the downloader), "up" the other way. Per
 * connection it can add latency with jitter (order kept), limit bandwidth, reset the connection
 * (RST via `resetAndDestroy`), stall (stop forwarding both ways forever, sockets left open: a
 * black-holed path), or close cleanly after N bytes down (a peer vanishing mid-block). Queued
 * bytes are bounded: a direction stops reading past {@link HIGH_WATER} bytes in flight, so a slow
 * path pushes back on the sender as TCP would.
 */
import net from "node:net";

/** Bytes queued in one direction (proxy queue + socket buffer) before the source is paused. */
export const HIGH_WATER = 1 << 20;
/** Chunks are cut to this size so latency and bandwidth apply smoothly. */
const SLICE = 16 * 1024;

export interface Faults {
  /** Added to every chunk, each direction (ms). */
  latencyMs?: number;
  /** Uniform random extra delay 0..jitterMs per chunk (order is kept). */
  jitterMs?: number;
  /** Bandwidth of each direction, bytes/s. */
  bytesPerSec?: number;
  /** Reset both sides (RST) once this many bytes went down. */
  resetAfterBytes?: number;
  /** Reset both sides this long after the connection was accepted. */
  resetAfterMs?: number;
  /** Stop forwarding both ways for good, sockets left open, once this many bytes went down. */
  stallAfterBytes?: number;
  /** Forward exactly this many bytes down, then close both sides (FIN). */
  dropAfterBytes?: number;
}

export type FaultAction = "reset" | "stall" | "drop";

export interface ProxyStats {
  connections: number;
  bytesDown: number;
  bytesUp: number;
  resets: number;
  stalls: number;
  drops: number;
}

interface Slice {
  data?: Buffer;
  /** A fault, or "end": the source closed its side (FIN), forwarded after the data before it. */
  action?: FaultAction | "end";
  at: number;
}

/** One direction of one connection. */
class Pipe {
  readonly #queue: Slice[] = [];
  #queued = 0;
  #lastRelease = 0;
  #linkFree = 0;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  /** Bytes accepted for forwarding so far. */
  bytes = 0;

  constructor(
    readonly src: net.Socket,
    readonly dst: net.Socket,
    readonly conn: ProxyConnection,
    readonly down: boolean,
  ) {
    src.on("data", (chunk: Buffer) => this.#onData(chunk));
    src.on("end", () => {
      if (this.conn.state !== "open" || this.#ended) return;
      this.#ended = true;
      this.#enqueue({ action: "end", at: 0 });
    });
    dst.on("drain", () => this.#maybeResume());
  }

  #onData(chunk: Buffer): void {
    if (this.conn.state !== "open" || this.#ended) return;
    const f = this.conn.faults;
    for (let off = 0; off < chunk.length; off += SLICE) {
      let part = chunk.subarray(off, Math.min(chunk.length, off + SLICE));
      let action: FaultAction | undefined;
      if (this.down) {
        const limits: [number | undefined, FaultAction][] = [
          [f.resetAfterBytes, "reset"],
          [f.stallAfterBytes, "stall"],
          [f.dropAfterBytes, "drop"],
        ];
        for (const [limit, a] of limits) {
          if (limit === undefined || this.bytes + part.length < limit) continue;
          const keep = Math.max(0, limit - this.bytes);
          if (action === undefined || keep < part.length) {
            part = part.subarray(0, keep);
            action = a;
          }
        }
      }
      if (part.length > 0) this.#enqueue({ data: Buffer.from(part), at: 0 });
      this.bytes += part.length;
      if (action) {
        this.#enqueue({ action, at: 0 });
        this.#ended = true;
        return;
      }
    }
  }

  #enqueue(s: Slice): void {
    const f = this.conn.faults;
    const now = performance.now();
    let at = now + (f.latencyMs ?? 0) + Math.random() * (f.jitterMs ?? 0);
    if (s.data && f.bytesPerSec) {
      this.#linkFree = Math.max(this.#linkFree, now) + (1000 * s.data.length) / f.bytesPerSec;
      at = Math.max(at, this.#linkFree);
    }
    s.at = Math.max(at, this.#lastRelease);
    this.#lastRelease = s.at;
    this.#queue.push(s);
    if (s.data) this.#queued += s.data.length;
    if (this.#queued + this.dst.writableLength > HIGH_WATER) this.src.pause();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#timer || this.#queue.length === 0) return;
    const delay = Math.max(0, this.#queue[0]!.at - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#release();
    }, delay);
  }

  #release(): void {
    const now = performance.now();
    while (this.#queue.length > 0 && this.#queue[0]!.at <= now + 1) {
      if (this.conn.state !== "open") return;
      const s = this.#queue.shift()!;
      if (s.data) {
        this.#queued -= s.data.length;
        this.conn.count(this.down, s.data.length);
        this.dst.write(s.data);
      }
      if (s.action === "end") {
        this.dst.end();
        return;
      }
      if (s.action) {
        this.conn.act(s.action);
        return;
      }
    }
    this.#maybeResume();
    this.#schedule();
  }

  #maybeResume(): void {
    if (this.conn.state !== "open" || this.#ended) return;
    if (this.#queued + this.dst.writableLength <= HIGH_WATER / 2 && this.src.isPaused())
      this.src.resume();
  }

  stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#queued = 0;
  }
}

/** One proxied connection: the client's socket and ours to the upstream peer. */
export class ProxyConnection {
  state: "open" | "stalled" | "closed" = "open";
  readonly #pipes: Pipe[] = [];
  #resetTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly proxy: FaultProxy,
    readonly index: number,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
    readonly faults: Faults,
  ) {
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      s.on("error", () => {});
      // A reset on one side resets the other; a clean end travels through the pipe (FIN after
      // the data queued before it), and the connection is over once both sockets are closed.
      s.on("close", (hadError) => {
        if (hadError && this.state === "open") this.act("reset", false);
        else if (client.destroyed && upstream.destroyed) this.close();
      });
    }
    this.#pipes.push(
      new Pipe(upstream, client, this, true),
      new Pipe(client, upstream, this, false),
    );
    if (faults.resetAfterMs !== undefined) {
      this.#resetTimer = setTimeout(() => this.act("reset"), faults.resetAfterMs);
    }
  }

  /** @internal */
  count(down: boolean, n: number): void {
    if (down) this.proxy.stats.bytesDown += n;
    else this.proxy.stats.bytesUp += n;
  }

  /** Apply a fault now (`injected` false: passing on a reset that came from one side). */
  act(a: FaultAction, injected = true): void {
    if (this.state !== "open") return;
    const stats = this.proxy.stats;
    for (const p of this.#pipes) p.stop();
    if (this.#resetTimer) clearTimeout(this.#resetTimer);
    if (a === "stall") {
      stats.stalls++;
      this.state = "stalled";
      this.client.pause();
      this.upstream.pause();
      return;
    }
    this.state = "closed";
    if (a === "reset") {
      if (injected) stats.resets++;
      this.client.resetAndDestroy();
      this.upstream.resetAndDestroy();
    } else {
      stats.drops++;
      // What was written goes out, then FIN: the peer vanished after those bytes.
      this.client.end();
      this.upstream.destroy();
    }
    this.proxy.emit(a, this);
  }

  close(): void {
    for (const p of this.#pipes) p.stop();
    if (this.#resetTimer) clearTimeout(this.#resetTimer);
    this.state = "closed";
    this.client.destroy();
    this.upstream.destroy();
  }
}

type Listener = (c: ProxyConnection) => void;

/** A listening fault proxy in front of one upstream peer. */
export class FaultProxy {
  readonly server: net.Server;
  readonly host: string;
  readonly stats: ProxyStats = {
    connections: 0,
    bytesDown: 0,
    bytesUp: 0,
    resets: 0,
    stalls: 0,
    drops: 0,
  };
  readonly connections: ProxyConnection[] = [];
  readonly #listeners = new Map<string, Set<Listener>>();
  /** Faults of the next connection (by its 0-based index); may be changed while running. */
  faults: (index: number) => Faults;

  private constructor(server: net.Server, host: string, faults: (index: number) => Faults) {
    this.server = server;
    this.host = host;
    this.faults = faults;
  }

  /** Listen on `host` (port 0) and forward to `upstream`. */
  static async listen(
    upstream: { host: string; port: number },
    faults: Faults | ((index: number) => Faults),
    host = "127.0.0.1",
  ): Promise<FaultProxy> {
    const server = net.createServer({ noDelay: true, pauseOnConnect: true, allowHalfOpen: true });
    const p = new FaultProxy(server, host, typeof faults === "function" ? faults : () => faults);
    server.on("connection", (client) => p.#accept(client, upstream));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port: 0 }, resolve);
    });
    return p;
  }

  #accept(client: net.Socket, upstream: { host: string; port: number }): void {
    const index = this.stats.connections++;
    client.on("error", () => {});
    const up = net.connect({
      host: upstream.host,
      port: upstream.port,
      noDelay: true,
      allowHalfOpen: true,
    });
    up.on("error", () => client.destroy());
    up.once("connect", () => {
      if (client.destroyed) {
        up.destroy();
        return;
      }
      const c = new ProxyConnection(this, index, client, up, this.faults(index));
      this.connections.push(c);
      client.resume();
      this.emit("connection", c);
    });
    client.once("close", () => {
      if (up.connecting) up.destroy();
    });
  }

  on(event: "connection" | FaultAction, fn: Listener): void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(fn);
  }

  /** @internal */
  emit(event: string, c: ProxyConnection): void {
    for (const fn of this.#listeners.get(event) ?? []) fn(c);
  }

  /** The address to give a downloader as a peer. */
  get address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: this.host, port: a.port };
  }

  /** `host:port` as Tessera displays it. */
  get display(): string {
    return `${this.address.host}:${this.address.port}`;
  }

  async close(): Promise<void> {
    for (const c of this.connections) c.close();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
