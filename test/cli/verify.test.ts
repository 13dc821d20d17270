import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, open, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { tessera } from "./run.js";

describe("tessera verify", () => {
  let dir: string;
  let torrent: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tessera-verify-"));
    await mkdir(path.join(dir, "data", "set", "sub"), { recursive: true });
    await writeFile(path.join(dir, "data", "set", "a.bin"), randomBytes(40_000));
    await writeFile(path.join(dir, "data", "set", "sub", "b.bin"), randomBytes(30_000));
    await writeFile(path.join(dir, "data", "set", "c.bin"), randomBytes(10_000));
    torrent = path.join(dir, "set.torrent");
    const r = await tessera(["create", path.join(dir, "data", "set"), "-o", torrent, "-l", "16K"]);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("exits 0 on complete data", async () => {
    const r = await tessera(["verify", torrent, path.join(dir, "data"), "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.complete, true);
    assert.equal(j.havePieces, 5);
    assert.deepEqual(j.missing, []);
  });

  it("names the missing pieces and files, exit 1", async () => {
    // Layout: a.bin 0-39999, c.bin 40000-49999, sub/b.bin 50000-79999; 16 KiB pieces 0..4.
    // A bad byte at 20000 spoils piece 1; without c.bin, pieces 2 and 3 fail (3 also spoils b.bin).
    const fh = await open(path.join(dir, "data", "set", "a.bin"), "r+");
    await fh.write(Uint8Array.of(0), 0, 1, 20_000);
    await fh.close();
    await unlink(path.join(dir, "data", "set", "c.bin"));
    const r = await tessera(["verify", torrent, path.join(dir, "data"), "--json"]);
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.complete, false);
    assert.deepEqual(j.missing, [[1, 3]]);
    assert.equal(j.havePieces, 2);
    assert.deepEqual(
      j.files.map((f: { path: string; complete: boolean }) => [f.path, f.complete]),
      [
        ["set/a.bin", false],
        ["set/c.bin", false],
        ["set/sub/b.bin", false],
      ],
    );
    const human = await tessera(["verify", torrent, path.join(dir, "data")]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /Missing pieces: 1-3/);
  });
});
