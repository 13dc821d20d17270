import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Session } from "../../src/session/session.js";
import type { Torrent } from "../../src/torrent/torrent.js";
import {
  addressOf,
  closeAll,
  type Fixture,
  KIB,
  MIB,
  makeFixture,
  startSessions,
  WAIT_MS,
  withTimeout,
} from "./helpers.js";

const LEECHERS = 8;

describe("swarm: one seed, eight leechers", { timeout: 4 * WAIT_MS }, () => {
  let f: Fixture;
  let sessions: Session[] = [];

  before(async () => {
    f = await makeFixture(16 * MIB, 256 * KIB);
    sessions = await startSessions(1 + LEECHERS);
  });
  after(async () => {
    await closeAll(sessions);
    await f?.cleanup();
  });

  it("every leecher completes with the source bytes, trading pieces among themselves", async (tc) => {
    const [seedSession, ...leecherSessions] = sessions as [Session, ...Session[]];
    const seed = await seedSession.add(f.meta, { downloadDir: f.seedDir });
    assert.equal(seed.state, "seeding");

    const everyone = sessions.map(addressOf);
    const connected = new Map<Torrent, Set<string>>();
    const errors: Error[] = [];
    const dirs: string[] = [];
    const leechers: Torrent[] = [];
    const started = performance.now();
    for (const [i, s] of leecherSessions.entries()) {
      const downloadDir = await f.newDir(`leecher-${i}`);
      dirs.push(downloadDir);
      const peers = everyone.filter((a) => a.port !== s.port);
      const t = await s.add(f.meta, { downloadDir, peers });
      const seen = new Set<string>();
      connected.set(t, seen);
      t.on("peer-connected", (address, id) => seen.add(`${address} ${id}`));
      t.on("error", (e) => errors.push(e));
      leechers.push(t);
    }

    await withTimeout(
      Promise.all(leechers.map((t) => t.done)),
      "all eight leechers to complete",
      3 * WAIT_MS,
    );
    const elapsed = performance.now() - started;
    assert.deepEqual(errors, []);

    for (const [i, t] of leechers.entries()) {
      const got = await f.read(dirs[i]!);
      assert.equal(got.length, f.data.length, `leecher ${i}: length`);
      assert.ok(got.equals(f.data), `leecher ${i}: bytes differ from the source`);
      const st = t.stats();
      assert.equal(st.state, "seeding", `leecher ${i}: state`);
      assert.equal(st.piecesHave, f.meta.pieceCount, `leecher ${i}: pieces`);
      assert.ok(st.downloaded >= f.data.length, `leecher ${i}: downloaded ${st.downloaded}`);
      assert.ok(
        (connected.get(t)?.size ?? 0) > 1,
        `leecher ${i} connected to ${connected.get(t)?.size} peers only`,
      );
    }

    // Pieces came from several peers: leechers uploaded to each other, and the seed sent less
    // than one full copy per leecher.
    const uploads = leechers.map((t) => t.stats().uploaded);
    const uploaders = uploads.filter((u) => u > 0).length;
    const seedUploaded = seed.stats().uploaded;
    const leecherUploaded = uploads.reduce((a, b) => a + b, 0);
    const report = `seed uploaded ${(seedUploaded / MIB).toFixed(1)} MiB, leechers ${uploads
      .map((u) => (u / MIB).toFixed(1))
      .join(" ")} MiB, in ${(elapsed / 1000).toFixed(1)} s`;
    assert.ok(uploaders > 1, `only ${uploaders} leecher(s) uploaded: ${report}`);
    assert.ok(seedUploaded < LEECHERS * f.data.length, report);
    assert.ok(
      seedUploaded + leecherUploaded >= LEECHERS * f.data.length,
      `uploads do not add up: ${report}`,
    );
    tc.diagnostic(report);
  });
});
