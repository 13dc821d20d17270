/**
 * Which tracker to announce to, with which event, and when — sans-I/O (time is an input).
 *
 * Tiers (BEP 12): trackers are shuffled within each tier; one announce is in flight per tier at
 * a time; the tracker that answers moves to the front of its tier; a failing one hands over to
 * the next in its tier and backs off exponentially with jitter. Tiers run side by side, as
 * Transmission and uTorrent do, so a dead first tier costs nothing.
 *
 * Invariants:
 * - a tracker gets `started` before anything else (each tracker of a tier its own), and again
 *   after `stopped`;
 * - `completed` goes only to a tracker that was told `started` while the torrent was incomplete,
 *   and at most once;
 * - `stopped` goes only to trackers that acknowledged `started`;
 * - the next regular announce is never sooner than the tracker's clamped `min interval`, and never
 *   sooner than {@link IntervalPolicy.minInterval} however the tracker sets its interval.
 */
import type { TrackerError } from "./errors.js";
import type { AnnounceEvent, AnnounceResponse } from "./types.js";

export interface IntervalPolicy {
  /** Floor on any interval a tracker gives (s). */
  minInterval: number;
  /** Ceiling on a tracker's interval (s): a year-long interval would lose the swarm. */
  maxInterval: number;
  /** Interval when a reply has none (s). */
  defaultInterval: number;
  /** Re-announce period while the swarm is thin (s), still bounded by `min interval`. */
  thinInterval: number;
  /** First retry delay after a failure (s), doubled each further failure. */
  backoffBase: number;
  /** Longest retry delay (s). */
  backoffMax: number;
}

export const DEFAULT_INTERVALS: IntervalPolicy = {
  minInterval: 60,
  maxInterval: 2 * 3600,
  defaultInterval: 1800,
  thinInterval: 120,
  backoffBase: 15,
  backoffMax: 30 * 60,
};

export type TrackerStatusKind = "idle" | "announcing" | "working" | "error";

/** What a user sees of one tracker. */
export interface TrackerStatus {
  url: string;
  tier: number;
  status: TrackerStatusKind;
  /** Peers in the last successful reply. */
  peers: number;
  seeders?: number;
  leechers?: number;
  /** Effective seconds between regular announces. */
  interval?: number;
  /** When the next announce is due (ms, on the announcer's clock). */
  nextAnnounce?: number;
  /** Consecutive failures. */
  failures: number;
  error?: string;
  errorCode?: string;
  warning?: string;
}

export interface TrackerState extends TrackerStatus {
  /** `started` was acknowledged. */
  started: boolean;
  /** The torrent was incomplete when `started` was acknowledged. */
  startedIncomplete: boolean;
  completedSent: boolean;
  inflight: AnnounceEvent | undefined;
  /** The torrent was incomplete when the announce in flight was sent (its `left` said so). */
  inflightIncomplete: boolean;
  lastSuccess: number;
  minIntervalS: number;
  trackerId?: string;
}

export interface AnnounceContext {
  /** Every wanted piece is verified. */
  done: boolean;
  /** Few peers: re-announce sooner and ask for more. */
  thin: boolean;
}

export interface AnnounceAction {
  tracker: TrackerState;
  event: AnnounceEvent;
}

interface Tier {
  trackers: TrackerState[];
}

export class Announcer {
  readonly #tiers: Tier[];
  readonly #policy: IntervalPolicy;
  readonly #random: () => number;

  constructor(
    tiers: readonly (readonly string[])[],
    o: { policy?: Partial<IntervalPolicy>; random?: () => number } = {},
  ) {
    this.#policy = { ...DEFAULT_INTERVALS, ...o.policy };
    this.#random = o.random ?? Math.random;
    const seen = new Set<string>();
    this.#tiers = [];
    for (const urls of tiers) {
      const list: TrackerState[] = [];
      for (const url of urls) {
        if (seen.has(url)) continue;
        seen.add(url);
        list.push({
          url,
          tier: this.#tiers.length,
          status: "idle",
          peers: 0,
          failures: 0,
          started: false,
          startedIncomplete: false,
          completedSent: false,
          inflight: undefined,
          inflightIncomplete: false,
          lastSuccess: 0,
          minIntervalS: 0,
          nextAnnounce: 0,
        });
      }
      if (list.length === 0) continue;
      // BEP 12: shuffle each tier once.
      for (let i = list.length - 1; i > 0; i--) {
        const j = Math.floor(this.#random() * (i + 1));
        [list[i], list[j]] = [list[j]!, list[i]!];
      }
      this.#tiers.push({ trackers: list });
    }
  }

  get size(): number {
    return this.#tiers.reduce((n, t) => n + t.trackers.length, 0);
  }

  /** Every tracker, tier by tier, in the order they are tried. */
  status(): TrackerStatus[] {
    return this.#tiers.flatMap((t) =>
      t.trackers.map((s) => {
        const {
          started,
          startedIncomplete,
          completedSent,
          inflight,
          lastSuccess,
          minIntervalS,
          trackerId,
          ...rest
        } = s;
        return { ...rest };
      }),
    );
  }

  /** The event `t` needs now, if any. */
  #needs(t: TrackerState, now: number, ctx: AnnounceContext): AnnounceEvent | undefined {
    if (t.failures > 0 && now < (t.nextAnnounce ?? 0)) return undefined;
    if (!t.started) return "started";
    if (ctx.done && t.startedIncomplete && !t.completedSent) return "completed";
    return now >= this.#regularDue(t, ctx) ? "none" : undefined;
  }

  #regularDue(t: TrackerState, ctx: AnnounceContext): number {
    if (t.failures > 0) return t.nextAnnounce ?? 0;
    const interval = t.interval ?? this.#policy.defaultInterval;
    const period =
      ctx.thin && !ctx.done
        ? Math.min(interval, Math.max(t.minIntervalS, this.#policy.thinInterval))
        : interval;
    return t.lastSuccess + period * 1000;
  }

  /** Announces to start now; each is marked in flight until `succeeded` or `failed`. */
  due(now: number, ctx: AnnounceContext): AnnounceAction[] {
    const out: AnnounceAction[] = [];
    for (const tier of this.#tiers) {
      if (tier.trackers.some((t) => t.inflight !== undefined)) continue;
      // The first tracker of the tier that is usable: the front one unless it is backing off.
      const t = tier.trackers.find((x) => x.failures === 0 || now >= (x.nextAnnounce ?? 0));
      if (!t) continue;
      // A later tracker is used only while earlier ones fail; once one works, stay with it.
      const event = this.#needs(t, now, ctx);
      if (!event) continue;
      t.inflight = event;
      t.inflightIncomplete = !ctx.done;
      t.status = "announcing";
      out.push({ tracker: t, event });
    }
    return out;
  }

  /** When `due` next has something (ms on the same clock), or Infinity. */
  nextDue(now: number, ctx: AnnounceContext): number {
    let next = Number.POSITIVE_INFINITY;
    for (const tier of this.#tiers) {
      if (tier.trackers.some((t) => t.inflight !== undefined)) continue;
      for (const t of tier.trackers) {
        const at =
          !t.started || (ctx.done && t.startedIncomplete && !t.completedSent)
            ? t.failures > 0
              ? (t.nextAnnounce ?? 0)
              : now
            : this.#regularDue(t, ctx);
        next = Math.min(next, at);
        if (t.failures === 0) break;
      }
    }
    return next;
  }

  #clamp(s: number | undefined, fallback: number): number {
    const v = s === undefined || !Number.isFinite(s) ? fallback : s;
    return Math.min(this.#policy.maxInterval, Math.max(this.#policy.minInterval, v));
  }

  /** A reply arrived for `t`'s announce of `event`. */
  succeeded(
    t: TrackerState,
    event: AnnounceEvent,
    r: AnnounceResponse,
    now: number,
    ctx: AnnounceContext,
  ): void {
    const sentIncomplete = t.inflight !== undefined ? t.inflightIncomplete : !ctx.done;
    t.inflight = undefined;
    t.failures = 0;
    t.lastSuccess = now;
    delete t.error;
    delete t.errorCode;
    const warnings: string[] = [];
    if (r.warning) warnings.push(r.warning);
    const interval = this.#clamp(r.interval, this.#policy.defaultInterval);
    if (r.interval !== undefined && interval !== r.interval)
      warnings.push(`interval ${r.interval} s is out of bounds; using ${interval} s`);
    t.minIntervalS =
      r.minInterval === undefined ? 0 : Math.min(this.#clamp(r.minInterval, 0), interval);
    t.interval = Math.max(interval, t.minIntervalS);
    if (warnings.length) t.warning = warnings.join("; ");
    else delete t.warning;
    if (r.trackerId !== undefined) t.trackerId = r.trackerId;
    t.peers = r.peers.length;
    if (r.complete !== undefined) t.seeders = r.complete;
    if (r.incomplete !== undefined) t.leechers = r.incomplete;
    if (event === "started") {
      t.started = true;
      t.startedIncomplete = sentIncomplete;
    } else if (event === "completed") {
      t.completedSent = true;
    } else if (event === "stopped") {
      t.started = false;
    }
    t.status = "working";
    t.nextAnnounce = this.#regularDue(t, ctx);
    // BEP 12: the tracker that answered goes to the front of its tier.
    const tier = this.#tiers[t.tier]!;
    const i = tier.trackers.indexOf(t);
    if (i > 0) {
      tier.trackers.splice(i, 1);
      tier.trackers.unshift(t);
    }
  }

  /** `t`'s announce failed: back off and let the next tracker of the tier try. */
  failed(t: TrackerState, e: TrackerError | Error, now: number): void {
    t.inflight = undefined;
    t.failures++;
    t.status = "error";
    t.error = e.message;
    t.errorCode = (e as TrackerError).code ?? "TRACKER_NETWORK";
    const p = this.#policy;
    const delay = Math.min(p.backoffMax, p.backoffBase * 2 ** Math.min(t.failures - 1, 16));
    const jittered = Math.min(p.backoffMax, delay * (0.75 + 0.5 * this.#random()));
    t.nextAnnounce = now + Math.max(jittered, t.minIntervalS) * 1000;
    // Move it behind the trackers of its tier that have not failed.
    const tier = this.#tiers[t.tier]!;
    const i = tier.trackers.indexOf(t);
    tier.trackers.splice(i, 1);
    let j = tier.trackers.findIndex(
      (x) => x.failures > 0 && (x.nextAnnounce ?? 0) > t.nextAnnounce!,
    );
    if (j < 0) j = tier.trackers.length;
    tier.trackers.splice(j, 0, t);
  }

  /** Trackers to tell `stopped` on shutdown. */
  stopTargets(): TrackerState[] {
    return this.#tiers.flatMap((t) => t.trackers.filter((s) => s.started));
  }
}
