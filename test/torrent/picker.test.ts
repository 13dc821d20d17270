import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type BlockRef, PickerError, PiecePicker, SCAN_BUDGET } from "../../src/torrent/picker.js";
import { piecePriorities } from "../../src/torrent/picker-files.js";
import { Bitfield } from "../../src/util/bitfield.js";
import { bits, range, seeded } from "./helpers.js";

const KIB = 1024;

/** One block per piece unless told otherwise; random mode off unless told otherwise. */
function picker(
  pieceCount: number,
  o: {
    blocks?: number;
    random?: () => number;
    initialRandomPieces?: number;
    endgameRequesters?: number;
  } = {},
): PiecePicker {
  const pieceLength = (o.blocks ?? 1) * 16 * KIB;
  return new PiecePicker({
    pieceCount,
    pieceLength,
    totalLength: pieceCount * pieceLength,
    random: o.random ?? seeded(1),
    initialRandomPieces: o.initialRandomPieces ?? 0,
    ...(o.endgameRequesters !== undefined ? { endgameRequesters: o.endgameRequesters } : {}),
  });
}

function pick(p: PiecePicker, key: number, max: number): BlockRef[] {
  const out: BlockRef[] = [];
  const n = p.pick(key, max, out);
  assert.equal(n, out.length);
  return out;
}

function pieces(blocks: BlockRef[]): number[] {
  return [...new Set(blocks.map((b) => b.piece))];
}

describe("PiecePicker geometry", () => {
  it("cuts pieces into 16 KiB blocks, the last block of the last piece shorter", () => {
    const p = new PiecePicker({
      pieceCount: 3,
      pieceLength: 32 * KIB,
      totalLength: 64 * KIB + 100,
      random: seeded(1),
    });
    assert.equal(p.blockCount(0), 2);
    assert.equal(p.blockCount(2), 1);
    assert.equal(p.pieceSize(2), 100);
    p.addPeer(1, "all");
    const out = pick(p, 1, 10);
    assert.equal(out.length, 5);
    const last = out.find((b) => b.piece === 2)!;
    assert.deepEqual(last, { piece: 2, begin: 0, length: 100 });
    for (const b of out.filter((b) => b.piece !== 2)) assert.equal(b.length, 16 * KIB);
    p.checkInvariants();
  });

  it("rejects inconsistent geometry and bad arguments with PickerError", () => {
    assert.throws(
      () => new PiecePicker({ pieceCount: 2, pieceLength: 10, totalLength: 30 }),
      PickerError,
    );
    assert.throws(
      () => new PiecePicker({ pieceCount: 1, pieceLength: 0, totalLength: 1 }),
      PickerError,
    );
    const p = picker(4);
    assert.throws(
      () => p.setPriority(4, 1),
      (e: unknown) => e instanceof PickerError && e.code === "PICKER_BAD_PIECE",
    );
    assert.throws(
      () => p.setPriority(0, 8),
      (e: unknown) => e instanceof PickerError && e.code === "PICKER_BAD_PRIORITY",
    );
    assert.throws(() => p.addPeer(1, new Bitfield(5)), PickerError);
    p.addPeer(1, "none");
    assert.throws(() => p.addPeer(1, "none"), PickerError);
    assert.throws(() => p.addPeer(-1, "none"), PickerError);
  });
});

describe("PiecePicker rarest first", () => {
  it("picks pieces in order of availability in a synthetic swarm", () => {
    const n = 40;
    const random = seeded(7);
    const p = picker(n, { random });
    // Piece i is held by (i % 5) + 1 of five leechers; a sixth peer has everything but piece 0
    // (so it is not a seed) and asks.
    for (let k = 0; k < 5; k++) {
      p.addPeer(
        k,
        bits(
          n,
          range(0, n).filter((i) => i % 5 >= k),
        ),
      );
    }
    p.addPeer(99, bits(n, range(1, n)));
    const order: number[] = [];
    for (;;) {
      const got = pick(p, 99, 1);
      if (got.length === 0) break;
      order.push(got[0]!.piece);
    }
    assert.equal(order.length, n - 1);
    const avail = order.map((i) => p.availability(i));
    for (let i = 1; i < avail.length; i++)
      assert.ok(avail[i - 1]! <= avail[i]!, `availability order ${avail}`);
    p.checkInvariants();
  });

  it("seeds count toward availability and a seed is served rarest first too", () => {
    const n = 10;
    const p = picker(n);
    p.addPeer(1, "all");
    p.addPeer(
      2,
      bits(
        n,
        range(0, n).filter((i) => i !== 3),
      ),
    );
    p.addPeer(3, bits(n, [5]));
    assert.equal(p.availability(3), 1);
    assert.equal(p.availability(5), 3);
    assert.equal(p.seedCount, 1);
    // The seed is asked: piece 3 (only it has it) comes first, piece 5 (everyone) last.
    const order = pieces(pick(p, 1, n));
    assert.equal(order[0], 3);
    assert.equal(order[n - 1], 5);
  });

  it("a peer whose HAVEs complete its bitfield becomes a seed", () => {
    const n = 6;
    const p = picker(n);
    p.addPeer(1, bits(n, range(0, 5)));
    assert.equal(p.seedCount, 0);
    p.peerHave(1, 5);
    assert.equal(p.seedCount, 1);
    for (let i = 0; i < n; i++) assert.equal(p.availability(i), 1);
    p.checkInvariants();
  });

  it("a peer leaving reduces availability; HAVE from an unknown peer registers it", () => {
    const n = 8;
    const p = picker(n);
    p.addPeer(1, bits(n, [0, 1, 2]));
    p.addPeer(2, bits(n, [1, 2]));
    p.addPeer(3, "all");
    assert.deepEqual(
      range(0, 4).map((i) => p.availability(i)),
      [2, 3, 3, 1],
    );
    p.removePeer(2);
    assert.deepEqual(
      range(0, 4).map((i) => p.availability(i)),
      [2, 2, 2, 1],
    );
    p.removePeer(3);
    assert.deepEqual(
      range(0, 4).map((i) => p.availability(i)),
      [1, 1, 1, 0],
    );
    p.peerHave(9, 3);
    assert.equal(p.availability(3), 1);
    assert.ok(p.hasPeer(9));
    p.checkInvariants();
  });

  it("falls back to the peer's candidate list when its pieces are all common", () => {
    // 600 pieces: the first 400 are rare (only peer 1 has them), the last 200 common. Peer 2
    // has only common pieces, so a walk from the rarest end would pass 400 pieces it lacks.
    const n = 600;
    const p = picker(n, { random: seeded(3) });
    p.addPeer(1, bits(n, range(0, 400)));
    p.addPeer(2, bits(n, range(400, 600)));
    p.addPeer(3, bits(n, range(400, 600)));
    // Among the common ones, pieces 400..449 are a bit rarer (peer 4 lacks them).
    p.addPeer(4, bits(n, range(450, 600)));
    assert.ok(400 > SCAN_BUDGET);
    const got: number[] = [];
    for (let i = 0; i < 60; i++) got.push(pick(p, 2, 1)[0]!.piece);
    // The first 50 are exactly the rarer common pieces, then the others.
    assert.deepEqual(
      got.slice(0, 50).sort((a, b) => a - b),
      range(400, 450),
    );
    for (const x of got.slice(50)) assert.ok(x >= 450);
    p.checkInvariants();
  });
});

describe("PiecePicker partial pieces", () => {
  it("finishes a started piece before starting a new one, even for another peer", () => {
    const n = 6;
    const p = picker(n, { blocks: 4 });
    p.addPeer(1, "all");
    p.addPeer(2, "all");
    const a = pick(p, 1, 2);
    assert.equal(pieces(a).length, 1);
    const started = a[0]!.piece;
    const b = pick(p, 2, 3);
    // Peer 2 takes the two remaining blocks of the started piece, then one of a new piece.
    assert.deepEqual(
      b.slice(0, 2).map((x) => [x.piece, x.begin]),
      [
        [started, 32 * KIB],
        [started, 48 * KIB],
      ],
    );
    assert.notEqual(b[2]!.piece, started);
    assert.equal(p.openPartialCount, 1);
    p.checkInvariants();
  });

  it("a peer continues its own piece first", () => {
    const n = 6;
    const p = picker(n, { blocks: 4 });
    p.addPeer(1, "all");
    p.addPeer(2, "all");
    const a1 = pick(p, 1, 1)[0]!.piece;
    const b1 = pick(p, 2, 4).map((x) => x.piece);
    // Peer 2 first finished peer 1's piece, then started its own (one block left open).
    assert.deepEqual(b1.slice(0, 3), [a1, a1, a1]);
    const b1own = b1[3]!;
    assert.notEqual(b1own, a1);
    pick(p, 1, 1); // peer 1 starts another piece since its own is fully requested ...
    // ... but peer 2 then continues the piece it started, not peer 1's new one.
    assert.equal(pick(p, 2, 1)[0]!.piece, b1own);
    p.checkInvariants();
  });

  it("a partial piece the peer lacks is not offered to it", () => {
    const n = 4;
    const p = picker(n, { blocks: 2 });
    p.addPeer(1, bits(n, [0]));
    p.addPeer(2, bits(n, [1]));
    assert.deepEqual(pick(p, 1, 1)[0], { piece: 0, begin: 0, length: 16 * KIB });
    assert.equal(pick(p, 2, 1)[0]!.piece, 1);
  });

  it("a peer with nothing to offer is offered a piece as soon as it announces one", () => {
    const p = picker(4, { blocks: 2 });
    p.addPeer(1, bits(4, [0, 1, 2]));
    p.addPeer(2, bits(4, [0]));
    assert.equal(pick(p, 1, 6).length, 6);
    // Peer 2's only piece is fully requested from peer 1; piece 3 is nowhere: no endgame.
    assert.ok(!p.inEndgame());
    assert.equal(pick(p, 2, 4).length, 0);
    p.peerHave(2, 3);
    assert.deepEqual(pieces(pick(p, 2, 2)), [3]);
    p.checkInvariants();
  });

  it("keeps lower-priority candidates of a peer while a partial piece outranks them", () => {
    // Pieces 0..3 are a, b, c, d; b has priority 1, c priority 7, the rest 4.
    const p = picker(8, { blocks: 2 });
    p.setPriority(1, 1);
    p.setPriority(2, 7);
    p.addPeer(1, "all");
    p.addPeer(2, "none");
    p.onBlock(1, 3, 0); // d started (unsolicited block), its second block free
    p.peerHave(2, 3);
    assert.deepEqual(
      pick(p, 2, 5).map((b) => [b.piece, b.begin]),
      [[3, 16 * KIB]],
    );
    p.onRequestCancelled(2, 3, 16 * KIB); // d has a free block again
    for (const i of [0, 1, 2]) p.peerHave(2, i);
    p.onBlock(1, 0, 0); // a started elsewhere: no longer fresh
    assert.deepEqual(pieces(pick(p, 2, 1)), [2]); // c outranks the partial d
    // b (priority 1) waited behind the partials and is picked once they are done.
    assert.deepEqual(pieces(pick(p, 2, 10)), [2, 3, 0, 1]);
    p.checkInvariants();
  });

  it("allowNewPieces: false only continues started pieces", () => {
    const p = picker(4, { blocks: 2 });
    p.addPeer(1, "all");
    p.addPeer(2, "all");
    pick(p, 1, 1);
    const out: BlockRef[] = [];
    assert.equal(p.pick(2, 5, out, { allowNewPieces: false }), 1);
    assert.equal(p.pick(2, 5, out, { allowNewPieces: false }), 0);
  });

  it("maxNewPieces bounds the pieces one pick starts", () => {
    const p = picker(8, { blocks: 2 });
    p.addPeer(1, "all");
    const out: BlockRef[] = [];
    assert.equal(p.pick(1, 100, out, { maxNewPieces: 3 }), 6);
    assert.equal(new Set(out.map((b) => b.piece)).size, 3);
    assert.equal(p.downloadingCount, 3);
    assert.equal(p.pick(1, 100, out, { maxNewPieces: 0 }), 0);
    assert.equal(p.pick(1, 100, out, { maxNewPieces: 2 }), 4);
    assert.equal(p.downloadingCount, 5);
    p.checkInvariants();
  });
});

describe("PiecePicker next in line", () => {
  it("breaks rarest-first ties with the piece after the peer's last one", () => {
    const p = picker(64);
    p.addPeer(1, "all");
    const got = pieces(pick(p, 1, 20));
    // Random start, then consecutive pieces (wrapping to a random one past the end).
    let runs = 1;
    for (let i = 1; i < got.length; i++) if (got[i] !== got[i - 1]! + 1) runs++;
    assert.ok(runs <= 2, `picked ${got.join(",")}`);
    p.checkInvariants();
  });

  it("never takes the next piece over a rarer one", () => {
    const p = picker(8);
    p.addPeer(1, "all");
    p.addPeer(2, bits(8, [0, 1, 2, 3, 4, 6, 7]));
    p.addPeer(3, bits(8, [0, 1, 3, 4, 6, 7]));
    // Piece 5: only the seed has it; piece 2: one peer; the rest: two.
    assert.deepEqual(pieces(pick(p, 1, 1)), [5]);
    assert.deepEqual(pieces(pick(p, 1, 1)), [2]); // not 6, which is less rare
    assert.deepEqual(pieces(pick(p, 1, 1)), [3]); // a tie: next in line
    assert.deepEqual(pieces(pick(p, 1, 1)), [4]);
    p.checkInvariants();
  });
});

describe("PiecePicker random first pieces", () => {
  it("picks random pieces until it has four, rarest first after", () => {
    const n = 64;
    const firsts = new Set<number>();
    for (let seed = 1; seed <= 12; seed++) {
      const p = picker(n, { random: seeded(seed), initialRandomPieces: 4 });
      // Piece 0 is the unique rarest; everything else is common.
      p.addPeer(
        1,
        bits(
          n,
          range(0, n).filter((i) => i !== 63),
        ),
      );
      p.addPeer(2, bits(n, range(1, n)));
      const first = pick(p, 1, 1)[0]!.piece;
      firsts.add(first);
      assert.ok(p.availability(first) > 0);
      for (const i of [10, 11, 12, 13]) {
        if (i !== first) p.setHave(i);
      }
      if (p.have.count < 4) p.setHave(14);
      // Now rarest first: piece 0 unless it was the random first pick.
      const next = pick(p, 1, 1)[0]!.piece;
      if (first !== 0) assert.equal(next, 0);
    }
    // Different seeds, different first pieces: not rarest first.
    assert.ok(firsts.size >= 6, `first picks ${[...firsts]}`);
  });

  it("the same seed gives the same picks", () => {
    const run = () => {
      const p = picker(100, { random: seeded(42), initialRandomPieces: 4 });
      p.addPeer(1, "all");
      return pick(p, 1, 4).map((b) => b.piece);
    };
    assert.deepEqual(run(), run());
  });
});

describe("PiecePicker priorities", () => {
  it("never requests skipped pieces, and picks higher priorities first", () => {
    const n = 12;
    const p = picker(n);
    for (const i of [0, 1, 2, 3]) p.setPriority(i, 0);
    for (const i of [10, 11]) p.setPriority(i, 7);
    p.setPriority(9, 1);
    p.addPeer(1, "all");
    const order = pieces(pick(p, 1, 100));
    assert.deepEqual(order.slice(0, 2).sort(), [10, 11]);
    assert.equal(order[order.length - 1], 9);
    for (const i of [0, 1, 2, 3]) assert.ok(!order.includes(i));
    assert.equal(order.length, 8);
    p.checkInvariants();
  });

  it("maps file priorities to pieces; edge pieces of a skipped file are kept when shared", () => {
    // Pieces of 100 bytes; file A (0..250) skipped, file B (250..420) wanted, C (420..600) skipped.
    const prios = piecePriorities(
      [
        { offset: 0, length: 250, priority: 0 },
        { offset: 250, length: 170, priority: 4 },
        { offset: 420, length: 0, priority: 7 },
        { offset: 420, length: 180, priority: 0 },
      ],
      100,
      6,
    );
    assert.deepEqual([...prios], [0, 0, 4, 4, 4, 0]);
    const p = new PiecePicker({
      pieceCount: 6,
      pieceLength: 100,
      totalLength: 600,
      random: seeded(1),
    });
    p.setPriorities(prios);
    p.addPeer(1, "all");
    assert.deepEqual(pieces(pick(p, 1, 10)).sort(), [2, 3, 4]);
    assert.equal(p.onBlock(1, 0, 0).status, "unexpected");
    assert.equal(p.missingCount, 3);
  });

  it("interest follows what we still need", () => {
    const n = 4;
    const p = picker(n);
    p.addPeer(1, bits(n, [0]));
    p.addPeer(2, "all");
    p.addPeer(3, "none");
    assert.ok(p.isInteresting(1));
    assert.ok(p.isInteresting(2));
    assert.ok(!p.isInteresting(3));
    p.setPriority(0, 0);
    assert.ok(!p.isInteresting(1));
    p.setWanted(0, true);
    assert.equal(p.priority(0), 4);
    assert.ok(p.isInteresting(1));
    p.setHave(0);
    assert.ok(!p.isInteresting(1));
    p.peerHave(3, 2);
    assert.ok(p.isInteresting(3));
    for (const i of [1, 2, 3]) p.setHave(i);
    assert.ok(p.isComplete());
    assert.ok(!p.isInteresting(2));
    assert.equal(pick(p, 2, 10).length, 0);
    p.checkInvariants();
  });
});

describe("PiecePicker cancels, rejects and timeouts", () => {
  it("a cancelled, rejected or timed-out block is picked again", () => {
    const p = picker(1, { blocks: 4 });
    p.addPeer(1, "all");
    p.addPeer(2, "all");
    const a = pick(p, 1, 4);
    assert.equal(a.length, 4);
    assert.equal(pick(p, 2, 4).length, 4, "endgame: duplicates");
    p.onRequestCancelled(2, 0, 0);
    p.onRequestCancelled(2, 0, 16 * KIB);
    p.onRequestCancelled(2, 0, 32 * KIB);
    p.onRequestCancelled(2, 0, 48 * KIB);
    p.onRequestRejected(1, 0, 16 * KIB); // rejected
    p.onRequestCancelled(1, 0, 32 * KIB); // timed out
    assert.ok(!p.inEndgame());
    assert.deepEqual(
      pick(p, 2, 2).map((b) => b.begin),
      [16 * KIB, 32 * KIB],
    );
    assert.equal(p.outstanding(1), 2);
    assert.equal(p.outstanding(2), 2);
    p.checkInvariants();
  });

  it("a piece with nothing requested or received is fresh again", () => {
    const p = picker(3, { blocks: 2 });
    p.addPeer(1, "all");
    const a = pick(p, 1, 2);
    assert.equal(p.downloadingCount, 1);
    for (const b of a) p.onRequestCancelled(1, b.piece, b.begin);
    assert.equal(p.downloadingCount, 0);
    p.checkInvariants();
  });

  it("a peer that chokes us or leaves gives its requests back", () => {
    const p = picker(4, { blocks: 2 });
    p.addPeer(1, "all");
    p.addPeer(2, bits(4, [0, 1, 2]));
    pick(p, 1, 3);
    assert.equal(p.releasePeerRequests(1), 3);
    assert.equal(p.outstanding(1), 0);
    assert.equal(p.downloadingCount, 0);
    const b = pick(p, 2, 4);
    assert.equal(b.length, 4);
    p.removePeer(2);
    assert.equal(p.downloadingCount, 0);
    assert.equal(pick(p, 1, 8).length, 8);
    p.checkInvariants();
  });

  it("a late block after a cancel is still accepted", () => {
    const p = picker(2, { blocks: 2 });
    p.addPeer(1, "all");
    const [b] = pick(p, 1, 1);
    p.onRequestCancelled(1, b!.piece, b!.begin);
    const r = p.onBlock(1, b!.piece, b!.begin);
    assert.equal(r.status, "new");
    assert.equal(r.pieceComplete, false);
    assert.equal(p.onBlock(1, b!.piece, b!.begin).status, "duplicate");
    assert.equal(p.onBlock(1, b!.piece, 5).status, "unexpected");
    assert.equal(p.onBlock(1, b!.piece, 32 * KIB).status, "unexpected");
    assert.equal(p.onBlock(1, 7, 0).status, "unexpected");
    p.checkInvariants();
  });
});

describe("PiecePicker endgame", () => {
  it("requests each missing block from a second peer and names whom to cancel", () => {
    const p = picker(2, { blocks: 2 });
    for (const k of [1, 2, 3]) p.addPeer(k, "all");
    assert.equal(pick(p, 1, 3).length, 3);
    assert.ok(!p.inEndgame());
    // Peer 2 takes the last free block; now everything is requested.
    const last = pick(p, 2, 1);
    assert.equal(last.length, 1);
    assert.ok(p.inEndgame());
    // More from peer 2: the three blocks peer 1 has, not the one it already has.
    const dup = pick(p, 2, 10);
    assert.equal(dup.length, 3);
    for (const b of dup) assert.ok(p.isRequested(1, b.piece, b.begin));
    // Each block but the last is now out to two peers: peer 3 may only double the last one.
    const third = pick(p, 3, 10);
    assert.deepEqual(third, last);
    // A block arrives from peer 2: cancel peer 1's request.
    const b0 = dup[0]!;
    const r = p.onBlock(2, b0.piece, b0.begin);
    assert.equal(r.status, "new");
    assert.deepEqual(r.cancel, [1]);
    assert.ok(!p.isRequested(1, b0.piece, b0.begin));
    assert.equal(p.outstanding(1), 2);
    assert.equal(p.onBlock(1, b0.piece, b0.begin).status, "duplicate");
    p.checkInvariants();
    // Peer 2 leaves: its duplicate requests vanish, peer 1 still has the blocks requested.
    p.removePeer(2);
    p.checkInvariants();
    assert.ok(p.inEndgame());
    // Peer 3 can now double the two blocks only peer 1 has.
    assert.deepEqual(pick(p, 3, 10), dup.slice(1));
    p.checkInvariants();
  });

  it("endgameRequesters raises the duplicate limit", () => {
    const p = picker(1, { blocks: 1, endgameRequesters: 3 });
    for (const k of [1, 2, 3, 4]) p.addPeer(k, "all");
    assert.equal(pick(p, 1, 1).length, 1);
    assert.equal(pick(p, 2, 1).length, 1);
    assert.equal(pick(p, 3, 1).length, 1);
    assert.equal(pick(p, 4, 1).length, 0);
    const r = p.onBlock(3, 0, 0);
    assert.deepEqual([...(r.cancel ?? [])].sort(), [1, 2]);
    assert.equal(r.pieceComplete, true);
    p.checkInvariants();
  });
});

describe("PiecePicker hashing", () => {
  it("hash failure resets the piece and reports the senders of its blocks", () => {
    const p = picker(2, { blocks: 3 });
    p.addPeer(1, "all");
    p.addPeer(2, "all");
    const a = pick(p, 1, 2);
    const piece = a[0]!.piece;
    const b = pick(p, 2, 1);
    assert.equal(b[0]!.piece, piece);
    assert.equal(p.onBlock(1, piece, 0).pieceComplete, false);
    assert.equal(p.onBlock(2, piece, 32 * KIB).pieceComplete, false);
    assert.equal(p.onBlock(1, piece, 16 * KIB).pieceComplete, true);
    assert.ok(p.pieceBlocksComplete(piece));
    assert.deepEqual([...p.blockSenders(piece)!], [1, 1, 2]);
    const fail = p.onPieceHashed(piece, false)!;
    assert.deepEqual(fail.contributors.sort(), [1, 2]);
    assert.deepEqual([...fail.blockSenders], [1, 1, 2]);
    assert.ok(!p.pieceBlocksComplete(piece));
    assert.ok(!p.have.has(piece));
    p.checkInvariants();
    // Picked again (both pieces are fresh now and equally rare).
    const again = pieces(pick(p, 1, 6));
    assert.ok(again.includes(piece));
    for (let i = 0; i < 3; i++) p.onBlock(1, piece, i * 16 * KIB);
    assert.equal(p.onPieceHashed(piece, true), undefined);
    assert.ok(p.have.has(piece));
    assert.equal(p.onBlock(2, piece, 0).status, "duplicate");
    p.checkInvariants();
  });

  it("is complete once every wanted piece passes", () => {
    const p = picker(3, { blocks: 1 });
    p.setPriority(1, 0);
    p.addPeer(1, "all");
    for (const b of pick(p, 1, 10)) {
      assert.equal(p.onBlock(1, b.piece, b.begin).pieceComplete, true);
      p.onPieceHashed(b.piece, true);
    }
    assert.ok(p.isComplete());
    assert.ok(!p.have.has(1));
    assert.ok(!p.inEndgame());
  });
});
