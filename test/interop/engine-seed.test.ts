/**
 * Tessera seeding to real leechers on loopback: libtorrent dials Tessera's port; aria2 finds
 * Tessera through the test tracker (Tessera does not announce yet: the tracker's peers callback
 * hands out its address). Every client is a fresh process; every result is compared byte for
 * byte with the source.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import {
  compareTrees,
  interopScope,
  startAria2Leecher,
  startLibtorrentLeecher,
  startTestTracker,
} from "./clients/index.js";
import { MIB, MID_LAYOUT, makeFixture, piecesSpanningFiles } from "./engine-fixtures.js";
import { assertNoPeerFaults, startTessera, type TesseraProcess } from "./tessera-cli.js";

const STARTUP_MS = 60_000;
const DOWNLOAD_MS = 90_000;

/** Stop a seeding tessera with SIGTERM: it must exit by itself, cleanly, in the grace period. */
async function stopSeeding(t: TesseraProcess): Promise<void> {
  await t.stop();
  const x = await t.exited(1_000);
  assert.equal(x.signal, null, `tessera did not exit by itself on SIGTERM (${t.log})`);
  assert.ok(x.code === 0 || x.code === 130, `tessera exited ${x.code} on SIGTERM (${t.log})`);
}

/** Tessera's progress events (one a second) count the upload up to `bytes`. */
function uploadedAtLeast(t: TesseraProcess, bytes: number) {
  return t.waitForEvent(
    `a progress event with uploaded >= ${bytes}`,
    (e) => e.event === "progress" && typeof e.uploaded === "number" && e.uploaded >= bytes,
    5_000,
  );
}

describe("tessera seeding → real leechers", { concurrency: 2 }, () => {
  it("tessera seed → libtorrent leecher (dials Tessera's port)", { timeout: 120_000 }, async () => {
    await using s = await interopScope("engine-seed-lt");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    assert.ok(piecesSpanningFiles(fx.meta) >= 2);
    const t = s.use(
      await startTessera(["seed", fx.torrent, fx.dataDir, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STARTUP_MS,
      }),
    );
    const seeding = await t.waitForEvent("seeding", (e) => e.event === "seeding");
    assert.equal(seeding.port, t.port);
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startLibtorrentLeecher({
        torrent: fx.torrent,
        saveDir,
        peers: [{ host: "127.0.0.1", port: t.port }],
        workDir: s.dir,
        timeoutMs: DOWNLOAD_MS,
      }),
    );
    const { seconds } = await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
    assert.ok((await leech.status()).downloaded >= fx.meta.length);
    assert.ok(
      t.events.some((e) => e.event === "peer-connected"),
      "libtorrent never connected",
    );
    await uploadedAtLeast(t, fx.meta.length);
    await stopSeeding(t);
    assertNoPeerFaults(t);
    process.stderr.write(
      `# tessera → libtorrent: ${fx.meta.length} bytes in ${seconds.toFixed(1)} s\n`,
    );
  });

  it("tessera download --seed → aria2 leecher (finds Tessera through the tracker)", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("engine-seed-aria2");
    let tesseraPort = 0;
    const tracker = s.use(
      await startTestTracker({
        peers: () => (tesseraPort > 0 ? [{ ip: "127.0.0.1", port: tesseraPort }] : []),
      }),
    );
    const fx = await makeFixture(s.dir, MID_LAYOUT, 256 * 1024, {
      trackers: [tracker.announceUrl],
    });
    // The data is all there: `download --seed` checks it, is done at once and seeds.
    const t = s.use(
      await startTessera(["download", fx.torrent, "-o", fx.dataDir, "--seed", "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STARTUP_MS,
      }),
    );
    await t.waitForEvent("seeding", (e) => e.event === "seeding");
    tesseraPort = t.port;
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startAria2Leecher({
        torrent: fx.torrent,
        saveDir,
        workDir: s.dir,
        timeoutMs: DOWNLOAD_MS,
      }),
    );
    const { seconds } = await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
    const announce = await tracker.waitForAnnounce((a) => a.port === leech.port);
    assert.equal(announce.infoHash, fx.infoHash);
    assert.ok(
      t.events.some((e) => e.event === "peer-connected"),
      "aria2 never connected",
    );
    await uploadedAtLeast(t, fx.meta.length);
    await stopSeeding(t);
    assertNoPeerFaults(t);
    process.stderr.write(`# tessera → aria2: ${fx.meta.length} bytes in ${seconds.toFixed(1)} s\n`);
  });
});
