/**
 * The choker, after libtorrent's (`choker.cpp`, fixed slots): run every 10 s by the caller with
 * a snapshot of its peers; returns which to unchoke (every other peer is choked). Pure: time
 * comes in as `now`, and the little memory it needs between runs travels in `state`.
 *
 * - Only interested peers are unchoked, and only they count toward the slots.
 * - Leeching (tit-for-tat): the `slots - optimisticSlots` interested peers that send to us
 *   fastest, snubbed ones excluded; ties go to the peer already unchoked, then to the one that
 *   has waited longest.
 * - Seeding (libtorrent's round-robin seed choker): peers we upload to fastest, except that a
 *   peer unchoked for over a minute that has received its quota (`seedQuotaBytes`, libtorrent's
 *   seeding_piece_quota of 20 pieces) goes to the back, so the slots rotate through the swarm.
 * - Plus `optimisticSlots` optimistic unchokes, rotated every `optimisticIntervalMs` (30 s):
 *   the interested peers not otherwise unchoked that were optimistically unchoked longest ago,
 *   never-tried peers first (so a newly connected peer gets its turn at the next rotation, as
 *   libtorrent's `last_optimistically_unchoked` ordering gives it), newest connection first
 *   among those.
 *
 * Also here: {@link desiredQueue} (how many requests to keep out to a peer) and
 * {@link isSnubbed}.
 */

export type ChokeMode = "leeching" | "seeding";

export interface ChokerPeer {
  key: number;
  /** The peer is interested in us. */
  interested: boolean;
  /** We choke it now. */
  choked: boolean;
  /** Payload bytes/s it sends us. */
  downloadRate: number;
  /** Payload bytes/s we send it. */
  uploadRate: number;
  /** It has not sent a block for a minute while we had requests out. */
  snubbed: boolean;
  isSeed: boolean;
  /** When the connection was made (ms, same clock as `now`). */
  connectedAt: number;
  /** Total payload bytes we sent it, if known; otherwise estimated from `uploadRate`. */
  uploaded?: number;
}

export interface ChokeInput {
  peers: readonly ChokerPeer[];
  mode: ChokeMode;
  now: number;
  /** Unchoked peers in all, optimistic ones included; default {@link DEFAULT_SLOTS}. */
  slots?: number;
  /** Default 1. */
  optimisticSlots?: number;
  /** Default {@link OPTIMISTIC_INTERVAL_MS}. */
  optimisticIntervalMs?: number;
  /** Round-robin seeding: bytes after which a peer yields its slot; default {@link SEED_QUOTA_BYTES}. */
  seedQuotaBytes?: number;
  /** Round-robin seeding: a peer keeps its slot at least this long; default {@link SEED_MIN_UNCHOKE_MS}. */
  seedMinUnchokeMs?: number;
  /** The `state` of the previous run (anything else counts as none). */
  state?: unknown;
}

export interface ChokeDecision {
  /** Peers to unchoke (optimistic ones included); choke every other peer. */
  unchoke: number[];
  /** The optimistic subset of `unchoke`. */
  optimistic: number[];
  /** Pass to the next run. */
  state: ChokerState;
}

export const DEFAULT_SLOTS = 4;
export const OPTIMISTIC_INTERVAL_MS = 30_000;
export const SEED_QUOTA_BYTES = 20 * 256 * 1024;
export const SEED_MIN_UNCHOKE_MS = 60_000;
export const CHOKE_INTERVAL_MS = 10_000;

interface Memo {
  /** Last time we unchoked it (-Infinity: never). */
  lastUnchokeAt: number;
  /** Since when it has been unchoked, or undefined while choked. */
  unchokedSince: number | undefined;
  /** `uploaded` when it was last unchoked. */
  uploadedAtUnchoke: number;
  /** Estimated payload bytes we sent it (used when the snapshot does not say). */
  estUploaded: number;
  /** Last time it was picked as optimistic unchoke (-Infinity: never). */
  lastOptimisticAt: number;
}

/** Memory carried between choker runs. Treat as opaque. */
export class ChokerState {
  readonly peers: ReadonlyMap<number, Readonly<Memo>>;
  readonly optimistic: readonly number[];
  readonly lastRotation: number;
  readonly lastRun: number;

  constructor(
    peers: ReadonlyMap<number, Memo>,
    optimistic: readonly number[],
    lastRotation: number,
    lastRun: number,
  ) {
    this.peers = peers;
    this.optimistic = optimistic;
    this.lastRotation = lastRotation;
    this.lastRun = lastRun;
  }
}

export function chooseUnchokes(input: ChokeInput): ChokeDecision {
  const { peers, mode, now } = input;
  const slots = Math.max(0, Math.floor(input.slots ?? DEFAULT_SLOTS));
  const optSlots = Math.min(slots, Math.max(0, Math.floor(input.optimisticSlots ?? 1)));
  const regularSlots = slots - optSlots;
  const interval = input.optimisticIntervalMs ?? OPTIMISTIC_INTERVAL_MS;
  const quota = input.seedQuotaBytes ?? SEED_QUOTA_BYTES;
  const minUnchoke = input.seedMinUnchokeMs ?? SEED_MIN_UNCHOKE_MS;
  const prev = input.state instanceof ChokerState ? input.state : undefined;
  const elapsed = prev !== undefined ? Math.max(0, now - prev.lastRun) : 0;

  const memos = new Map<number, Memo>();
  for (const p of peers) {
    const old = prev?.peers.get(p.key);
    const m: Memo = old
      ? { ...old }
      : {
          lastUnchokeAt: -Infinity,
          unchokedSince: undefined,
          uploadedAtUnchoke: 0,
          estUploaded: 0,
          lastOptimisticAt: -Infinity,
        };
    if (!p.choked) m.estUploaded += (p.uploadRate * elapsed) / 1000;
    if (p.choked) m.unchokedSince = undefined;
    else if (m.unchokedSince === undefined) {
      // Unchoked outside the choker (e.g. at once while slots were free).
      m.unchokedSince = now;
      m.lastUnchokeAt = now;
      m.uploadedAtUnchoke = p.uploaded ?? m.estUploaded;
    }
    memos.set(p.key, m);
  }
  const memo = (p: ChokerPeer): Memo => memos.get(p.key)!;

  const candidates = peers.filter((p) => p.interested && !p.isSeed);

  // ---- regular slots ----
  let regular: ChokerPeer[];
  if (mode === "leeching") {
    regular = candidates
      .filter((p) => !p.snubbed)
      .sort(
        (a, b) =>
          b.downloadRate - a.downloadRate ||
          Number(a.choked) - Number(b.choked) ||
          memo(a).lastUnchokeAt - memo(b).lastUnchokeAt ||
          a.key - b.key,
      );
  } else {
    const quotaDone = (p: ChokerPeer): boolean => {
      const m = memo(p);
      if (p.choked || m.unchokedSince === undefined) return false;
      const sent = (p.uploaded ?? m.estUploaded) - m.uploadedAtUnchoke;
      return sent > quota && now - m.unchokedSince > minUnchoke;
    };
    const done = new Map(candidates.map((p) => [p.key, quotaDone(p)]));
    // A choked peer's residual rate does not count (libtorrent does the same).
    const rate = (p: ChokerPeer): number => (p.choked ? 0 : p.uploadRate);
    regular = [...candidates].sort(
      (a, b) =>
        Number(done.get(a.key)) - Number(done.get(b.key)) ||
        rate(b) - rate(a) ||
        memo(a).lastUnchokeAt - memo(b).lastUnchokeAt ||
        a.key - b.key,
    );
  }
  regular = regular.slice(0, regularSlots);
  const chosen = new Set(regular.map((p) => p.key));

  // ---- optimistic slots ----
  const pool = candidates.filter((p) => !chosen.has(p.key));
  const poolKeys = new Set(pool.map((p) => p.key));
  const due = prev === undefined || now - prev.lastRotation >= interval;
  const optimistic = due
    ? []
    : (prev?.optimistic ?? []).filter((k) => poolKeys.has(k)).slice(0, optSlots);
  let lastRotation = prev?.lastRotation ?? now;
  if (optimistic.length < optSlots) {
    const kept = new Set(optimistic);
    const order = pool
      .filter((p) => !kept.has(p.key))
      .sort(
        (a, b) =>
          memo(a).lastOptimisticAt - memo(b).lastOptimisticAt ||
          b.connectedAt - a.connectedAt ||
          a.key - b.key,
      );
    for (const p of order) {
      if (optimistic.length >= optSlots) break;
      optimistic.push(p.key);
      memo(p).lastOptimisticAt = now;
    }
    if (due || kept.size === 0) lastRotation = now;
  }

  const unchoke = [...chosen, ...optimistic];
  const unchokeSet = new Set(unchoke);
  for (const p of peers) {
    const m = memo(p);
    if (unchokeSet.has(p.key)) {
      if (p.choked) {
        m.lastUnchokeAt = now;
        m.unchokedSince = now;
        m.uploadedAtUnchoke = p.uploaded ?? m.estUploaded;
      }
    } else {
      m.unchokedSince = undefined;
    }
  }
  return { unchoke, optimistic, state: new ChokerState(memos, optimistic, lastRotation, now) };
}

// ---- request pipelining ----------------------------------------------------------------------

/** libtorrent's request_queue_time: keep this much transfer time in requests. */
export const QUEUE_TIME_MS = 3000;
/** Fewest requests kept out to a peer that is not snubbed. */
export const MIN_QUEUE = 4;
/** Our own cap on requests out to one peer (libtorrent's max_out_request_queue). */
export const MAX_QUEUE = 500;
/** A peer's request queue when it does not say (BEP 10 `reqq`); libtorrent's default. */
export const DEFAULT_REQQ = 250;

export interface QueueInput {
  /** Payload bytes/s the peer sends us. */
  rateBytesPerSec: number;
  rttMs: number;
  blockSize: number;
  /** The peer's advertised `reqq`, if any. */
  reqq?: number;
  /** Transfer time to keep queued; default {@link QUEUE_TIME_MS}. */
  queueTimeMs?: number;
  /** A snubbed peer gets one request at a time. */
  snubbed?: boolean;
}

/**
 * Requests to keep out to a peer: bandwidth × delay / block size, where the delay is the larger
 * of the round trip and {@link QUEUE_TIME_MS} (a queue covering only one round trip drains
 * whenever the rate estimate lags). At least {@link MIN_QUEUE}, at most the peer's `reqq` and
 * {@link MAX_QUEUE}; 1 when snubbed.
 */
export function desiredQueue(q: QueueInput): number {
  const cap = Math.max(
    1,
    Math.min(q.reqq !== undefined && q.reqq > 0 ? q.reqq : DEFAULT_REQQ, MAX_QUEUE),
  );
  if (q.snubbed) return 1;
  const rate = Number.isFinite(q.rateBytesPerSec) && q.rateBytesPerSec > 0 ? q.rateBytesPerSec : 0;
  const delay = Math.max(Number.isFinite(q.rttMs) ? q.rttMs : 0, q.queueTimeMs ?? QUEUE_TIME_MS);
  const depth = Math.ceil((rate * delay) / 1000 / Math.max(1, q.blockSize));
  return Math.min(cap, Math.max(MIN_QUEUE, depth));
}

/** No block for this long while requests are out: snubbed (libtorrent's 60 s). */
export const SNUB_TIMEOUT_MS = 60_000;

export interface SnubInput {
  now: number;
  /** Requests out to the peer. */
  outstanding: number;
  /** When its last block arrived (-Infinity or undefined: never). */
  lastBlockAt: number | undefined;
  /** When the oldest request still out was sent. */
  oldestRequestAt: number;
  timeoutMs?: number;
}

/**
 * Snubbed: we have requests out and nothing has arrived for {@link SNUB_TIMEOUT_MS}, counted
 * from the later of its last block and the oldest request still out (a peer we only just asked
 * is not snubbed because it was idle before).
 */
export function isSnubbed(s: SnubInput): boolean {
  if (s.outstanding <= 0) return false;
  const since = Math.max(s.lastBlockAt ?? -Infinity, s.oldestRequestAt);
  return s.now - since >= (s.timeoutMs ?? SNUB_TIMEOUT_MS);
}
