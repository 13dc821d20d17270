import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { encode } from "../../src/bencode/index.js";
import { parseTorrent } from "../../src/metainfo/index.js";
import { ioError, StorageError } from "../../src/storage/errors.js";
import { HashPool } from "../../src/storage/hash-pool.js";
import { TorrentStorage } from "../../src/storage/storage.js";
import {
  type Fixture,
  KIB,
  makeTorrent,
  metaFor,
  piece,
  range,
  removeDir,
  type Spec,
  tempDir,
  tree,
} from "./storage-helpers.js";

const PL = 16 * KIB;
const LAYOUT: Spec[] = [
  { path: ["t", "a.bin"], size: 10_000 },
  { path: ["t", "sub", "b.bin"], size: 10_000 },
  { path: ["t", "d.bin"], size: 40_000 },
];

let pool: HashPool;
const dirs: string[] = [];
before(() => {
  pool = new HashPool({ threads: 2 });
});
after(async () => {
  await pool.close();
  for (const d of dirs) await removeDir(d);
});

/** A download directory and a sibling "outside" directory holding a sentinel file. */
async function setup(): Promise<{ base: string; dl: string; outside: string }> {
  const base = await tempDir();
  dirs.push(base);
  const dl = path.join(base, "dl");
  const outside = path.join(base, "outside");
  await mkdir(dl);
  await mkdir(outside);
  await writeFile(path.join(outside, "sentinel"), "keep me");
  return { base, dl, outside };
}

async function assertOutsideUntouched(outside: string) {
  assert.deepEqual(await tree(outside), ["sentinel"]);
  assert.equal(await readFile(path.join(outside, "sentinel"), "utf8"), "keep me");
}

async function rejectsWith(p: Promise<unknown>, code: string, reason?: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StorageError, `expected StorageError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (reason !== undefined) assert.equal(err.reason, reason);
    return true;
  });
}

async function writeAllSettled(s: TorrentStorage, f: Fixture) {
  return Promise.allSettled(range(f.meta.pieceCount).map((i) => s.writePiece(i, piece(f, i))));
}

describe("TorrentStorage path safety", () => {
  it("a symlinked top directory pointing outside: STORAGE_UNSAFE_PATH, nothing written outside", async () => {
    const { dl, outside } = await setup();
    await symlink(outside, path.join(dl, "t"));
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dl, { hashPool: pool });
    const results = await writeAllSettled(s, f);
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.equal((r.reason as StorageError).code, "STORAGE_UNSAFE_PATH");
    }
    await rejectsWith(s.readBlock(0, 0, 10), "STORAGE_UNSAFE_PATH");
    await rejectsWith(s.recheck(), "STORAGE_UNSAFE_PATH");
    assert.equal(s.pendingWriteBytes, 0);
    await s.close();
    await assertOutsideUntouched(outside);
  });

  it("a symlinked nested directory: only the pieces touching it fail", async () => {
    const { dl, outside } = await setup();
    await mkdir(path.join(dl, "t"));
    await symlink(outside, path.join(dl, "t", "sub"));
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dl, { hashPool: pool });
    const results = await writeAllSettled(s, f);
    // b.bin is bytes 10000..20000: pieces 0 and 1.
    assert.deepEqual(
      results.map((r) => r.status),
      ["rejected", "rejected", "fulfilled", "fulfilled"],
    );
    for (const r of results) {
      if (r.status === "rejected")
        assert.equal((r.reason as StorageError).code, "STORAGE_UNSAFE_PATH");
    }
    assert.ok(Buffer.from(await s.readBlock(2, 0, PL)).equals(piece(f, 2)));
    await rejectsWith(s.recheck(), "STORAGE_UNSAFE_PATH");
    await s.close();
    await assertOutsideUntouched(outside);
  });

  it("a symlink in place of a file: refused (O_NOFOLLOW), the target is untouched", async () => {
    const { dl, outside } = await setup();
    await mkdir(path.join(dl, "t"));
    await symlink(path.join(outside, "sentinel"), path.join(dl, "t", "a.bin"));
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dl, { hashPool: pool });
    await rejectsWith(s.writePiece(0, piece(f, 0)), "STORAGE_UNSAFE_PATH");
    await rejectsWith(s.recheck(), "STORAGE_UNSAFE_PATH");
    await s.close();
    await assertOutsideUntouched(outside);
  });

  it("a regular file where a directory should be: STORAGE_UNSAFE_PATH", async () => {
    const { dl } = await setup();
    await writeFile(path.join(dl, "t"), "not a dir");
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dl);
    await rejectsWith(s.writePiece(0, piece(f, 0)), "STORAGE_UNSAFE_PATH");
    await s.close();
    assert.equal(await readFile(path.join(dl, "t"), "utf8"), "not a dir");
  });

  it("a FIFO planted as a file is refused without hanging", async () => {
    const { dl } = await setup();
    await mkdir(path.join(dl, "t"));
    execFileSync("mkfifo", [path.join(dl, "t", "a.bin")]);
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dl, { hashPool: pool });
    await rejectsWith(s.readBlock(0, 0, 10), "STORAGE_UNSAFE_PATH");
    await rejectsWith(s.writePiece(0, piece(f, 0)), "STORAGE_UNSAFE_PATH");
    await rejectsWith(s.recheck(), "STORAGE_UNSAFE_PATH");
    await s.close();
  });

  it("a symlink planted as the part file is refused", async () => {
    const { dl, outside } = await setup();
    const f = makeTorrent(LAYOUT, PL);
    await symlink(path.join(outside, "sentinel"), path.join(dl, `.${f.meta.infoHashHex}.parts`));
    const s = new TorrentStorage(f.meta, dl, { wantedFiles: [true, false, true] });
    await rejectsWith(s.writePiece(0, piece(f, 0)), "STORAGE_UNSAFE_PATH");
    await s.writePiece(3, piece(f, 3)); // inside d.bin only: fine
    await s.close();
    await assertOutsideUntouched(outside);
  });

  it("the download directory itself may be a symlink (the user chose it)", async () => {
    const { base, outside } = await setup();
    const target = path.join(base, "real");
    await mkdir(target);
    const link = path.join(base, "link");
    await symlink(target, link);
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, link, { hashPool: pool });
    await writeAllSettled(s, f);
    assert.ok((await s.recheck()).complete);
    await s.close();
    assert.deepEqual(await tree(target), ["t/", "t/a.bin", "t/d.bin", "t/sub/", "t/sub/b.bin"]);
    await assertOutsideUntouched(outside);
  });

  it("hostile paths, as sanitised by metainfo, stay inside the download directory", async () => {
    const { base, dl, outside } = await setup();
    const hostile = [
      ["..", "..", "etc", "passwd"],
      ["/abs", "x"],
      ["a\\..\\..\\b"],
      ["C:", "win.txt"],
      [".", "..", "dot"],
      ["nul\u0000byte"],
    ];
    const sizes = [1000, 2000, 3000, 4000, 5000, 6000];
    const content = Buffer.alloc(sizes.reduce((x, y) => x + y, 0));
    for (let i = 0; i < content.length; i++) content[i] = (i * 13) & 0xff;
    const pieces = createPieces(content, PL);
    const torrent = encode({
      info: {
        name: "../../evil",
        "piece length": PL,
        pieces,
        files: hostile.map((p, i) => ({ path: p, length: sizes[i]! })),
      },
    });
    const meta = parseTorrent(torrent);
    const s = new TorrentStorage(meta, dl, { hashPool: pool });
    for (let i = 0; i < meta.pieceCount; i++) {
      await s.writePiece(i, content.subarray(i * PL, Math.min((i + 1) * PL, content.length)));
    }
    assert.ok((await s.recheck()).complete);
    await s.close();
    assert.deepEqual(await tree(base), [
      "dl/",
      ...(await tree(dl)).map((n) => `dl/${n}`),
      "outside/",
      "outside/sentinel",
    ]);
    assert.ok((await tree(dl)).length >= hostile.length);
    await assertOutsideUntouched(outside);
  });

  it("components that were not sanitised are refused at construction", () => {
    const f = makeTorrent(LAYOUT, PL);
    for (const bad of [[".."], ["t", ".."], ["a/b"], [""], [], ["x\0y"]]) {
      const files = f.meta.files.map((file, i) => (i === 0 ? { ...file, path: bad } : file));
      assert.throws(
        () => new TorrentStorage(metaFor(files, f.data, PL), "/tmp/unused"),
        (e: unknown) => e instanceof StorageError && e.code === "STORAGE_UNSAFE_PATH",
        JSON.stringify(bad),
      );
    }
  });
});

function createPieces(data: Uint8Array, pl: number): Uint8Array {
  const n = Math.ceil(data.length / pl);
  const out = new Uint8Array(n * 20);
  for (let i = 0; i < n; i++) {
    out.set(
      createHash("sha1")
        .update(data.subarray(i * pl, (i + 1) * pl))
        .digest(),
      i * 20,
    );
  }
  return out;
}

/**
 * Runs in a child process (as `nobody` when the tests run as root, since root ignores
 * permissions): a read-only download directory with one read-only file.
 */
const READ_ONLY_CHILD = `
const { TorrentStorage } = await import(process.argv[1]);
const dl = process.argv[2];
const files = [
  { path: ["t", "a.bin"], length: 100, offset: 0, padding: false, executable: false, hidden: false },
  { path: ["t", "new.bin"], length: 100, offset: 100, padding: false, executable: false, hidden: false },
  { path: ["new-dir", "c.bin"], length: 100, offset: 200, padding: false, executable: false, hidden: false },
];
const meta = { files, pieceLength: 100, length: 300, pieceCount: 3, pieceHashes: new Uint8Array(60), infoHashHex: "ab".repeat(20) };
const s = new TorrentStorage(meta, dl);
const out = {};
for (const i of [0, 1, 2]) {
  try { await s.writePiece(i, new Uint8Array(100).fill(1)); out["w" + i] = "ok"; }
  catch (e) { out["w" + i] = { name: e.name, code: e.code, reason: e.reason, message: e.message }; }
}
const block = await s.readBlock(0, 0, 100);
out.read = Buffer.from(block).toString("latin1");
await s.close();
out.alive = true;
console.log(JSON.stringify(out));
`;

describe("TorrentStorage on a read-only directory", () => {
  it("writes fail with a typed EACCES error, reads still work, the process carries on", async () => {
    const { base, dl } = await setup();
    await mkdir(path.join(dl, "t"));
    await writeFile(path.join(dl, "t", "a.bin"), "x".repeat(100));
    await chmod(path.join(dl, "t", "a.bin"), 0o444);
    await chmod(path.join(dl, "t"), 0o555);
    await chmod(dl, 0o555);
    await chmod(base, 0o755);
    const asRoot = process.getuid?.() === 0;
    const storageUrl = new URL("../../src/storage/storage.js", import.meta.url).href;
    try {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", READ_ONLY_CHILD, storageUrl, dl],
        asRoot ? { uid: 65534, gid: 65534 } : {},
      );
      const out = JSON.parse(stdout);
      for (const w of ["w0", "w1", "w2"]) {
        assert.equal(out[w].name, "StorageError", JSON.stringify(out[w]));
        assert.equal(out[w].code, "STORAGE_IO");
        assert.equal(out[w].reason, "EACCES");
        assert.match(out[w].message, /permission denied/);
      }
      assert.equal(out.read, "x".repeat(100));
      assert.equal(out.alive, true);
    } finally {
      await chmod(dl, 0o755);
      await chmod(path.join(dl, "t"), 0o755);
    }
    assert.deepEqual(await tree(dl), ["t/", "t/a.bin"]);
    assert.equal(await readFile(path.join(dl, "t", "a.bin"), "utf8"), "x".repeat(100));
  });
});

describe("StorageError messages", () => {
  it("maps errno codes to messages a user can act on", () => {
    const cases: Array<[string, RegExp]> = [
      ["ENOSPC", /no space left on device \(disk full\)/],
      ["EDQUOT", /quota exceeded/],
      ["EACCES", /permission denied/],
      ["EPERM", /permission denied/],
      ["EROFS", /read-only file system/],
      ["EMFILE", /too many open files/],
      ["EIO", /I\/O error EIO/],
    ];
    for (const [code, re] of cases) {
      const err = ioError(Object.assign(new Error("boom"), { code }), "writing", "/x/y");
      assert.ok(err instanceof StorageError);
      assert.equal(err.code, "STORAGE_IO");
      assert.equal(err.reason, code);
      assert.equal(err.path, "/x/y");
      assert.match(err.message, re);
      assert.match(err.message, /\/x\/y/);
    }
  });
});
