/**
 * Fetching the metadata (info dictionary) of a magnet link from peers with ut_metadata (BEP 9),
 * as a sans-I/O state machine: events and the current time in, actions out.
 *
 * Peers are grouped by the `metadata_size` they announce, since a peer lying about the size
 * cannot help assemble the real thing. One group is worked at a time — see `#pickGroup` — and
 * its 16 KiB pieces are spread over that group's peers, at most `maxRequestsPerPeer` outstanding
 * each; a request unanswered for `duplicateAfterMs` is also sent to another peer. When the assembled bytes do not hash to the info-hash,
 * the contributors are reported; a sole contributor is convicted (`ban`). Several contributors
 * become suspects: later pieces go to other peers, and when no other peer is ready (none left,
 * or all backing off after rejects/timeouts) they go to one suspect at a time, so a failure
 * made of that suspect's pieces alone convicts it. Every failed attempt either convicts a peer
 * or turns at least one contributor into a suspect, so the fetch cannot loop forever on liars.
 */
import { createHash } from "node:crypto";
import { MAX_METADATA_SIZE, metadataPieceCount, metadataPieceLength } from "./ut-metadata.js";

/** An instruction to the caller. `K` is the caller's peer handle (compared by identity). */
export type MetadataAction<K> =
  /** Send `encodeMetadataRequest(piece)` to `peer` under its ut_metadata id. */
  | { readonly type: "request"; readonly peer: K; readonly piece: number }
  /** The verified info dictionary: hand it to `parseInfo`; the fetcher is finished. */
  | { readonly type: "done"; readonly info: Uint8Array }
  /** The assembled metadata failed the info-hash check; these peers sent parts of it. */
  | {
      readonly type: "hash_failed";
      readonly size: number;
      readonly contributors: readonly K[];
    }
  /** `peer` alone sent metadata that failed the info-hash check, or broke the protocol: ban it. */
  | { readonly type: "ban"; readonly peer: K; readonly reason: string };

/** Tunables; every one has a documented default. */
export interface MetadataFetcherOptions {
  /** Largest `metadata_size` believed (default {@link MAX_METADATA_SIZE}); larger peers are unused. */
  maxMetadataSize?: number;
  /** A request unanswered this long (ms) is given to another peer (default 15 000). */
  requestTimeoutMs?: number;
  /**
   * After a reject or a timeout, the peer is not asked again for this long (ms, default 30 000),
   * doubled for each further one in a row (up to 16×). Such peers are asked only when no other
   * peer (nor a suspect, see above) is ready.
   */
  backoffMs?: number;
  /** Requests outstanding per peer (default 2): spreads the pieces over the swarm. */
  maxRequestsPerPeer?: number;
  /**
   * A request unanswered this long (ms, default 3 000) is also sent to a peer with room for
   * it; the first answer counts. A peer that never answers then holds the fetch for this long
   * instead of `requestTimeoutMs`.
   */
  duplicateAfterMs?: number;
}

interface PeerState<K> {
  readonly key: K;
  readonly size: number;
  /** piece → time requested. */
  readonly outstanding: Map<number, number>;
  /** Pieces we ever asked this peer for in the current attempt (late answers are welcome). */
  readonly asked: Set<number>;
  backoffUntil: number;
  /** Rejects and timeouts since its last useful piece; each doubles the backoff. */
  strikes: number;
  /**
   * Left a request unanswered for `duplicateAfterMs` since its last useful piece (kept across
   * attempts and group switches, which drop its requests): such a peer's group is worked only
   * when no group has a peer that answers.
   */
  stalled: boolean;
  assigned: number;
}

interface Group<K> {
  readonly size: number;
  readonly pieceCount: number;
  pieces: (Uint8Array | undefined)[];
  contributors: (K | undefined)[];
  /** piece → peer it is outstanding with. */
  pending: Map<number, K>;
  received: number;
  readonly suspects: Set<K>;
  /** When only suspects remain: the one suspect every piece is fetched from. */
  solo: K | undefined;
}

/** Metadata download for one info-hash. See the module comment for the strategy. */
export class MetadataFetcher<K> {
  readonly #infoHash: Uint8Array;
  readonly #maxSize: number;
  readonly #timeout: number;
  readonly #backoff: number;
  readonly #perPeer: number;
  readonly #duplicateAfter: number;
  readonly #peers = new Map<K, PeerState<K>>();
  readonly #groups = new Map<number, Group<K>>();
  /** Peers convicted here; never used again. */
  readonly #banned = new Set<K>();
  #active: Group<K> | undefined;
  #info: Uint8Array | undefined;

  /** @param infoHash the v1 info-hash (20 bytes) the metadata must hash to. */
  constructor(infoHash: Uint8Array, options: MetadataFetcherOptions = {}) {
    if (infoHash.length !== 20) throw new RangeError("info-hash must be 20 bytes");
    this.#infoHash = infoHash;
    this.#maxSize = options.maxMetadataSize ?? MAX_METADATA_SIZE;
    this.#timeout = options.requestTimeoutMs ?? 15_000;
    this.#backoff = options.backoffMs ?? 30_000;
    this.#perPeer = options.maxRequestsPerPeer ?? 2;
    this.#duplicateAfter = options.duplicateAfterMs ?? 3_000;
  }

  /** The verified metadata once fetched. */
  get info(): Uint8Array | undefined {
    return this.#info;
  }

  /** Bytes received so far in the current attempt, and its size (for progress display). */
  progress(): { received: number; size: number } | undefined {
    const g = this.#active;
    return g === undefined ? undefined : { received: g.received, size: g.size };
  }

  /** Whether a peer announcing `size` would be used (a positive size within the cap). */
  acceptsSize(size: number | undefined): size is number {
    return size !== undefined && Number.isSafeInteger(size) && size >= 1 && size <= this.#maxSize;
  }

  /**
   * A peer's extension handshake arrived with ut_metadata enabled and `metadata_size`
   * (`size`). Call again when a re-sent handshake changes the size. Peers without a usable size
   * (none, or above the cap) are not used.
   */
  addPeer(peer: K, size: number | undefined, now: number): MetadataAction<K>[] {
    if (this.#info !== undefined) return [];
    if (this.#banned.has(peer)) return [];
    const old = this.#peers.get(peer);
    if (old !== undefined) {
      if (old.size === size) return this.#assign(now);
      this.#forget(old);
    }
    if (!this.acceptsSize(size)) return this.#assign(now);
    this.#peers.set(peer, {
      key: peer,
      size,
      outstanding: new Map(),
      asked: new Set(),
      backoffUntil: 0,
      strikes: 0,
      stalled: false,
      assigned: 0,
    });
    if (!this.#groups.has(size)) this.#groups.set(size, newGroup<K>(size));
    return this.#assign(now);
  }

  /** The peer disconnected, or turned ut_metadata off (id 0 in a later handshake). */
  removePeer(peer: K, now: number): MetadataAction<K>[] {
    const p = this.#peers.get(peer);
    if (p === undefined || this.#info !== undefined) return [];
    this.#forget(p);
    return this.#assign(now);
  }

  /** The peer rejected a request: it is left alone for `backoffMs`, the piece goes elsewhere. */
  onReject(peer: K, piece: number, now: number): MetadataAction<K>[] {
    const p = this.#peers.get(peer);
    if (p === undefined || this.#info !== undefined) return [];
    this.#release(p, piece);
    this.#strike(p, now);
    return this.#assign(now);
  }

  /**
   * A data message, already decoded and checked against the peer's announced size. Data we did
   * not ask this peer for, or for a piece we already have, is ignored; data whose `totalSize` or
   * length does not fit the peer's group bans the peer.
   */
  onData(
    peer: K,
    piece: number,
    totalSize: number,
    data: Uint8Array,
    now: number,
  ): MetadataAction<K>[] {
    const p = this.#peers.get(peer);
    if (p === undefined || this.#info !== undefined) return [];
    const g = this.#groups.get(p.size);
    if (g === undefined) return [];
    if (totalSize !== p.size || piece < 0 || piece >= g.pieceCount) {
      return this.#ban(p, `ut_metadata data does not match its announced size ${p.size}`, now);
    }
    if (data.length !== metadataPieceLength(g.size, piece)) {
      return this.#ban(p, `ut_metadata piece ${piece} has ${data.length} bytes`, now);
    }
    if (!p.asked.has(piece)) return [];
    this.#release(p, piece);
    p.strikes = 0;
    p.stalled = false;
    if (g.pieces[piece] !== undefined || g !== this.#active) return this.#assign(now);
    g.pieces[piece] = data.slice();
    g.contributors[piece] = peer;
    g.received += data.length;
    if (g.received < g.size) return this.#assign(now);
    return this.#verify(g, now);
  }

  /** Expire requests older than `requestTimeoutMs` and hand their pieces out again. */
  tick(now: number): MetadataAction<K>[] {
    if (this.#info !== undefined) return [];
    for (const p of this.#peers.values()) {
      for (const [piece, at] of p.outstanding) {
        if (now - at >= this.#timeout) {
          this.#release(p, piece);
          this.#strike(p, now);
        }
      }
    }
    return this.#assign(now);
  }

  /** Whether `p` has left a request unanswered for `duplicateAfterMs` or more. */
  #slow(p: PeerState<K>, now: number): boolean {
    for (const at of p.outstanding.values()) if (now - at >= this.#duplicateAfter) return true;
    return false;
  }

  #strike(p: PeerState<K>, now: number): void {
    p.strikes++;
    p.backoffUntil = now + this.#backoff * 2 ** Math.min(p.strikes - 1, 4);
  }

  #verify(g: Group<K>, now: number): MetadataAction<K>[] {
    const info = new Uint8Array(g.size);
    for (let i = 0; i < g.pieceCount; i++) info.set(g.pieces[i]!, i * 16384);
    const digest = createHash("sha1").update(info).digest();
    if (digest.equals(this.#infoHash)) {
      this.#info = info;
      this.#peers.clear();
      this.#groups.clear();
      this.#banned.clear();
      this.#active = undefined;
      return [{ type: "done", info }];
    }
    const contributors = [...new Set(g.contributors as K[])];
    this.#reset(g);
    const actions: MetadataAction<K>[] = [{ type: "hash_failed", size: g.size, contributors }];
    if (contributors.length === 1) {
      const only = contributors[0]!;
      const p = this.#peers.get(only);
      const reason = "sent metadata that fails the info-hash";
      if (p !== undefined) {
        actions.push(...this.#ban(p, reason, now));
        return actions;
      }
      this.#banned.add(only);
      actions.push({ type: "ban", peer: only, reason });
    } else {
      for (const c of contributors) g.suspects.add(c);
    }
    actions.push(...this.#assign(now));
    return actions;
  }

  #ban(p: PeerState<K>, reason: string, now: number): MetadataAction<K>[] {
    this.#forget(p);
    this.#banned.add(p.key);
    return [{ type: "ban", peer: p.key, reason }, ...this.#assign(now)];
  }

  /** Drop a peer from every structure (its pending pieces become free). */
  #forget(p: PeerState<K>): void {
    for (const piece of [...p.outstanding.keys()]) this.#release(p, piece);
    p.asked.clear();
    this.#peers.delete(p.key);
    const g = this.#groups.get(p.size);
    if (g === undefined) return;
    if (g.solo === p.key) g.solo = undefined;
    g.suspects.delete(p.key);
    if (![...this.#peers.values()].some((q) => q.size === g.size) && g !== this.#active) {
      this.#groups.delete(g.size);
    }
  }

  #release(p: PeerState<K>, piece: number): void {
    p.outstanding.delete(piece);
    const g = this.#groups.get(p.size);
    if (g !== undefined && g.pending.get(piece) === p.key) g.pending.delete(piece);
  }

  /** Start a new attempt in `g`: no data, no requests (late answers are ignored). */
  #reset(g: Group<K>): void {
    g.pieces = new Array(g.pieceCount).fill(undefined);
    g.contributors = new Array(g.pieceCount).fill(undefined);
    g.pending.clear();
    g.received = 0;
    g.solo = undefined;
    for (const p of this.#peers.values()) {
      if (p.size !== g.size) continue;
      p.outstanding.clear();
      p.asked.clear();
    }
  }

  /**
   * The group to work on: the most peers that have not rejected or timed out since their last
   * useful piece and have no request older than `duplicateAfterMs`, then the fewest strikes, then the most peers; the current group
   * wins ties (switching loses its data). Strikes come before the peer count so the fetch stays
   * live: a group that makes no progress gathers strikes while the others keep theirs, until
   * another group is better (an honest peer's strikes clear with its first useful piece). Counting peers alone let a first peer that announces
   * a wrong size and never answers hold the fetch for as long as it stayed connected, since an
   * honest peer alone in its group only tied with it.
   */
  #pickGroup(now: number): Group<K> | undefined {
    const score = new Map<number, [fresh: number, strikes: number, peers: number]>();
    for (const p of this.#peers.values()) {
      let s = score.get(p.size);
      if (s === undefined) {
        s = [0, 0, 0];
        score.set(p.size, s);
      }
      if (!p.stalled && this.#slow(p, now)) p.stalled = true;
      if (p.strikes === 0 && !p.stalled) s[0]++;
      s[1] += p.strikes;
      s[2]++;
    }
    const better = (a: [number, number, number], b: [number, number, number]) =>
      a[0] !== b[0] ? a[0] > b[0] : a[1] !== b[1] ? a[1] < b[1] : a[2] > b[2];
    let best = this.#active;
    let bestScore = best === undefined ? undefined : score.get(best.size);
    for (const g of this.#groups.values()) {
      const s = score.get(g.size);
      if (s !== undefined && (bestScore === undefined || better(s, bestScore))) {
        best = g;
        bestScore = s;
      }
    }
    const bestCount = bestScore?.[2] ?? 0;
    if (best !== this.#active) {
      if (this.#active !== undefined) {
        const old = this.#active;
        this.#reset(old);
        if (!score.has(old.size)) this.#groups.delete(old.size);
      }
      this.#active = best;
    }
    return bestCount > 0 ? best : undefined;
  }

  #assign(now: number): MetadataAction<K>[] {
    if (this.#info !== undefined) return [];
    const g = this.#pickGroup(now);
    if (g === undefined) return [];
    const members = [...this.#peers.values()].filter((p) => p.size === g.size);
    const ready = (p: PeerState<K>) => p.backoffUntil <= now;
    // 1. peers neither suspected nor recently unhelpful.
    let pool = members.filter((p) => !g.suspects.has(p.key) && p.strikes === 0 && ready(p));
    if (pool.length === 0) {
      // 2. only suspects can help: one of them at a time, so a failure made of its pieces alone
      // convicts it. Another suspect takes over when it stalls or leaves.
      const suspects = members.filter((p) => g.suspects.has(p.key));
      const solo = suspects.find((p) => p.key === g.solo);
      if (solo === undefined || !ready(solo)) g.solo = (suspects.find(ready) ?? solo)?.key;
      pool = suspects.filter((p) => p.key === g.solo && ready(p));
    }
    // 3. peers that rejected or timed out before, once their backoff is over.
    if (pool.length === 0) pool = members.filter((p) => !g.suspects.has(p.key) && ready(p));
    const actions: MetadataAction<K>[] = [];
    for (let piece = 0; piece < g.pieceCount; piece++) {
      if (g.pieces[piece] !== undefined || g.pending.has(piece)) continue;
      let chosen: PeerState<K> | undefined;
      for (const p of pool) {
        if (p.backoffUntil > now || p.outstanding.size >= this.#perPeer) continue;
        if (
          chosen === undefined ||
          p.outstanding.size < chosen.outstanding.size ||
          (p.outstanding.size === chosen.outstanding.size && p.assigned < chosen.assigned)
        ) {
          chosen = p;
        }
      }
      if (chosen === undefined) break;
      actions.push(this.#request(g, chosen, piece, now));
    }
    // Pieces waiting too long on one peer also go to a peer with room (never back to the same
    // peer, never to a suspect, so the suspect rule above is not undone).
    for (const [piece, holder] of g.pending) {
      const asked = this.#peers.get(holder)?.outstanding.get(piece);
      if (asked === undefined || now - asked < this.#duplicateAfter) continue;
      const helper = pool.find(
        (p) =>
          p.key !== holder &&
          !g.suspects.has(p.key) &&
          p.backoffUntil <= now &&
          p.outstanding.size < this.#perPeer &&
          !p.outstanding.has(piece),
      );
      if (helper === undefined) continue;
      actions.push(this.#request(g, helper, piece, now));
    }
    return actions;
  }

  /** Ask `p` for `piece` of `g` (it becomes the piece's pending peer). */
  #request(g: Group<K>, p: PeerState<K>, piece: number, now: number): MetadataAction<K> {
    p.outstanding.set(piece, now);
    p.asked.add(piece);
    p.assigned++;
    g.pending.set(piece, p.key);
    return { type: "request", peer: p.key, piece };
  }
}

function newGroup<K>(size: number): Group<K> {
  const pieceCount = metadataPieceCount(size);
  return {
    size,
    pieceCount,
    pieces: new Array(pieceCount).fill(undefined),
    contributors: new Array(pieceCount).fill(undefined),
    pending: new Map(),
    received: 0,
    suspects: new Set(),
    solo: undefined,
  };
}
