import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ChokeDecision,
  type ChokeMode,
  type ChokerPeer,
  chooseUnchokes,
  DEFAULT_REQQ,
  desiredQueue,
  isSnubbed,
  MIN_QUEUE,
} from "../../src/torrent/choker.js";

function peer(key: number, o: Partial<ChokerPeer> = {}): ChokerPeer {
  return {
    key,
    interested: true,
    choked: true,
    downloadRate: 0,
    uploadRate: 0,
    snubbed: false,
    isSeed: false,
    connectedAt: 0,
    ...o,
  };
}

/** Runs the choker every 10 s, applying its decisions to `peers`. */
class Sim {
  state: unknown;
  constructor(
    readonly peers: ChokerPeer[],
    readonly mode: ChokeMode,
    readonly slots = 4,
  ) {}

  run(now: number): ChokeDecision {
    const d = chooseUnchokes({
      peers: this.peers,
      mode: this.mode,
      slots: this.slots,
      now,
      state: this.state,
    });
    this.state = d.state;
    const set = new Set(d.unchoke);
    for (const p of this.peers) p.choked = !set.has(p.key);
    return d;
  }
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe("choker, leeching", () => {
  it("tit-for-tat unchokes the slots-1 peers that send fastest, plus one optimistic", () => {
    const peers = [10, 50, 20, 40, 30, 5].map((rate, i) => peer(i, { downloadRate: rate * 1000 }));
    const d = new Sim(peers, "leeching").run(0);
    assert.equal(d.unchoke.length, 4);
    assert.equal(d.optimistic.length, 1);
    const regular = d.unchoke.filter((k) => !d.optimistic.includes(k));
    assert.deepEqual(sorted(regular), [1, 3, 4]); // 50, 40, 30 kB/s
    assert.ok([0, 2, 5].includes(d.optimistic[0]!));
  });

  it("never unchokes an uninterested peer, and it takes no slot", () => {
    const peers = [
      peer(0, { interested: false, downloadRate: 1e6 }),
      peer(1, { downloadRate: 10 }),
      peer(2, { downloadRate: 20 }),
      peer(3, { interested: false }),
      peer(4, { isSeed: true, interested: false, downloadRate: 5e6 }),
    ];
    const d = new Sim(peers, "leeching").run(0);
    assert.deepEqual(sorted(d.unchoke), [1, 2]);
  });

  it("does not unchoke snubbed peers by tit-for-tat (they may still be optimistic)", () => {
    const peers = [
      peer(0, { downloadRate: 900, snubbed: true }),
      peer(1, { downloadRate: 100 }),
      peer(2, { downloadRate: 200 }),
    ];
    const sim = new Sim(peers, "leeching", 3);
    const d = sim.run(0);
    assert.deepEqual(sorted(d.unchoke.filter((k) => !d.optimistic.includes(k))), [1, 2]);
    assert.deepEqual(d.optimistic, [0]);
  });

  it("rotates the optimistic unchoke every 30 s, round-robin, new peers first", () => {
    // One regular slot (the fast peer 0) and one optimistic among peers 1..4.
    const peers = [
      peer(0, { downloadRate: 1e6 }),
      ...[1, 2, 3, 4].map((k) => peer(k, { connectedAt: -k })),
    ];
    const sim = new Sim(peers, "leeching", 2);
    const seen: number[] = [];
    let last = -1;
    for (let t = 0; t <= 110_000; t += 10_000) {
      const d = sim.run(t);
      assert.ok(d.unchoke.includes(0));
      assert.equal(d.optimistic.length, 1);
      const o = d.optimistic[0]!;
      if (t % 30_000 === 0) {
        assert.notEqual(o, last, `rotation at ${t}`);
        seen.push(o);
      } else {
        assert.equal(o, last, `kept between rotations at ${t}`);
      }
      last = o;
    }
    // Four rotations cover the four choked peers, newest connection first.
    assert.deepEqual(seen, [1, 2, 3, 4]);
    // A newly connected peer gets the next rotation.
    peers.push(peer(9, { connectedAt: 115_000 }));
    assert.equal(sim.run(120_000).optimistic[0], 9);
  });

  it("replaces an optimistic peer that lost interest before its 30 s are up", () => {
    const peers = [peer(0), peer(1), peer(2)];
    const sim = new Sim(peers, "leeching", 1);
    const o = sim.run(0).optimistic[0]!;
    peers[o]!.interested = false;
    const d = sim.run(10_000);
    assert.equal(d.optimistic.length, 1);
    assert.notEqual(d.optimistic[0], o);
  });

  it("honours the slot count", () => {
    const peers = Array.from({ length: 20 }, (_, i) => peer(i, { downloadRate: i }));
    assert.equal(new Sim(peers, "leeching", 8).run(0).unchoke.length, 8);
    const none = chooseUnchokes({ peers, mode: "leeching", now: 0, slots: 0 });
    assert.deepEqual(none.unchoke, []);
    const noOpt = chooseUnchokes({ peers, mode: "leeching", now: 0, slots: 3, optimisticSlots: 0 });
    assert.deepEqual(sorted(noOpt.unchoke), [17, 18, 19]);
  });
});

describe("choker, seeding", () => {
  it("unchokes the peers we upload to fastest, ignoring a choked peer's residual rate", () => {
    const peers = [
      peer(0, { choked: false, uploadRate: 100 }),
      peer(1, { choked: false, uploadRate: 300 }),
      peer(2, { choked: true, uploadRate: 1000 }),
      peer(3, { choked: false, uploadRate: 200 }),
      peer(4, { choked: true }),
    ];
    const d = chooseUnchokes({ peers, mode: "seeding", now: 0, slots: 4 });
    assert.deepEqual(sorted(d.unchoke.filter((k) => !d.optimistic.includes(k))), [0, 1, 3]);
  });

  it("rotates peers that have had their quota and a minute, so every peer gets served", () => {
    const n = 10;
    const rate = 1_000_000; // bytes/s to each unchoked peer
    const peers = Array.from({ length: n }, (_, i) => peer(i, { uploaded: 0 }));
    const sim = new Sim(peers, "seeding", 4);
    const served = new Set<number>();
    for (let t = 0; t <= 600_000; t += 10_000) {
      // Bytes flow to unchoked peers during the last 10 s.
      for (const p of peers) {
        p.uploadRate = p.choked ? 0 : rate;
        if (!p.choked) p.uploaded! += rate * 10;
      }
      const d = sim.run(t);
      assert.equal(d.unchoke.length, 4);
      for (const k of d.unchoke) served.add(k);
    }
    assert.equal(served.size, n);
  });

  it("keeps a fast peer that has not yet used up its quota", () => {
    const peers = [peer(0, { uploaded: 0 }), peer(1, { uploaded: 0 }), peer(2, { uploaded: 0 })];
    const sim = new Sim(peers, "seeding", 2);
    const first = sim.run(0);
    const regular = first.unchoke.find((k) => !first.optimistic.includes(k))!;
    // It receives little: no quota reached, so it keeps its slot round after round.
    for (let t = 10_000; t <= 120_000; t += 10_000) {
      peers[regular]!.uploadRate = 1000;
      peers[regular]!.uploaded! += 10_000;
      const d = sim.run(t);
      assert.ok(d.unchoke.includes(regular), `kept at ${t}`);
    }
  });
});

describe("request pipelining and snubbing", () => {
  it("is bandwidth × delay in blocks, floored and capped by reqq", () => {
    const bs = 16384;
    assert.equal(desiredQueue({ rateBytesPerSec: 0, rttMs: 50, blockSize: bs }), MIN_QUEUE);
    // 1 MB/s over the 3 s queue time: 183 blocks.
    assert.equal(
      desiredQueue({ rateBytesPerSec: 1e6, rttMs: 50, blockSize: bs }),
      Math.ceil(3e6 / bs),
    );
    assert.equal(desiredQueue({ rateBytesPerSec: 3e8, rttMs: 50, blockSize: bs }), DEFAULT_REQQ);
    assert.equal(desiredQueue({ rateBytesPerSec: 3e8, rttMs: 50, blockSize: bs, reqq: 100 }), 100);
    assert.equal(
      desiredQueue({ rateBytesPerSec: 3e8, rttMs: 50, blockSize: bs, reqq: 10_000 }),
      500,
    );
    // A long round trip beyond the queue time counts.
    assert.equal(
      desiredQueue({ rateBytesPerSec: 16384, rttMs: 10_000, blockSize: bs, queueTimeMs: 1000 }),
      10,
    );
    assert.equal(
      desiredQueue({ rateBytesPerSec: 1e6, rttMs: 50, blockSize: bs, snubbed: true }),
      1,
    );
    assert.equal(
      desiredQueue({ rateBytesPerSec: Number.NaN, rttMs: Number.NaN, blockSize: bs }),
      MIN_QUEUE,
    );
  });

  it("snubbed: requests out and no block for a minute", () => {
    assert.ok(!isSnubbed({ now: 100_000, outstanding: 0, lastBlockAt: 0, oldestRequestAt: 0 }));
    assert.ok(
      isSnubbed({ now: 100_000, outstanding: 3, lastBlockAt: 10_000, oldestRequestAt: 20_000 }),
    );
    assert.ok(
      !isSnubbed({ now: 100_000, outstanding: 3, lastBlockAt: 50_000, oldestRequestAt: 20_000 }),
    );
    // Idle for long, but asked only just now: not snubbed.
    assert.ok(
      !isSnubbed({ now: 100_000, outstanding: 3, lastBlockAt: undefined, oldestRequestAt: 90_000 }),
    );
  });
});
