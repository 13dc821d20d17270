/**
 * Peers found through a real tracker alone (Debian's opentracker, HTTP and UDP; it is built
 * IPv4-only, so IPv6 runs against the in-process test tracker on ::1). No `--peer` anywhere:
 * every connection comes from an announce. Scrape counts are checked against what the swarm did.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { TESSERA_BIN } from "../cli/run.js";
import {
  compareTrees,
  freePort,
  interopScope,
  startLibtorrentLeecher,
  startLibtorrentSeed,
  startOpentracker,
  startTestTracker,
} from "./clients/index.js";
import { MIB, MID_LAYOUT, makeFixture } from "./engine-fixtures.js";
import {
  assertNoPeerFaults,
  startTessera,
  type TesseraEvent,
  tesseraDownload,
} from "./tessera-cli.js";

const STEP_MS = 60_000;

function trackerOk(url: string) {
  return (e: TesseraEvent) =>
    e.event === "tracker" && e.url === url && e.status === "working" && Number(e.peers) >= 1;
}

/** `tessera info --scrape --json` → its scrape rows. */
async function scrapeWithTessera(args: string[]) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [TESSERA_BIN, "info", "--scrape", "--json", ...args],
    { timeout: 30_000 },
  );
  return (JSON.parse(stdout) as { scrape: Record<string, unknown>[] }).scrape;
}

describe("trackers with real clients", { concurrency: 2 }, () => {
  it("libtorrent seed → opentracker (HTTP) → tessera downloads; scrape counts match", {
    timeout: 150_000,
  }, async () => {
    await using s = await interopScope("tracker-ot-http");
    const port = await freePort(["udp4"]);
    const url = `http://127.0.0.1:${port}/announce`;
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB, { trackers: [url] });
    s.use(await startOpentracker({ infoHashes: [fx.infoHash], port, workDir: s.dir }));
    const seed = s.use(
      await startLibtorrentSeed({ torrent: fx.torrent, dataDir: fx.dataDir, workDir: s.dir }),
    );
    await seed.waitForEvent(
      "libtorrent's announce",
      (e) => e.event === "tracker" && e.kind === "tracker_reply_alert",
      STEP_MS,
    );
    const out = path.join(s.dir, "out");
    const t = s.use(
      await startTessera(["download", fx.torrent, "-o", out, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    await tesseraDownload(t, STEP_MS);
    await compareTrees(fx.content, path.join(out, "content"));
    assert.ok(t.events.some(trackerOk(url)), "no successful announce with peers");
    assertNoPeerFaults(t);
    // Tessera said `completed` and then `stopped`: one seeder left (libtorrent), one download.
    const rows = await scrapeWithTessera([fx.torrent]);
    assert.deepEqual(rows, [{ url, seeders: 1, leechers: 0, completed: 1 }]);
  });

  it("UDP: tessera seed → opentracker (udp://) → libtorrent leecher; libtorrent seed → tessera", {
    timeout: 150_000,
  }, async () => {
    await using s = await interopScope("tracker-ot-udp");
    const port = await freePort(["udp4"]);
    const url = `udp://127.0.0.1:${port}/announce`;
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB, { trackers: [url] });
    s.use(await startOpentracker({ infoHashes: [fx.infoHash], port, workDir: s.dir }));
    // Tessera seeds; libtorrent learns of it only from the tracker.
    const seed = s.use(
      await startTessera(["seed", fx.torrent, fx.dataDir, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    await seed.waitForEvent(
      "announce to the UDP tracker",
      (e) => e.event === "tracker" && e.url === url && e.status === "working",
    );
    const saveDir = path.join(s.dir, "lt");
    const leech = s.use(
      await startLibtorrentLeecher({
        torrent: fx.torrent,
        saveDir,
        workDir: s.dir,
        timeoutMs: 90_000,
      }),
    );
    await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
    assertNoPeerFaults(seed);
    const rows = await scrapeWithTessera([fx.torrent]);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.url, url);
    assert.equal(rows[0]!.seeders, 2, JSON.stringify(rows));
    await seed.stop();
    // Now the other way: libtorrent (a seed by now) is found by a Tessera leecher over UDP.
    const out = path.join(s.dir, "out");
    const t = s.use(
      await startTessera(["download", fx.torrent, "-o", out, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    await tesseraDownload(t, STEP_MS);
    await compareTrees(fx.content, path.join(out, "content"));
    assert.ok(t.events.some(trackerOk(url)), "no successful UDP announce with peers");
    assertNoPeerFaults(t);
  });

  it("IPv6: a libtorrent seed on [::1] found through an HTTP tracker on [::1]", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("tracker-v6");
    const tracker = s.use(await startTestTracker({ host: "::1" }));
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB, { trackers: [tracker.announceUrl] });
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        workDir: s.dir,
        ipv6: "only",
      }),
    );
    await tracker.waitForAnnounce((a) => a.ip === "::1" && a.port === seed.port, STEP_MS);
    const out = path.join(s.dir, "out");
    const t = s.use(
      await startTessera(["download", fx.torrent, "-o", out, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    await tesseraDownload(t, STEP_MS);
    await compareTrees(fx.content, path.join(out, "content"));
    assert.ok(
      t.events.some((e) => e.event === "peer-connected" && String(e.address).includes("::1")),
      "no IPv6 peer connection",
    );
    const mine = tracker.announces.filter((a) => a.port === t.port);
    assert.deepEqual(
      mine.map((a) => a.event),
      ["started", "completed", "stopped"],
    );
    assert.equal(mine[1]!.left, 0);
  });
});
