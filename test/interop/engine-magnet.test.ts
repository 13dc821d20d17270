/**
 * Magnet links end to end with real clients (BEP 9 metadata both ways, BEP 10, PEX, Fast): the
 * metadata is fetched from libtorrent and from Transmission, served to a libtorrent leecher that
 * starts from a magnet, and a peer is found only through libtorrent's PEX. Bytes on disk are
 * compared with the source every time.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { parseTorrent } from "../../src/metainfo/index.js";
import { TESSERA_BIN } from "../cli/run.js";
import {
  compareTrees,
  interopScope,
  startLibtorrentLeecher,
  startLibtorrentSeed,
  startTransmissionSeed,
} from "./clients/index.js";
import { MIB, MID_LAYOUT, makeFixture } from "./engine-fixtures.js";
import {
  assertNoPeerFaults,
  startTessera,
  type TesseraEvent,
  tesseraDownload,
} from "./tessera-cli.js";

const STEP_MS = 60_000;

function magnetOf(infoHash: string, ...peers: number[]): string {
  return `magnet:?xt=urn:btih:${infoHash}&dn=content${peers.map((p) => `&x.pe=127.0.0.1:${p}`).join("")}`;
}

function metadataEvent(events: readonly TesseraEvent[]): TesseraEvent {
  const e = events.find((x) => x.event === "metadata");
  assert.ok(e, "no metadata event");
  return e;
}

describe("magnet links with real clients", { concurrency: 2 }, () => {
  it("metadata and content from a libtorrent seed (magnet with x.pe)", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("magnet-lt");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const seed = s.use(
      await startLibtorrentSeed({ torrent: fx.torrent, dataDir: fx.dataDir, workDir: s.dir }),
    );
    const out = path.join(s.dir, "out");
    const t = s.use(
      await startTessera(["download", magnetOf(fx.infoHash, seed.port), "-o", out, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    await tesseraDownload(t, STEP_MS);
    await compareTrees(fx.content, path.join(out, "content"));
    const m = metadataEvent(t.events);
    assert.equal(m.infoHash, fx.infoHash);
    // libtorrent negotiated the Fast extension and BEP 10 with us (its have_all and extension
    // handshake are what the metadata phase and the download ran on).
    const lt = t.events.filter(
      (e) => e.event === "peer-connected" && e.address === `127.0.0.1:${seed.port}`,
    );
    assert.ok(lt.length >= 1);
    for (const e of lt) assert.deepEqual(e.features, ["fast", "extended"]);
    assert.equal(m.pieces, fx.meta.pieceCount);
    assertNoPeerFaults(t);
    // `info --fetch` gets the same metadata and saves a .torrent with the same info-hash.
    const saved = path.join(s.dir, "fetched.torrent");
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [
        TESSERA_BIN,
        "info",
        `magnet:?xt=urn:btih:${fx.infoHash}`,
        "--fetch",
        "--peer",
        `127.0.0.1:${seed.port}`,
        "--save-torrent",
        saved,
        "--json",
      ],
      { timeout: 60_000 },
    );
    const info = JSON.parse(stdout) as { infoHash: string; files: { path: string }[] };
    assert.equal(info.infoHash, fx.infoHash);
    assert.deepEqual(
      info.files.map((f) => f.path),
      fx.meta.files.filter((f) => !f.padding).map((f) => f.path.join("/")),
    );
    assert.equal(parseTorrent(await readFile(saved)).infoHashHex, fx.infoHash);
  });

  it("metadata and content from a Transmission seed (bare info-hash and --peer)", {
    timeout: 150_000,
  }, async () => {
    await using s = await interopScope("magnet-tr");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const seed = s.use(
      await startTransmissionSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    const out = path.join(s.dir, "out");
    const t = s.use(
      await startTessera(
        ["download", fx.infoHash, "-o", out, "--peer", `127.0.0.1:${seed.port}`, "--port", "0"],
        { workDir: s.dir, timeoutMs: STEP_MS },
      ),
    );
    await tesseraDownload(t, 120_000);
    await compareTrees(fx.content, path.join(out, "content"));
    assert.equal(metadataEvent(t.events).infoHash, fx.infoHash);
    assertNoPeerFaults(t);
  });

  it("a libtorrent leecher starting from a magnet gets metadata and content from tessera", {
    timeout: 120_000,
  }, async () => {
    await using s = await interopScope("magnet-serve");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const t = s.use(
      await startTessera(["seed", fx.torrent, fx.dataDir, "--port", "0"], {
        workDir: s.dir,
        timeoutMs: STEP_MS,
      }),
    );
    await t.waitForEvent("seeding", (e) => e.event === "seeding");
    const saveDir = path.join(s.dir, "lt");
    const leech = s.use(
      await startLibtorrentLeecher({
        magnet: magnetOf(fx.infoHash),
        saveDir,
        peers: [{ host: "127.0.0.1", port: t.port }],
        workDir: s.dir,
        timeoutMs: 90_000,
      }),
    );
    await leech.waitForEvent("metadata from tessera", (e) => e.event === "metadata", STEP_MS);
    await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
    await t.stop();
    assertNoPeerFaults(t);
  });

  it("PEX: tessera learns of a seed only from a libtorrent peer's ut_pex", {
    timeout: 150_000,
  }, async () => {
    await using s = await interopScope("magnet-pex");
    const fx = await makeFixture(s.dir, MID_LAYOUT, MIB);
    const meta = parseTorrent(await readFile(fx.torrent));
    assert.equal(meta.infoHashHex, fx.infoHash);
    const seed = s.use(
      await startLibtorrentSeed({ torrent: fx.torrent, dataDir: fx.dataDir, workDir: s.dir }),
    );
    // A libtorrent leecher held to 100 kB/s stays connected to the seed (two upload-only peers
    // would part): the seed is the peer it can tell about.
    const middle = s.use(
      await startLibtorrentLeecher({
        torrent: fx.torrent,
        saveDir: path.join(s.dir, "middle"),
        peers: [{ host: "127.0.0.1", port: seed.port }],
        downloadLimit: 100_000,
        workDir: s.dir,
        timeoutMs: 140_000,
        name: "lt-middle",
      }),
    );
    await middle.waitForEvent(
      "the middle peer to connect to the seed",
      (e) => e.event === "status" && Number(e.peers) >= 1,
      STEP_MS,
    );
    const out = path.join(s.dir, "out");
    const t = s.use(
      await startTessera(
        // Plaintext dials first: the seed also hears of Tessera through PEX and dials it; an MSE
        // dial (one more round trip) loses that race, the seed's connection is kept and ours is
        // closed as a duplicate, so nothing would show that Tessera dialled what PEX told it.
        [
          "download",
          fx.torrent,
          "-o",
          out,
          "--peer",
          `127.0.0.1:${middle.port}`,
          "--port",
          "0",
          "--encryption",
          "allow",
        ],
        { workDir: s.dir, timeoutMs: STEP_MS },
      ),
    );
    await tesseraDownload(t, 120_000);
    await compareTrees(fx.content, path.join(out, "content"));
    assert.ok(
      t.events.some((e) => e.event === "peer-connected" && e.address === `127.0.0.1:${seed.port}`),
      "tessera never connected to the seed it could only learn of through PEX",
    );
    assertNoPeerFaults(t);
  });
});
