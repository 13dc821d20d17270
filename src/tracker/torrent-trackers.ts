/**
 * One torrent's trackers at work: drives an {@link Announcer} with a coarse timer, runs its
 * announces through the session's {@link TrackerClient}, hands peers to the torrent and reports
 * every change of a tracker's state.
 * @module
 */

import type { PeerAddress } from "../util/address.js";
import {
  type AnnounceContext,
  Announcer,
  type IntervalPolicy,
  type TrackerState,
  type TrackerStatus,
} from "./announcer.js";
import type { TrackerClient } from "./client.js";
import { TrackerError } from "./errors.js";
import type { AnnounceEvent, AnnounceRequest, AnnounceResponse } from "./types.js";

/** Peers asked for normally, and while the swarm is thin. */
export const NUMWANT = 50;
export const NUMWANT_THIN = 200;
/** Connected peers below which the swarm counts as thin. */
export const THIN_PEERS = 10;
/** How long shutdown waits for `stopped` announces. */
export const STOP_TIMEOUT_MS = 2_000;

export interface TorrentTrackersOptions {
  tiers: readonly (readonly string[])[];
  /** 20 bytes. */
  infoHash: Uint8Array;
  peerId: Uint8Array;
  client: TrackerClient;
  /** Our listen port. */
  port: number;
  /** Counters for announces, read at announce time. */
  stats: () => { uploaded: number; downloaded: number; left: number; done: boolean; peers: number };
  onPeers: (peers: PeerAddress[], url: string) => void;
  onStatus: (s: TrackerStatus) => void;
  policy?: Partial<IntervalPolicy>;
  /** Tick period (ms); default 1 s. */
  tickMs?: number;
  now?: () => number;
  random?: () => number;
}

type Ctx = AnnounceContext & { stats: ReturnType<TorrentTrackersOptions["stats"]> };

export class TorrentTrackers {
  #o: TorrentTrackersOptions;
  readonly #announcer: Announcer;
  readonly #now: () => number;
  readonly #key: number;
  readonly #inflight = new Map<AbortController, { event: AnnounceEvent; done: Promise<void> }>();
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(o: TorrentTrackersOptions) {
    this.#o = o;
    this.#now = o.now ?? (() => Date.now());
    const random = o.random ?? Math.random;
    this.#announcer = new Announcer(o.tiers, {
      ...(o.policy ? { policy: o.policy } : {}),
      random,
    });
    this.#key = Math.floor(random() * 2 ** 32) >>> 0;
  }

  /**
   * Point the announces at another source of counters and peers, keeping tracker state (a
   * magnet's metadata phase hands its trackers to the download).
   */
  retarget(o: Pick<TorrentTrackersOptions, "stats" | "onPeers" | "onStatus">): void {
    this.#o = { ...this.#o, ...o };
    this.poke();
  }

  get size(): number {
    return this.#announcer.size;
  }

  status(): TrackerStatus[] {
    return this.#announcer.status();
  }

  /** Begin announcing (`started` to a tracker of each tier right away). */
  start(): void {
    if (this.#timer || this.#stopped || this.size === 0) return;
    this.#timer = setInterval(() => this.poke(), this.#o.tickMs ?? 1_000);
    this.#timer.unref();
    this.poke();
  }

  #context(): Ctx {
    const stats = this.#o.stats();
    return { done: stats.done, thin: !stats.done && stats.peers < THIN_PEERS, stats };
  }

  /** Announce whatever is due now (called by the timer, and on completion). */
  poke(): void {
    if (this.#stopped) return;
    const now = this.#now();
    const ctx = this.#context();
    for (const a of this.#announcer.due(now, ctx)) {
      this.#o.onStatus(this.#public(a.tracker));
      this.#run(a.tracker, a.event, ctx);
    }
  }

  #public(t: TrackerStatus): TrackerStatus {
    return this.#announcer.status().find((s) => s.url === t.url) ?? t;
  }

  #request(event: AnnounceEvent, ctx: Ctx, trackerId?: string): AnnounceRequest {
    return {
      infoHash: this.#o.infoHash,
      peerId: this.#o.peerId,
      port: this.#o.port,
      uploaded: ctx.stats.uploaded,
      downloaded: ctx.stats.downloaded,
      left: ctx.stats.left,
      event,
      numWant: event === "stopped" ? 0 : ctx.thin ? NUMWANT_THIN : NUMWANT,
      key: this.#key,
      ...(trackerId !== undefined ? { trackerId } : {}),
    };
  }

  #run(t: TrackerState, event: AnnounceEvent, ctx: Ctx): void {
    const ac = new AbortController();
    const p = this.#o.client
      .announce(t.url, this.#request(event, ctx, t.trackerId), { signal: ac.signal })
      .then(
        (r: AnnounceResponse) => {
          // A `completed` that lands during shutdown still counts (it is not sent twice).
          // Whether the torrent was complete is as of sending: `left` told the tracker so.
          this.#announcer.succeeded(t, event, r, this.#now(), {
            ...this.#context(),
            done: ctx.done,
          });
          if (this.#stopped) return;
          if (r.peers.length > 0) this.#o.onPeers(r.peers, t.url);
          this.#o.onStatus(this.#public(t));
        },
        (e: unknown) => {
          if (this.#stopped) {
            this.#announcer.failed(t, e as Error, this.#now());
            return;
          }
          const err =
            e instanceof TrackerError
              ? e
              : new TrackerError("TRACKER_NETWORK", (e as Error)?.message ?? String(e));
          this.#announcer.failed(t, err, this.#now());
          this.#o.onStatus(this.#public(t));
          // The next tracker of the tier may go at once.
          queueMicrotask(() => this.poke());
        },
      )
      .finally(() => this.#inflight.delete(ac));
    this.#inflight.set(ac, { event, done: p });
  }

  /**
   * Stop announcing: cancel regular announces in flight, let a `completed` in flight finish (or
   * send it now if a tracker has not heard it: a download that ends the process still counts),
   * then tell trackers that heard `started` that we leave. Waits at most `timeoutMs` in all.
   */
  async stop(timeoutMs = STOP_TIMEOUT_MS): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#timer);
    const ac = new AbortController();
    // Every wait below races this deadline too: a client that ignores the signal (a DNS lookup
    // that hangs) must not hold up shutdown.
    const deadline = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        ac.abort();
        resolve();
      }, timeoutMs);
      ac.signal.addEventListener("abort", () => clearTimeout(timer));
    });
    const bounded = (p: Promise<unknown>) =>
      Promise.race([
        p.then(
          () => {},
          () => {},
        ),
        deadline,
      ]);
    const completing: Promise<void>[] = [];
    for (const [c, f] of this.#inflight) {
      if (f.event === "completed") {
        ac.signal.addEventListener("abort", () => c.abort());
        completing.push(f.done);
      } else c.abort();
    }
    await bounded(Promise.allSettled(completing));
    const ctx = this.#context();
    const announce = (t: TrackerState, event: AnnounceEvent) =>
      this.#o.client.announce(t.url, this.#request(event, ctx, t.trackerId), {
        timeoutMs,
        signal: ac.signal,
      });
    await bounded(
      Promise.allSettled(
        this.#announcer.stopTargets().map(async (t) => {
          if (ctx.done && t.startedIncomplete && !t.completedSent && !ac.signal.aborted) {
            try {
              await announce(t, "completed");
              t.completedSent = true;
            } catch {
              // Leaving matters more than the count: still say stopped.
            }
          }
          if (!ac.signal.aborted) await announce(t, "stopped");
        }),
      ),
    );
    ac.abort();
  }
}
