import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { autoPieceLength, parseTorrent } from "../../src/metainfo/index.js";
import { tessera } from "../cli/run.js";
import { ltCheck, ltInfo } from "../interop/libtorrent.js";
import { pieceHashes } from "../metainfo/helpers.js";

describe("tessera create", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tessera-create-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("picks piece lengths like libtorrent (about 2048 pieces, 16 KiB to 16 MiB)", () => {
    assert.equal(autoPieceLength(1), 16384);
    assert.equal(autoPieceLength(2048 * 16384), 16384);
    assert.equal(autoPieceLength(2048 * 16384 + 1), 32768);
    assert.equal(autoPieceLength(1024 ** 3), 512 * 1024);
    assert.equal(autoPieceLength(1024 ** 4), 16 * 1024 * 1024);
  });

  it("makes a multi-file torrent that libtorrent loads identically and verifies as complete", async () => {
    const src = path.join(dir, "content");
    await mkdir(path.join(src, "sub", "deeper"), { recursive: true });
    const files: [string, number][] = [
      ["b.bin", 100_003],
      ["sub/a.bin", 65_536],
      ["sub/deeper/c.bin", 1],
      ["empty.txt", 0],
      ["caf\u00e9 \u2014 name.txt", 4_321],
    ];
    for (const [p, n] of files) await writeFile(path.join(src, p), randomBytes(n));
    await writeFile(path.join(src, ".hidden"), "secret");
    const out = path.join(dir, "content.torrent");
    const r = await tessera([
      "create",
      src,
      "-o",
      out,
      "-t",
      "http://127.0.0.1:1/announce",
      "-t",
      "udp://127.0.0.1:2",
      "--piece-length",
      "32K",
      "-c",
      "hello",
      "--json",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const ours = JSON.parse(r.stdout);
    const lt = await ltInfo(out);
    assert.equal(lt.infoHash, ours.infoHash);
    assert.equal(lt.name, "content");
    assert.equal(lt.numPieces, ours.pieces);
    assert.equal(lt.pieceLength, 32768);
    assert.deepEqual(
      lt.files.map((f) => ({ path: f.path, length: f.length })),
      ours.files,
    );
    assert.ok(!ours.files.some((f: { path: string }) => f.path.includes(".hidden")));
    // Sorted by path bytes, independent of directory listing order.
    assert.deepEqual(
      ours.files.map((f: { path: string }) => f.path),
      [
        "content/b.bin",
        "content/caf\u00e9 \u2014 name.txt",
        "content/empty.txt",
        "content/sub/a.bin",
        "content/sub/deeper/c.bin",
      ],
    );
    assert.deepEqual(lt.trackers, ["http://127.0.0.1:1/announce", "udp://127.0.0.1:2"]);
    const check = await ltCheck(out, dir);
    assert.ok(check.checked);
    assert.equal(check.havePieces, ours.pieces, JSON.stringify(check));
    assert.equal(check.isSeeding, true);
  });

  it("makes a single-file torrent whose hashes match the data, deterministic with --no-date", async () => {
    const data = randomBytes(1_000_000);
    const file = path.join(dir, "single.bin");
    await writeFile(file, data);
    const out1 = path.join(dir, "s1.torrent");
    const out2 = path.join(dir, "s2.torrent");
    for (const out of [out1, out2]) {
      const r = await tessera([
        "create",
        file,
        "-o",
        out,
        "--no-date",
        "--private",
        "-w",
        "http://ws.example/f",
      ]);
      assert.equal(r.code, 0, r.stderr);
    }
    const bytes = await readFile(out1);
    assert.deepEqual(bytes, await readFile(out2));
    const t = parseTorrent(bytes);
    assert.equal(t.multiFile, false);
    assert.equal(t.creationDate, undefined);
    assert.equal(t.private, true);
    assert.deepEqual(t.webSeeds, ["http://ws.example/f"]);
    assert.equal(t.pieceLength, 16384);
    assert.deepEqual(Buffer.from(t.pieceHashes), Buffer.from(pieceHashes(data, 16384)));
    const lt = await ltInfo(out1);
    assert.equal(lt.infoHash, t.infoHashHex);
    assert.equal(lt.private, true);
  });

  it("follows links to files, not to directories, and says so", async () => {
    const src = path.join(dir, "links");
    await mkdir(path.join(src, "real"), { recursive: true });
    await writeFile(path.join(src, "real", "f.bin"), randomBytes(5000));
    await symlink(path.join(src, "real", "f.bin"), path.join(src, "link-to-file"));
    await symlink(path.join(src, "real"), path.join(src, "link-to-dir"));
    await symlink(path.join(src, "nowhere"), path.join(src, "dangling"));
    const out = path.join(dir, "links.torrent");
    const r = await tessera(["create", src, "-o", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).files.map((f: { path: string }) => f.path),
      ["links/link-to-file", "links/real/f.bin"],
    );
    assert.match(r.stderr, /link-to-dir: symbolic link to a directory not followed/);
    assert.match(r.stderr, /dangling: dangling symbolic link left out/);
  });

  it("refuses bad input with a clear error", async () => {
    const empty = path.join(dir, "emptydir");
    await mkdir(empty);
    let r = await tessera(["create", empty, "-o", path.join(dir, "x.torrent")]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /holds no files/);
    r = await tessera(["create", path.join(dir, "missing"), "-o", path.join(dir, "x.torrent")]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /cannot read/);
    await writeFile(path.join(dir, "one.bin"), "x");
    r = await tessera([
      "create",
      path.join(dir, "one.bin"),
      "-o",
      path.join(dir, "x.torrent"),
      "--piece-length",
      "1000",
    ]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /power of two/);
    r = await tessera(["create", path.join(dir, "one.bin"), "--piece-length", "abc"]);
    assert.equal(r.code, 2);
  });
});
