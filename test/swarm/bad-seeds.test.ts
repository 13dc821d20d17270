/**
 * Attackers posing as seeds next to a real one: one hangs up in the middle of a piece, others
 * send corrupt blocks. The download must complete with the right bytes either way, and a peer
 * that sent bad data must be banned (smart ban / sole contributor, src/torrent/smart-ban.ts).
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import type { Session } from "../../src/session/session.js";
import { encodePieceHeader } from "../../src/wire/index.js";
import {
  AttackerServer,
  actAsSeed,
  addressOf,
  BLOCK,
  closeAll,
  type FakeSeedStats,
  type Fixture,
  failOnBan,
  KIB,
  LOCALHOST,
  MIB,
  makeFixture,
  nextEvent,
  recordEvents,
  startSessions,
  withTimeout,
} from "./helpers.js";

describe("swarm: bad seeds", { timeout: 120_000 }, () => {
  let f: Fixture;
  let sessions: Session[] = [];
  let attacker: AttackerServer | undefined;

  before(async () => {
    f = await makeFixture(16 * MIB, 256 * KIB);
  });
  afterEach(async () => {
    await attacker?.close();
    attacker = undefined;
    await closeAll(sessions);
    sessions = [];
  });
  after(async () => {
    await f?.cleanup();
  });

  /** A real seed and an empty leecher session. */
  async function seedAndLeecher(): Promise<[Session, Session]> {
    sessions = await startSessions(2);
    const [seed, leecher] = sessions as [Session, Session];
    const t = await seed.add(f.meta, { downloadDir: f.seedDir });
    assert.equal(t.state, "seeding");
    return [seed, leecher];
  }

  /** The blocks served per piece. */
  function perPiece(rs: readonly { index: number }[]): Map<number, number> {
    const m = new Map<number, number>();
    for (const r of rs) m.set(r.index, (m.get(r.index) ?? 0) + 1);
    return m;
  }

  it("a seed that hangs up mid-piece: the download completes from the real seed", async () => {
    const [seed, leecherSession] = await seedAndLeecher();
    const SERVED = 6;
    let stats: FakeSeedStats | undefined;
    attacker = await AttackerServer.listen("127.0.0.2", f.meta.infoHash, (p) => {
      stats = actAsSeed(p, f, (r, n) => {
        // The real seed joins as soon as the attacker is asked for something.
        if (n === 0) leecherSession.get(f.meta.infoHashHex)?.addPeers([addressOf(seed)]);
        if (n < SERVED) return "serve";
        // Hang up in the middle of a piece message: header and half the block, then close.
        const start = r.index * f.meta.pieceLength + r.begin;
        p.send(
          encodePieceHeader(r.index, r.begin, r.length),
          f.data.subarray(start, start + r.length / 2),
        );
        p.socket.end();
        return "ignore";
      });
    });
    const downloadDir = await f.newDir("leecher-hangup");
    const t = await leecherSession.add(f.meta, { downloadDir, peers: [attacker.address] });
    const log = recordEvents(t);
    const gone = nextEvent(t, "peer-disconnected", (a) => a === attacker?.display);

    await withTimeout(t.done, "download next to a peer that hangs up");
    const [, reason] = await gone;
    assert.ok(stats, "the attacker was never dialled");
    assert.equal(stats.served.length, SERVED);
    assert.ok(stats.requests.length > SERVED, "the attacker never got the request it hangs up on");
    // Mid-piece: some piece got some but not all of its blocks from the attacker.
    const blocksPerPiece = f.meta.pieceLength / BLOCK;
    assert.ok(
      [...perPiece(stats.served).values()].some((n) => n > 0 && n < blocksPerPiece),
      `served ${JSON.stringify(stats.served)}`,
    );
    assert.match(reason, /connection (closed|reset)/);
    assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");
    assert.deepEqual(
      log.filter((e) => e.name === "hash-failed" || e.name === "peer-banned"),
      [],
      "correct data must not fail or get anyone banned",
    );
  });

  it("a seed whose every piece fails alone is banned at once (sole contributor)", async () => {
    const [seed, leecherSession] = await seedAndLeecher();
    let stats: FakeSeedStats | undefined;
    attacker = await AttackerServer.listen("127.0.0.3", f.meta.infoHash, (p) => {
      // Correct data except the first block of every piece.
      stats = actAsSeed(p, f, (r) => (r.begin === 0 ? "corrupt" : "serve"));
    });
    const downloadDir = await f.newDir("leecher-sole");
    // The attacker alone first, so the first piece it completes is all its own.
    const t = await leecherSession.add(f.meta, { downloadDir, peers: [attacker.address] });
    const log = recordEvents(t);
    const [bannedAddress, why] = await nextEvent(t, "peer-banned");
    assert.equal(bannedAddress, attacker.display);
    assert.match(why, /failed its hash/);
    assert.ok(stats && stats.corrupted.length > 0);
    const failed = log.filter((e) => e.name === "hash-failed").map((e) => e.args[0]);
    assert.equal(failed.length, 1, "banned on the first failed piece");
    assert.equal(log.filter((e) => e.name === "piece").length, 0);

    // The real seed arrives; the banned attacker is never let back in.
    t.addPeers([addressOf(seed), attacker.address]);
    await withTimeout(t.done, "download from the real seed after the ban");
    assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");
    assert.equal(attacker.peers.length, 1, "a banned peer was dialled again");
    assert.deepEqual(
      log.filter((e) => e.name === "peer-banned").map((e) => e.args[0]),
      [attacker.display],
    );
  });

  it("a seed sending corrupt blocks beside a good seed is banned; the data is right", async (tc) => {
    const [seed, leecherSession] = await seedAndLeecher();
    let stats: FakeSeedStats | undefined;
    attacker = await AttackerServer.listen("127.0.0.4", f.meta.infoHash, (p) => {
      // Correct data except the fourth block of every even piece.
      stats = actAsSeed(p, f, (r) =>
        r.index % 2 === 0 && r.begin === 3 * BLOCK ? "corrupt" : "serve",
      );
    });
    const downloadDir = await f.newDir("leecher-corrupt");
    const t = await leecherSession.add(f.meta, {
      downloadDir,
      peers: [attacker.address, addressOf(seed)],
    });
    const log = recordEvents(t);
    const banned = nextEvent(t, "peer-banned", (a) => a === attacker?.display);
    await Promise.race([
      withTimeout(t.done, "download beside a corrupting peer"),
      failOnBan(t, LOCALHOST, "the honest seed"),
    ]);
    assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");
    assert.ok(stats && stats.corrupted.length > 0, "the attacker sent no corrupt block");
    const [, why] = await banned;
    const failed = log.filter((e) => e.name === "hash-failed").length;
    tc.diagnostic(`${stats.corrupted.length} corrupt blocks sent, ${failed} pieces failed; ${why}`);
    assert.ok(failed > 0);
    assert.match(why, /smart ban|failed its hash/);
    const bannedAddresses = log.filter((e) => e.name === "peer-banned").map((e) => e.args[0]);
    assert.deepEqual(bannedAddresses, [attacker.display], "only the attacker is banned");
  });

  /*
   * Regression: the hash-failure strike rule once banned honest peers. Every contributor of a
   * failed piece got a strike that was never forgiven, so an honest seed that shared three failed
   * pieces with corrupting peers was banned and the download stalled. Now a failure explained by
   * a convicted peer strikes no one else, and each passed piece takes a strike back. The two tests
   * below make pieces mixed (slow attackers, whose pieces the fast seed finishes).
   */

  it("a slow seed mixing corrupt blocks into pieces the good seed finishes is banned, not the seed", async (tc) => {
    const [seed, leecherSession] = await seedAndLeecher();
    let stats: FakeSeedStats | undefined;
    attacker = await AttackerServer.listen("127.0.0.5", f.meta.infoHash, (p) => {
      // Corrupts the first block of every piece, a block per 10 ms: the seed fills in the rest.
      stats = actAsSeed(p, f, (r) => (r.begin === 0 ? "corrupt" : "serve"), {
        blockDelayMs: 10,
      });
    });
    const downloadDir = await f.newDir("leecher-mixed");
    const t = await leecherSession.add(f.meta, {
      downloadDir,
      peers: [attacker.address, addressOf(seed)],
    });
    const log = recordEvents(t);
    const banned = nextEvent(t, "peer-banned", (a) => a === attacker?.display);
    await Promise.race([
      withTimeout(t.done, "download beside a slow corrupting peer"),
      failOnBan(t, LOCALHOST, "the honest seed"),
    ]);
    assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");
    assert.ok(stats && stats.corrupted.length > 0, "the attacker sent no corrupt block");
    const [, why] = await banned;
    tc.diagnostic(`${stats.corrupted.length} corrupt blocks sent; ${why}`);
    const bannedAddresses = log.filter((e) => e.name === "peer-banned").map((e) => e.args[0]);
    assert.deepEqual(bannedAddresses, [attacker.display], "only the attacker is banned");
  });

  it("three corrupting peers (one per address) beside a good seed never get the seed banned", async () => {
    const [seed, leecherSession] = await seedAndLeecher();
    const attackers: AttackerServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        attackers.push(
          await AttackerServer.listen(`127.0.0.${10 + i}`, f.meta.infoHash, (p) => {
            actAsSeed(p, f, (r) => (r.begin === 0 ? "corrupt" : "serve"), { blockDelayMs: 5 });
          }),
        );
      }
      const downloadDir = await f.newDir("leecher-sybil");
      const t = await leecherSession.add(f.meta, {
        downloadDir,
        peers: [...attackers.map((a) => a.address), addressOf(seed)],
      });
      const log = recordEvents(t);
      await Promise.race([
        withTimeout(t.done, "download beside three corrupting peers"),
        failOnBan(t, LOCALHOST, "the honest seed"),
      ]);
      assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");
      const attackerHosts = new Set(attackers.map((a) => a.host));
      for (const e of log.filter((x) => x.name === "peer-banned")) {
        const host = String(e.args[0]).split(":")[0]!;
        assert.ok(attackerHosts.has(host), `an honest peer was banned: ${e.args.join(": ")}`);
      }
    } finally {
      for (const a of attackers) await a.close();
    }
  });
});
