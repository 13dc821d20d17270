import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { Session } from "../../src/session/session.js";
import { HASH_BATCH_BYTES, WRITE_RUN_BYTES } from "../../src/torrent/torrent.js";
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

/**
 * Downloads whose pieces take each path of the hash/write stage: small pieces hashed in batches
 * (several per worker round trip) and written as runs of neighbours, and pieces larger than
 * HASH_BATCH_BYTES hashed one per round trip and written in several calls of at most 1 MiB.
 */
describe("swarm: piece sizes", { timeout: 4 * WAIT_MS }, () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });

  for (const [label, size, pieceLength] of [
    ["16 KiB pieces (batched hashes, write runs)", 3 * MIB + 123, 16 * KIB],
    ["4 MiB pieces (one hash per round trip, split writes)", 10 * MIB + 4567, 4 * MIB],
  ] as const) {
    it(`${label}: the leecher gets the source bytes`, async () => {
      const f: Fixture = await makeFixture(size, pieceLength);
      const sessions: Session[] = await startSessions(2);
      cleanup.push(
        () => closeAll(sessions),
        () => f.cleanup(),
      );
      const [seedSession, leechSession] = sessions as [Session, Session];
      await seedSession.add(f.meta, { downloadDir: f.seedDir });
      const dir = await f.newDir("leecher");
      const t = await leechSession.add(f.meta, {
        downloadDir: dir,
        peers: [addressOf(seedSession)],
      });
      await withTimeout(t.done, `the download with ${label}`);
      const got = await f.read(dir);
      assert.ok(got.equals(f.data), "bytes differ from the source");
      assert.equal(t.stats().piecesHave, f.meta.pieceCount);
    });
  }

  it("the two paths are what the sizes above exercise", () => {
    assert.ok(16 * KIB < WRITE_RUN_BYTES && 16 * KIB < HASH_BATCH_BYTES);
    assert.ok(4 * MIB > HASH_BATCH_BYTES && 4 * MIB > WRITE_RUN_BYTES);
  });
});
