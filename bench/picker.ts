/**
 * PiecePicker cost: µs per pick() call and per block requested, 100k pieces and 50 peers.
 *
 *   node dist/bench/picker.js [--pieces N] [--peers N] [--picks N] [--blocks-per-pick N]
 *
 * Scenarios: a swarm of 10 seeds and 40 leechers with random bitfields of 10–90 % density;
 * a "skewed" swarm where half the leechers hold only the most common pieces (the case where a
 * rarest-first walk would pass many pieces the peer lacks); an all-seeds swarm. Only the pick()
 * calls are timed; delivering blocks, hashing and HAVEs between rounds are not.
 */
import { type BlockRef, PiecePicker } from "../src/torrent/picker.js";
import { Bitfield } from "../src/util/bitfield.js";

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
}
const pieces = arg("--pieces", 100_000);
const peerCount = arg("--peers", 50);
const totalPicks = arg("--picks", 200_000);
const perPick = arg("--blocks-per-pick", 8);
const pieceLength = 256 * 1024;

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Kind = "mixed" | "skewed" | "seeds";

function run(kind: Kind): void {
  const random = rng(1);
  const t0 = performance.now();
  const p = new PiecePicker({
    pieceCount: pieces,
    pieceLength,
    totalLength: pieces * pieceLength,
    random,
  });
  const peers: { key: number; bits: Bitfield | null }[] = [];
  for (let k = 0; k < peerCount; k++) {
    if (kind === "seeds" || k < 10) {
      p.addPeer(k, "all");
      peers.push({ key: k, bits: null });
      continue;
    }
    const b = new Bitfield(pieces);
    if (kind === "skewed" && k % 2 === 0) {
      // Only the last 30 % of the pieces, which every other leecher has too.
      for (let i = Math.floor(pieces * 0.7); i < pieces; i++) b.set(i);
    } else {
      const density = 0.1 + 0.8 * random();
      for (let i = 0; i < pieces; i++)
        if (random() < density || (kind === "skewed" && i >= pieces * 0.7)) b.set(i);
    }
    if (b.complete) b.clear(0);
    p.addPeer(k, b);
    peers.push({ key: k, bits: b });
  }
  const setup = performance.now() - t0;

  const out: BlockRef[] = [];
  let picked = 0;
  let calls = 0;
  let timed = 0;
  const maxDelta = { v: 0 };
  while (calls < totalPicks && !p.isComplete()) {
    out.length = 0;
    const s = performance.now();
    for (const peer of peers) {
      p.pick(peer.key, perPick, out);
      calls++;
    }
    const e = performance.now() - s;
    timed += e;
    if (e > maxDelta.v) maxDelta.v = e;
    picked += out.length;
    // Untimed: every block arrives; whole pieces pass their hash; leechers announce some pieces.
    for (const b of out) {
      const r = p.onBlock(peers[0]!.key, b.piece, b.begin);
      if (r.pieceComplete) p.onPieceHashed(b.piece, true);
    }
    for (let j = 0; j < 5; j++) {
      const peer = peers[10 + Math.floor(random() * (peerCount - 10))];
      if (peer?.bits && !peer.bits.complete) {
        const i = Math.floor(random() * pieces);
        if (peer.bits.set(i)) p.peerHave(peer.key, i);
      }
    }
  }
  console.log(
    `${kind.padEnd(6)} ${pieces} pieces, ${peerCount} peers: setup ${setup.toFixed(0)} ms; ` +
      `${calls} pick() calls, ${picked} blocks in ${timed.toFixed(0)} ms → ` +
      `${((timed * 1000) / calls).toFixed(2)} µs/call, ${((timed * 1000) / Math.max(1, picked)).toFixed(2)} µs/block; ` +
      `worst round (${peerCount} calls) ${maxDelta.v.toFixed(2)} ms; have ${p.have.count}`,
  );
}

for (const kind of ["mixed", "skewed", "seeds"] as const) run(kind);
