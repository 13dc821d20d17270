/**
 * BEP 6 Fast extension helpers: the canonical allowed-fast set, and the small decisions the peer
 * makes around choking (which requests to reject, which to serve while choked) and around the
 * allowed-fast and suggest messages it receives.
 */
import { createHash } from "node:crypto";
import type { PieceIndex } from "../types.js";
import { ipToBytes, unmapIPv4 } from "../util/ip.js";
import type { BlockRef } from "../wire/messages.js";

/** Size of the allowed-fast set we offer (BEP 6 and libtorrent: 10). */
export const ALLOWED_FAST_COUNT = 10;
/**
 * Most allowed-fast pieces we remember from one peer: a hostile peer could announce every piece,
 * and a set much larger than anyone's `k` is not worth keeping.
 */
export const MAX_ALLOWED_FAST_RECEIVED = 64;

/**
 * The allowed-fast set BEP 6 computes for a peer at `ip`: `k` distinct piece indices, in the
 * order the algorithm produces them. `k` is capped at `pieceCount` (else there would not be
 * enough distinct pieces).
 *
 * IPv6: BEP 6 has "no provisions for IPv6", so for an IPv6 peer this returns `[]` (we offer no
 * allowed-fast pieces to it; an IPv4-mapped address counts as IPv4). A remote peer computing a
 * set for us over IPv6 is its own affair: we simply honour whatever `allowed_fast` it sends.
 *
 * @param ip the peer's IP literal as seen on our connection.
 * @param infoHash the 20-byte v1 info-hash.
 */
export function allowedFastSet(
  ip: string,
  infoHash: Uint8Array,
  pieceCount: number,
  k: number = ALLOWED_FAST_COUNT,
): PieceIndex[] {
  let bytes = ipToBytes(ip);
  if (bytes !== undefined && bytes.length === 16) bytes = unmapIPv4(bytes);
  if (bytes === undefined || bytes.length !== 4) return [];
  const want = Math.min(k, pieceCount);
  if (want <= 0) return [];
  const x = new Uint8Array(24);
  x.set(bytes.subarray(0, 3), 0); // & 0xffffff00: the last octet stays 0
  x.set(infoHash.subarray(0, 20), 4);
  let h: Uint8Array = x;
  const out: PieceIndex[] = [];
  const seen = new Set<number>();
  while (out.length < want) {
    h = createHash("sha1").update(h).digest();
    const view = new DataView(h.buffer, h.byteOffset, 20);
    for (let i = 0; i < 5 && out.length < want; i++) {
      const index = view.getUint32(i * 4) % pieceCount;
      if (!seen.has(index)) {
        seen.add(index);
        out.push(index as PieceIndex);
      }
    }
  }
  return out;
}

/**
 * What to do with the peer's queued requests when we choke it (Fast negotiated): requests for
 * allowed-fast pieces are kept (BEP 6: SHOULD NOT reject them), every other one is rejected
 * (send a `reject` for each, after the `choke`). Without Fast, the queue is simply dropped.
 */
export function splitOnChoke<R extends BlockRef>(
  queued: Iterable<R>,
  allowedFast: ReadonlySet<number>,
): { keep: R[]; reject: R[] } {
  const keep: R[] = [];
  const reject: R[] = [];
  for (const r of queued) (allowedFast.has(r.index) ? keep : reject).push(r);
  return { keep, reject };
}

/**
 * A request arrived while we choke the peer (Fast negotiated): `"serve"` when its piece is in
 * the set we offered and the peer is still a starting peer (holds at most `k` pieces, BEP 6's
 * reference behaviour), else `"reject"`.
 */
export function answerWhileChoked(
  index: number,
  allowedFast: ReadonlySet<number>,
  peerHaveCount: number,
  k: number = ALLOWED_FAST_COUNT,
): "serve" | "reject" {
  return allowedFast.has(index) && peerHaveCount <= k ? "serve" : "reject";
}

/**
 * The pieces a peer said we may request while choked (its `allowed_fast` messages), bounded to
 * {@link MAX_ALLOWED_FAST_RECEIVED}. Suggestions (`suggest`) are kept the same way, most recent
 * last and bounded, as hints for the picker.
 */
export class FastState {
  /** Pieces we may request from the peer while it chokes us. */
  readonly allowedFromPeer = new Set<number>();
  /** Pieces the peer suggested, oldest first. */
  readonly suggested: number[] = [];

  /** Record an `allowed_fast`; returns `false` when ignored (set full or already there). */
  onAllowedFast(index: number): boolean {
    if (this.allowedFromPeer.has(index) || this.allowedFromPeer.size >= MAX_ALLOWED_FAST_RECEIVED) {
      return false;
    }
    this.allowedFromPeer.add(index);
    return true;
  }

  /** Record a `suggest`; the oldest suggestion goes when more than the cap are held. */
  onSuggest(index: number): void {
    const at = this.suggested.indexOf(index);
    if (at >= 0) this.suggested.splice(at, 1);
    this.suggested.push(index);
    if (this.suggested.length > MAX_ALLOWED_FAST_RECEIVED) this.suggested.shift();
  }

  /** Whether we may request a block of `index` while the peer chokes us. */
  mayRequestWhileChoked(index: number): boolean {
    return this.allowedFromPeer.has(index);
  }
}
