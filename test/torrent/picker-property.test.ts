import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type BlockRef, PiecePicker } from "../../src/torrent/picker.js";
import { Bitfield } from "../../src/util/bitfield.js";
import { seeded } from "./helpers.js";

const BS = 4; // tiny blocks keep the swarm small

interface Scenario {
  seed: number;
  pieceCount: number;
  blocksPerPiece: number;
  short: number;
  initialRandom: number;
  endgameRequesters: number;
  scanBudget: number;
  candidates: number;
  peers: { kind: "seed" | "random" | "none"; density: number }[];
  skipped: number[];
  actions: [number, number, number][];
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  seed: fc.integer(),
  pieceCount: fc.integer({ min: 1, max: 40 }),
  blocksPerPiece: fc.integer({ min: 1, max: 4 }),
  short: fc.integer({ min: 0, max: 15 }),
  initialRandom: fc.integer({ min: 0, max: 4 }),
  endgameRequesters: fc.integer({ min: 1, max: 3 }),
  // Small budgets and lists put the candidate-list fallback under test too.
  scanBudget: fc.constantFrom(1, 2, 5, 128),
  candidates: fc.constantFrom(1, 2, 3, 32),
  peers: fc.array(
    fc.record({
      kind: fc.constantFrom("seed", "random", "random", "none"),
      density: fc.integer({ min: 5, max: 95 }).map((x) => x / 100),
    }),
    { minLength: 1, maxLength: 6 },
  ),
  skipped: fc.array(fc.nat(39), { maxLength: 8 }),
  actions: fc.array(fc.tuple(fc.nat(11), fc.nat(), fc.nat()), { maxLength: 250 }),
}) as fc.Arbitrary<Scenario>;

/** Drive a picker and a brute-force model side by side; assert they agree at every step. */
function simulate(c: Scenario): void {
  const pieceLength = c.blocksPerPiece * BS;
  const short = c.short % pieceLength;
  const totalLength = c.pieceCount * pieceLength - short;
  const rng = seeded(c.seed);
  const p = new PiecePicker({
    pieceCount: c.pieceCount,
    pieceLength,
    totalLength,
    blockSize: BS,
    random: seeded(c.seed ^ 0x5bd1e995),
    initialRandomPieces: c.initialRandom,
    endgameRequesters: c.endgameRequesters,
    scanBudget: c.scanBudget,
    candidates: c.candidates,
  });
  const n = c.pieceCount;
  const blocksOf = (piece: number) => p.blockCount(piece);
  const bpp = c.blocksPerPiece;
  const id = (piece: number, begin: number) => piece * bpp + begin / BS;

  // ---- model ----
  const prio = new Array<number>(n).fill(4);
  const haveM = new Set<number>();
  const peerBits = new Map<number, Set<number>>();
  const reqs = new Map<number, Set<number>>(); // block id -> requesters
  const recv = new Map<number, number>(); // block id -> sender
  const hashQ: number[] = [];
  const everReceived = new Set<number>();

  const randomBits = (density: number): Set<number> => {
    const s = new Set<number>();
    for (let i = 0; i < n; i++) if (rng() < density) s.add(i);
    return s;
  };
  const toBitfield = (s: Set<number>): Bitfield => {
    const b = new Bitfield(n);
    for (const i of s) b.set(i);
    return b;
  };
  const addPeer = (key: number, kind: "seed" | "random" | "none", density: number) => {
    if (kind === "seed") {
      peerBits.set(key, new Set(Array.from({ length: n }, (_, i) => i)));
      p.addPeer(key, "all");
    } else if (kind === "none") {
      peerBits.set(key, new Set());
      p.addPeer(key, "none");
    } else {
      const s = randomBits(density);
      peerBits.set(key, s);
      p.addPeer(key, toBitfield(s));
    }
  };
  const pieceHasState = (piece: number) => {
    for (let b = 0; b < blocksOf(piece); b++) {
      const k = piece * bpp + b;
      if (reqs.has(k) || recv.has(k)) return true;
    }
    return false;
  };
  const outstandingList = (): [number, number][] => {
    const out: [number, number][] = [];
    for (const [k, rs] of reqs) for (const r of rs) out.push([k, r]);
    return out;
  };
  const keys = () => [...peerBits.keys()];

  for (const s of c.skipped) {
    if (s < n) {
      p.setPriority(s, 0);
      prio[s] = 0;
    }
  }
  let nextKey = 0;
  for (const peer of c.peers) addPeer(nextKey++, peer.kind, peer.density);

  const checkPick = (key: number, out: BlockRef[]) => {
    for (const b of out) {
      const k = id(b.piece, b.begin);
      assert.ok(prio[b.piece]! > 0, `skipped piece ${b.piece} requested`);
      assert.ok(!haveM.has(b.piece), `had piece ${b.piece} requested`);
      assert.ok(!recv.has(k), `received block ${k} requested`);
      assert.ok(peerBits.get(key)!.has(b.piece), `peer ${key} lacks piece ${b.piece}`);
      assert.equal(b.length, Math.min(BS, p.pieceSize(b.piece) - b.begin));
      const rs = reqs.get(k) ?? new Set<number>();
      if (rs.size > 0) {
        assert.ok(p.inEndgame(), `block ${k} requested twice outside endgame`);
        assert.ok(!rs.has(key), `block ${k} requested twice from peer ${key}`);
        assert.ok(rs.size < c.endgameRequesters, `block ${k} over the endgame limit`);
      }
      rs.add(key);
      reqs.set(k, rs);
    }
  };
  const doPick = (key: number, max: number) => {
    const out: BlockRef[] = [];
    assert.equal(p.pick(key, max, out), out.length);
    assert.ok(out.length <= max);
    checkPick(key, out);
    if (out.length === max) return;
    // Fewer than asked: nothing else was pickable for this peer.
    const endgame = p.inEndgame();
    for (const piece of peerBits.get(key)!) {
      if (prio[piece] === 0 || haveM.has(piece)) continue;
      for (let b = 0; b < blocksOf(piece); b++) {
        const k = piece * bpp + b;
        if (recv.has(k)) continue;
        const rs = reqs.get(k);
        if (rs === undefined) assert.fail(`free block ${k} left unpicked for peer ${key}`);
        if (endgame && !rs.has(key) && rs.size < c.endgameRequesters) {
          assert.fail(`endgame block ${k} left unpicked for peer ${key}`);
        }
      }
    }
  };
  const deliver = (key: number, piece: number, begin: number) => {
    const k = id(piece, begin);
    const r = p.onBlock(key, piece, begin);
    if (haveM.has(piece) || recv.has(k)) {
      assert.equal(r.status, "duplicate");
      return;
    }
    if (prio[piece] === 0 && !pieceHasState(piece)) {
      assert.equal(r.status, "unexpected");
      return;
    }
    assert.equal(r.status, "new");
    const others = [...(reqs.get(k) ?? [])].filter((x) => x !== key).sort();
    assert.deepEqual([...(r.cancel ?? [])].sort(), others);
    reqs.delete(k);
    recv.set(k, key);
    everReceived.add(k);
    let all = true;
    for (let b = 0; b < blocksOf(piece); b++) if (!recv.has(piece * bpp + b)) all = false;
    assert.equal(r.pieceComplete, all);
    if (all) hashQ.push(piece);
  };
  const hash = (piece: number, ok: boolean) => {
    const senders = new Set<number>();
    for (let b = 0; b < blocksOf(piece); b++) {
      const k = piece * bpp + b;
      senders.add(recv.get(k)!);
      recv.delete(k);
      assert.ok(!reqs.has(k));
    }
    const r = p.onPieceHashed(piece, ok);
    if (ok) {
      assert.equal(r, undefined);
      haveM.add(piece);
    } else {
      assert.deepEqual([...r!.contributors].sort(), [...senders].sort());
    }
  };
  const check = () => {
    p.checkInvariants();
    for (let i = 0; i < n; i++) {
      let a = 0;
      for (const s of peerBits.values()) if (s.has(i)) a++;
      assert.equal(p.availability(i), a, `availability of piece ${i}`);
    }
    for (const [key, s] of peerBits) {
      let interesting = false;
      for (const i of s) if (prio[i]! > 0 && !haveM.has(i)) interesting = true;
      assert.equal(p.isInteresting(key), interesting, `interest in peer ${key}`);
    }
    let missing = 0;
    for (let i = 0; i < n; i++) if (prio[i]! > 0 && !haveM.has(i)) missing++;
    assert.equal(p.isComplete(), missing === 0);
  };

  for (const [op, x, y] of c.actions) {
    const ks = keys();
    switch (op) {
      case 0:
      case 1:
      case 2:
        if (ks.length > 0) doPick(ks[x % ks.length]!, 1 + (y % 8));
        break;
      case 3:
      case 4: {
        const out = outstandingList();
        if (out.length === 0) break;
        const [k, r] = out[x % out.length]!;
        deliver(r, Math.floor(k / bpp), (k % bpp) * BS);
        break;
      }
      case 5: {
        const out = outstandingList();
        if (out.length === 0) break;
        const [k, r] = out[x % out.length]!;
        const piece = Math.floor(k / bpp);
        if (y % 2 === 0) p.onRequestCancelled(r, piece, (k % bpp) * BS);
        else p.onRequestRejected(r, piece, (k % bpp) * BS);
        reqs.get(k)!.delete(r);
        if (reqs.get(k)!.size === 0) reqs.delete(k);
        break;
      }
      case 6:
        if (hashQ.length > 0) hash(hashQ.splice(x % hashQ.length, 1)[0]!, y % 4 !== 0);
        break;
      case 7:
        if (ks.length > 1 && y % 2 === 0) {
          const key = ks[x % ks.length]!;
          p.removePeer(key);
          peerBits.delete(key);
          for (const [k, rs] of reqs) {
            rs.delete(key);
            if (rs.size === 0) reqs.delete(k);
          }
        } else {
          addPeer(nextKey++, (["seed", "random", "none"] as const)[y % 3]!, rng());
        }
        break;
      case 8:
        if (ks.length > 0) {
          const key = ks[x % ks.length]!;
          const piece = y % n;
          p.peerHave(key, piece);
          peerBits.get(key)!.add(piece);
        }
        break;
      case 9: {
        // A block nobody asked this peer for (late after a cancel, or unsolicited).
        if (ks.length === 0) break;
        const piece = x % n;
        deliver(ks[y % ks.length]!, piece, (y % blocksOf(piece)) * BS);
        break;
      }
      case 10: {
        const piece = x % n;
        const pr = y % 8;
        p.setPriority(piece, pr);
        prio[piece] = pr;
        break;
      }
      case 11:
        if (ks.length > 0) {
          const key = ks[x % ks.length]!;
          p.releasePeerRequests(key);
          for (const [k, rs] of reqs) {
            rs.delete(key);
            if (rs.size === 0) reqs.delete(k);
          }
        }
        break;
    }
    check();
  }

  // Drain: a seed joins; every peer keeps picking, blocks arrive in random order, some requests
  // are cancelled and some pieces fail; everything wanted must end up received and verified.
  const seedKey = nextKey++;
  addPeer(seedKey, "seed", 1);
  for (let round = 0; round < 5000 && !p.isComplete(); round++) {
    // The leechers pick first; the seed only when they found nothing this round.
    const before = outstandingList().length;
    for (const key of keys()) if (key !== seedKey) doPick(key, 1 + Math.floor(rng() * 8));
    if (outstandingList().length === before) doPick(seedKey, 1 + Math.floor(rng() * 8));
    for (const [k, r] of outstandingList()) {
      if (!reqs.get(k)?.has(r)) continue;
      const u = rng();
      const piece = Math.floor(k / bpp);
      if (u < 0.5) deliver(r, piece, (k % bpp) * BS);
      else if (u < 0.6) {
        p.onRequestCancelled(r, piece, (k % bpp) * BS);
        reqs.get(k)!.delete(r);
        if (reqs.get(k)!.size === 0) reqs.delete(k);
      }
    }
    while (hashQ.length > 0) hash(hashQ.pop()!, rng() < 0.8);
    check();
  }
  assert.ok(p.isComplete(), "download did not complete");
  for (let i = 0; i < n; i++) {
    if (prio[i]! === 0) continue;
    assert.ok(haveM.has(i) && p.have.has(i), `wanted piece ${i} not had`);
    for (let b = 0; b < blocksOf(i); b++)
      assert.ok(everReceived.has(i * bpp + b), `block ${i}/${b} never received`);
  }
}

describe("PiecePicker property", () => {
  it("random swarms: blocks all arrive, no double requests outside endgame, availability exact", () => {
    fc.assert(fc.property(scenario, simulate), { numRuns: 300 });
  });
});
