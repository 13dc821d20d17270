/**
 * UDP tracker transport (BEP 15): one connected socket per tracker address (so ICMP "port
 * unreachable" fails an exchange at once instead of after its timeouts), connection ids reused
 * for a minute, requests retransmitted on a shortened BEP 15 schedule.
 * @module
 */
import { randomInt } from "node:crypto";
import dgram from "node:dgram";
import { TrackerError } from "./errors.js";
import { decodeUdpReply, encodeConnect, type UdpReply } from "./udp-codec.js";

/**
 * Wait per attempt, in ms. BEP 15 says 15 × 2^n s up to n = 8 (over an hour), which suits a tracker
 * protocol but not a user waiting for peers: three attempts over 15 s, then the tier moves on.
 */
export const UDP_ATTEMPT_TIMEOUTS_MS = [2_500, 5_000, 7_500];
/** BEP 15: a connection id may be used for one minute after it was received. */
export const CONNECTION_ID_TTL_MS = 60_000;
/** An unused socket is closed after this long. */
const IDLE_CLOSE_MS = 120_000;

export interface UdpTarget {
  /** An IP literal. */
  address: string;
  port: number;
  family: 4 | 6;
}

type Action = UdpReply["action"];

interface Pending {
  expect: Action;
  resolve: (r: UdpReply) => void;
  reject: (e: TrackerError) => void;
}

class UdpEndpoint {
  readonly target: UdpTarget;
  #socket: dgram.Socket | undefined;
  #ready: Promise<dgram.Socket> | undefined;
  #connectionId: bigint | undefined;
  #connectionAt = 0;
  readonly #pending = new Map<number, Pending>();
  /** Transaction ids answered or abandoned recently: a late duplicate reply is not an error. */
  readonly #recent: number[] = [];
  #idleTimer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #onIdle: () => void;

  constructor(target: UdpTarget, onIdle: () => void) {
    this.target = target;
    this.#onIdle = onIdle;
  }

  #open(): Promise<dgram.Socket> {
    if (this.#ready) return this.#ready;
    this.#ready = new Promise<dgram.Socket>((resolve, reject) => {
      const s = dgram.createSocket(this.target.family === 6 ? "udp6" : "udp4");
      this.#socket = s;
      s.on("message", (msg) => this.#onMessage(msg));
      s.on("error", (e: NodeJS.ErrnoException) => {
        const err = new TrackerError("TRACKER_NETWORK", e.code ?? e.message, { cause: e });
        reject(err);
        this.#failAll(err);
        // A refused port is not a reason to keep the socket; the next exchange opens a new one.
        this.#reset();
      });
      s.connect(this.target.port, this.target.address, () => {
        s.unref();
        resolve(s);
      });
    });
    this.#ready.catch(() => {});
    return this.#ready;
  }

  #reset(): void {
    const s = this.#socket;
    this.#socket = undefined;
    this.#ready = undefined;
    this.#connectionId = undefined;
    if (s) {
      s.removeAllListeners("message");
      s.on("error", () => {});
      try {
        s.close();
      } catch {
        // already closed
      }
    }
  }

  #failAll(e: TrackerError): void {
    for (const [tid, p] of this.#pending) {
      this.#remember(tid);
      p.reject(e);
    }
    this.#pending.clear();
  }

  #remember(tid: number): void {
    this.#recent.push(tid);
    if (this.#recent.length > 32) this.#recent.shift();
  }

  #onMessage(msg: Buffer): void {
    let reply: UdpReply;
    try {
      reply = decodeUdpReply(msg, this.target.family === 6);
    } catch (e) {
      // The socket is connected: only the tracker's own address can reach it, so a malformed
      // reply is the tracker's and fails what is waiting.
      this.#failAll(e as TrackerError);
      return;
    }
    const p = this.#pending.get(reply.transactionId);
    if (!p) {
      if (this.#recent.includes(reply.transactionId)) return;
      if (reply.action === "error") {
        this.#failAll(new TrackerError("TRACKER_FAILURE", `tracker says: ${reply.message}`));
        return;
      }
      this.#failAll(
        new TrackerError(
          "TRACKER_BAD_RESPONSE",
          `UDP reply carries transaction id ${reply.transactionId}, which we did not send`,
        ),
      );
      return;
    }
    this.#pending.delete(reply.transactionId);
    this.#remember(reply.transactionId);
    if (reply.action === "error") {
      p.reject(new TrackerError("TRACKER_FAILURE", `tracker says: ${reply.message}`));
    } else if (reply.action !== p.expect) {
      p.reject(
        new TrackerError(
          "TRACKER_BAD_RESPONSE",
          `UDP reply is a ${reply.action} where a ${p.expect} was expected`,
        ),
      );
    } else {
      p.resolve(reply);
    }
  }

  async #roundTrip(
    packet: (tid: number) => Uint8Array,
    expect: Action,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<UdpReply> {
    if (signal?.aborted) throw new TrackerError("TRACKER_TIMEOUT", "cancelled");
    const s = await this.#open();
    if (signal?.aborted) throw new TrackerError("TRACKER_TIMEOUT", "cancelled");
    const tid = randomInt(0, 2 ** 32 - 1);
    return new Promise<UdpReply>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const timer = setTimeout(() => {
        this.#pending.delete(tid);
        this.#remember(tid);
        done();
        reject(new TrackerError("TRACKER_TIMEOUT", `no UDP ${expect} reply in ${timeoutMs} ms`));
      }, timeoutMs);
      const onAbort = () => {
        this.#pending.delete(tid);
        done();
        reject(new TrackerError("TRACKER_TIMEOUT", "cancelled"));
      };
      signal?.addEventListener("abort", onAbort);
      this.#pending.set(tid, {
        expect,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      s.send(packet(tid), (err) => {
        if (err && this.#pending.delete(tid)) {
          done();
          const code = (err as NodeJS.ErrnoException).code ?? err.message;
          reject(new TrackerError("TRACKER_NETWORK", code, { cause: err }));
        }
      });
    });
  }

  /**
   * Connect if needed, then send `build(connectionId, tid)` and wait for an `expect` reply,
   * retrying on the schedule. A timed-out request drops the connection id: it may be stale.
   */
  async exchange(
    build: (connectionId: bigint, tid: number) => Uint8Array,
    expect: Action,
    schedule: readonly number[],
    signal?: AbortSignal,
  ): Promise<UdpReply> {
    if (this.#closed) throw new TrackerError("TRACKER_NETWORK", "client closed");
    clearTimeout(this.#idleTimer);
    try {
      let last: TrackerError | undefined;
      for (const timeout of schedule) {
        try {
          if (
            this.#connectionId === undefined ||
            Date.now() - this.#connectionAt > CONNECTION_ID_TTL_MS
          ) {
            const c = await this.#roundTrip(encodeConnect, "connect", timeout, signal);
            if (c.action !== "connect") throw new Error("unreachable");
            this.#connectionId = c.connectionId;
            this.#connectionAt = Date.now();
          }
          const id = this.#connectionId;
          return await this.#roundTrip((tid) => build(id, tid), expect, timeout, signal);
        } catch (e) {
          if (!(e instanceof TrackerError) || e.code !== "TRACKER_TIMEOUT" || signal?.aborted)
            throw e;
          this.#connectionId = undefined;
          last = e;
        }
      }
      throw last ?? new TrackerError("TRACKER_TIMEOUT", "no UDP reply");
    } finally {
      if (this.#pending.size === 0) {
        this.#idleTimer = setTimeout(() => {
          this.#reset();
          this.#onIdle();
        }, IDLE_CLOSE_MS);
        this.#idleTimer.unref();
      }
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#failAll(new TrackerError("TRACKER_NETWORK", "client closed"));
    this.#reset();
  }
}

/** The UDP side of the tracker client: endpoints by address, shared by every torrent. */
export class UdpTrackerTransport {
  readonly #endpoints = new Map<string, UdpEndpoint>();

  exchange(
    target: UdpTarget,
    build: (connectionId: bigint, tid: number) => Uint8Array,
    expect: Action,
    schedule: readonly number[] = UDP_ATTEMPT_TIMEOUTS_MS,
    signal?: AbortSignal,
  ): Promise<UdpReply> {
    const key = `${target.family}/${target.address}/${target.port}`;
    let ep = this.#endpoints.get(key);
    if (!ep) {
      ep = new UdpEndpoint(target, () => this.#endpoints.delete(key));
      this.#endpoints.set(key, ep);
    }
    return ep.exchange(build, expect, schedule, signal);
  }

  close(): void {
    for (const ep of this.#endpoints.values()) ep.close();
    this.#endpoints.clear();
  }
}
