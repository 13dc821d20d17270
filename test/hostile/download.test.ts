/**
 * `tessera download` of a torrent whose name and paths try to leave the download directory, from
 * an in-process seed: every file lands inside the chosen directory under its sanitised path, and
 * nothing is written anywhere else — also when a directory on the way is a symlink planted before
 * the download starts (refused with exit 1, the link's target untouched).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { encode } from "../../src/bencode/index.js";
import { parseTorrent, type TorrentMeta } from "../../src/metainfo/index.js";
import { Session } from "../../src/session/session.js";
import { tessera } from "../cli/run.js";
import { pieceHashes } from "../metainfo/helpers.js";

const PIECE = 16384;
/** Raw (hostile) paths and sizes; the name is hostile too. */
const FILES: [string[], number][] = [
  [["..", "..", "escape.txt"], 20_000],
  [["/", "tmp", "abs.txt"], 5000],
  [["C:", "win.txt"], 3000],
  [["sub", "..", "..", "..", "up.txt"], 7000],
  [["..\\..\\back.txt"], 1000],
];
const NAME = "../../evil";

/** Every file under `dir`, relative, symlinks listed as such (not followed). */
async function tree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(p);
      else out.push(e.isSymbolicLink() ? `${p} -> link` : p);
    }
  };
  await walk("");
  return out.sort();
}

describe("download of a path-traversal torrent stays inside the download directory", () => {
  let base: string;
  let torrentFile: string;
  let meta: TorrentMeta;
  let data: Buffer;
  let seed: Session;
  let outside: string;

  before(async () => {
    base = await mkdtemp(path.join(tmpdir(), "tessera-escape-"));
    // base/a/b/{dl,dl2,seed,outside,cwd}: ../.. from a download dir stays inside base.
    const root = path.join(base, "a", "b");
    outside = path.join(root, "outside");
    await mkdir(outside, { recursive: true });
    await writeFile(path.join(outside, "sentinel"), "keep me");
    const total = FILES.reduce((s, [, n]) => s + n, 0);
    data = randomBytes(total);
    torrentFile = path.join(base, "evil.torrent");
    const bytes = encode({
      info: {
        name: NAME,
        "piece length": PIECE,
        pieces: pieceHashes(data, PIECE),
        files: FILES.map(([p, length]) => ({ path: p, length })),
      },
    });
    await writeFile(torrentFile, bytes);
    meta = parseTorrent(bytes);
    // The seed holds the content at the sanitised paths, as any client would lay it out.
    const seedDir = path.join(root, "seed");
    for (const f of meta.files) {
      const p = path.join(seedDir, ...f.path);
      await mkdir(path.dirname(p), { recursive: true });
      await writeFile(p, data.subarray(f.offset, f.offset + f.length));
    }
    seed = await Session.create({ port: 0, host: "127.0.0.1", hashThreads: 1 });
    await seed.add(meta, { downloadDir: seedDir });
  });

  after(async () => {
    await seed?.close();
    await rm(base, { recursive: true, force: true });
  });

  it("sanitises the layout as documented", () => {
    assert.deepEqual(
      meta.files.map((f) => f.path.join("/")),
      [
        ".._.._evil/escape.txt",
        ".._.._evil/_/tmp/abs.txt",
        ".._.._evil/C_/win.txt",
        ".._.._evil/sub/up.txt",
        ".._.._evil/.._.._back.txt",
      ],
    );
  });

  it("writes every file under its sanitised path inside -o DIR and nothing elsewhere", async () => {
    const root = path.join(base, "a", "b");
    const dl = path.join(root, "dl");
    const cwd = path.join(root, "cwd");
    await mkdir(dl);
    await mkdir(cwd);
    // The seed's own resume file is rewritten in the background (via a .tmp and a rename): not
    // the download's doing, so left out of the comparison.
    const seedBookkeeping = (p: string) => !/^a\/b\/seed\/\.[0-9a-f]{40}\.resume(\.tmp)?$/.test(p);
    const before = (await tree(base)).filter(seedBookkeeping);
    const r = await tessera(
      [
        "download",
        torrentFile,
        "-o",
        dl,
        "--peer",
        `127.0.0.1:${seed.port}`,
        "--port",
        "0",
        "--json",
      ],
      { cwd, timeout: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    const inDl = await tree(dl);
    // The content, and the resume data next to it (README: "Files Tessera writes").
    assert.deepEqual(
      inDl,
      [...meta.files.map((f) => f.path.join("/")), `.${meta.infoHashHex}.resume`].sort(),
    );
    for (const f of meta.files) {
      const got = await readFile(path.join(dl, ...f.path));
      assert.ok(got.equals(data.subarray(f.offset, f.offset + f.length)), f.path.join("/"));
    }
    // Outside dl: exactly what was there before.
    const after = (await tree(base))
      .filter((p) => !p.startsWith("a/b/dl/"))
      .filter(seedBookkeeping);
    assert.deepEqual(after, before);
    assert.deepEqual(await tree(cwd), []);
    assert.equal(await readFile(path.join(outside, "sentinel"), "utf8"), "keep me");
  });

  it("refuses a symlink planted on the way before the download starts; its target stays untouched", async () => {
    const root = path.join(base, "a", "b");
    for (const [dirName, plant] of [
      ["dl2", [".._.._evil"]],
      ["dl3", [".._.._evil", "sub"]],
    ] as const) {
      const dl = path.join(root, dirName);
      const parent = path.join(dl, ...plant.slice(0, -1));
      await mkdir(parent, { recursive: true });
      await symlink(outside, path.join(parent, plant[plant.length - 1]!));
      const r = await tessera(
        ["download", torrentFile, "-o", dl, "--peer", `127.0.0.1:${seed.port}`, "--port", "0"],
        { cwd: root, timeout: 60_000 },
      );
      assert.equal(r.code, 1, `${dirName}: exit ${r.code}\n${r.stderr}`);
      assert.match(r.stderr, /refusing to use .*symlink|must stay inside/);
      assert.deepEqual(await tree(outside), ["sentinel"], `${dirName}: wrote through the link`);
      assert.equal(await readFile(path.join(outside, "sentinel"), "utf8"), "keep me");
    }
  });
});
