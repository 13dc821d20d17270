import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { parseTorrent } from "../../src/metainfo/index.js";
import { tessera } from "../cli/run.js";
import { ltInfo, ltPython } from "./libtorrent.js";

const run = promisify(execFile);

/** Torrents made by other tools must read exactly as libtorrent reads them. */
describe("metainfo agrees with libtorrent on torrents made by libtorrent and mktorrent", () => {
  let dir: string;
  let content: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tessera-lt-meta-"));
    content = path.join(dir, "Album \u00e9t\u00e9");
    await mkdir(path.join(content, "CD 1"), { recursive: true });
    await mkdir(path.join(content, "\u65e5\u672c"), { recursive: true });
    const sizes: [string, number][] = [
      ["CD 1/01 - Track.flac", 300_001],
      ["CD 1/02 - Track.flac", 16_384],
      ["\u65e5\u672c/\u30d5\u30a1\u30a4\u30eb.txt", 77],
      ["cover.jpg", 50_000],
      ["zero.bin", 0],
    ];
    for (const [p, n] of sizes) await writeFile(path.join(content, p), randomBytes(n));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function compare(torrentPath: string) {
    const lt = await ltInfo(torrentPath);
    const r = await tessera(["info", torrentPath, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const ours = JSON.parse(r.stdout);
    assert.equal(ours.infoHash, lt.infoHash, "info-hash");
    assert.equal(ours.name, lt.name, "name");
    assert.equal(ours.pieces, lt.numPieces, "piece count");
    assert.equal(ours.pieceLength, lt.pieceLength, "piece length");
    assert.equal(ours.private, lt.private, "private");
    assert.deepEqual(
      ours.files,
      lt.files.filter((f) => !f.pad).map((f) => ({ path: f.path, length: f.length })),
      "files",
    );
    // Padding included, the layouts are identical byte for byte.
    const meta = parseTorrent(await readFile(torrentPath));
    assert.equal(meta.length, lt.totalSize);
    assert.deepEqual(
      meta.files.map((f) => [f.length, f.padding]),
      lt.files.map((f) => [f.length, f.pad]),
    );
  }

  for (const [label, flags] of [
    ["v1-only", "lt.create_torrent.v1_only"],
    ["hybrid (v1+v2, pad files)", "0"],
  ] as const) {
    it(`libtorrent create_torrent, ${label}`, async () => {
      const out = path.join(dir, `lt-${flags.length}.torrent`);
      await ltPython(`
fs = lt.file_storage()
lt.add_files(fs, ${JSON.stringify(content)})
ct = lt.create_torrent(fs, 32768, flags=${flags})
ct.add_tracker("udp://127.0.0.1:6969/announce", 0)
ct.add_tracker("http://127.0.0.1:6969/announce", 1)
ct.set_comment("made by libtorrent")
lt.set_piece_hashes(ct, ${JSON.stringify(dir)})
open(${JSON.stringify(out)}, "wb").write(lt.bencode(ct.generate()))
`);
      await compare(out);
    });
  }

  it("mktorrent, multi-file and single-file", async () => {
    const multi = path.join(dir, "mk-multi.torrent");
    await run("mktorrent", [
      "-l",
      "15",
      "-a",
      "http://127.0.0.1:1/a,http://127.0.0.1:2/a",
      "-a",
      "udp://127.0.0.1:3",
      "-o",
      multi,
      content,
    ]);
    await compare(multi);
    const r = await tessera(["info", multi, "--json"]);
    assert.deepEqual(JSON.parse(r.stdout).trackers, [
      ["http://127.0.0.1:1/a", "http://127.0.0.1:2/a"],
      ["udp://127.0.0.1:3"],
    ]);
    const single = path.join(dir, "mk-single.torrent");
    await run("mktorrent", ["-l", "16", "-p", "-o", single, path.join(content, "cover.jpg")]);
    await compare(single);
  });
});
