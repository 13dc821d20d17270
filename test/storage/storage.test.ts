import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, stat, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { HashPool } from "../../src/storage/hash-pool.js";
import { StorageError, TorrentStorage } from "../../src/storage/storage.js";
import {
  type Fixture,
  fileBytes,
  KIB,
  MIB,
  makeTorrent,
  piece,
  piecesOf,
  range,
  removeDir,
  rng,
  type Spec,
  shuffled,
  tempDir,
  tree,
} from "./storage-helpers.js";

const PL = 16 * KIB;

/** Pieces spanning three files, zero-length files (also at the very end), nested dirs, padding. */
const LAYOUT: Spec[] = [
  { path: ["t", "a.bin"], size: 10_000 },
  { path: ["t", "empty0"], size: 0 },
  { path: ["t", "sub", "b.bin"], size: 3_000 },
  { path: ["t", "sub", "deeper", "c.bin"], size: 5_000 },
  { pad: 2 * PL - 18_000 },
  { path: ["t", "d.bin"], size: 40_000 },
  { path: ["t", "sub", "empty1"], size: 0 },
  { path: ["t", "e.bin"], size: 1 },
  { pad: 3 },
  { path: ["t", "f.bin"], size: 100_000 },
  { path: ["t", "zz", "empty-end"], size: 0 },
];

const EXPECTED_TREE = [
  "t/",
  "t/a.bin",
  "t/d.bin",
  "t/e.bin",
  "t/empty0",
  "t/f.bin",
  "t/sub/",
  "t/sub/b.bin",
  "t/sub/deeper/",
  "t/sub/deeper/c.bin",
  "t/sub/empty1",
  "t/zz/",
  "t/zz/empty-end",
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

async function newDir(): Promise<string> {
  const d = await tempDir();
  dirs.push(d);
  return d;
}

async function writeAll(s: TorrentStorage, f: Fixture, order: number[]) {
  await Promise.all(order.map((i) => s.writePiece(i, piece(f, i))));
}

/** Every non-padding file's content on disk equals the source. */
async function assertFilesMatch(dir: string, f: Fixture, skip: ReadonlySet<number> = new Set()) {
  for (let i = 0; i < f.meta.files.length; i++) {
    const file = f.meta.files[i]!;
    if (file.padding || skip.has(i)) continue;
    const got = await readFile(path.join(dir, ...file.path));
    assert.ok(got.equals(fileBytes(f, i)), `file ${file.path.join("/")} differs`);
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, reason?: string) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof StorageError, `expected StorageError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (reason !== undefined) assert.equal(err.reason, reason);
    return true;
  });
}

describe("TorrentStorage writes", () => {
  it("the fixture has a piece spanning three files and a short last piece", () => {
    const f = makeTorrent(LAYOUT, PL);
    assert.deepEqual(piecesOf(f, 0), [0]);
    assert.deepEqual(piecesOf(f, 2), [0]);
    assert.deepEqual(piecesOf(f, 3), [0, 1]);
    assert.ok(f.meta.length % PL !== 0);
  });

  for (const seed of [1, 2, 3]) {
    it(`writes every piece in random order (seed ${seed}) and the files match byte for byte`, async () => {
      const dir = await newDir();
      const f = makeTorrent(LAYOUT, PL);
      const s = new TorrentStorage(f.meta, dir, { hashPool: pool });
      await writeAll(s, f, shuffled(range(f.meta.pieceCount), seed));
      assert.equal(s.pendingWriteBytes, 0);
      await s.close();
      assert.deepEqual(await tree(dir), EXPECTED_TREE); // no padding files, no part file
      await assertFilesMatch(dir, f);
    });
  }

  it("writePieces writes runs of consecutive pieces across files, padding and empty files", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool, maxOpenFiles: 2 });
    const n = f.meta.pieceCount;
    // Runs of 1, 2, 3, ... pieces in a shuffled order of runs.
    const runs: number[][] = [];
    for (let at = 0, len = 1; at < n; at += len, len++) runs.push(range(n).slice(at, at + len));
    const reads: Promise<void>[] = [];
    await Promise.all(
      shuffled(range(runs.length), 4).map((k) => {
        const run = runs[k]!;
        const w = s.writePieces(
          run[0]!,
          run.map((i) => piece(f, i)),
        );
        // Reads while the run is being written see the new data.
        for (const i of run) {
          reads.push(
            s.readBlock(i, 0, piece(f, i).length).then((got) => {
              assert.ok(Buffer.from(got).equals(piece(f, i)), `piece ${i} read during its write`);
            }),
          );
        }
        return w;
      }),
    );
    await Promise.all(reads);
    assert.equal(s.pendingWriteBytes, 0);
    await rejectsWith(
      s.writePieces(0, [piece(f, 0), piece(f, 0).subarray(1)]),
      "STORAGE_INVALID_ARGUMENT",
    );
    await s.close();
    assert.deepEqual(await tree(dir), EXPECTED_TREE);
    await assertFilesMatch(dir, f);
  });

  it("writePieces splits writes larger than MAX_WRITE_BYTES, across two files", async () => {
    const dir = await newDir();
    const spec: Spec[] = [
      { path: ["big", "a"], size: 3 * MIB + 5 },
      { path: ["big", "b"], size: 2 * MIB + 77 },
    ];
    const f = makeTorrent(spec, 2 * MIB);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool });
    await s.writePieces(1, [piece(f, 1), piece(f, 2)]);
    await s.writePieces(0, [piece(f, 0)]);
    await s.close();
    await assertFilesMatch(dir, f);
  });

  it("writes pieces one after another (sequential, LRU of 2 open files)", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { maxOpenFiles: 2 });
    for (const i of shuffled(range(f.meta.pieceCount), 9)) {
      await s.writePiece(i, piece(f, i));
      assert.ok(s.openFiles <= 2, `open files ${s.openFiles}`);
    }
    for (let i = 0; i < f.meta.pieceCount; i++) {
      assert.ok(Buffer.from(await s.readBlock(i, 0, piece(f, i).length)).equals(piece(f, i)));
      assert.ok(s.openFiles <= 2);
    }
    await s.close();
    await assertFilesMatch(dir, f);
  });

  it("creates files lazily: only the files touched so far, and empty files with their piece", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    assert.deepEqual(await tree(dir), []);
    await s.writePiece(2, piece(f, 2)); // inside d.bin only
    assert.deepEqual(await tree(dir), ["t/", "t/d.bin"]);
    // d.bin is sparse: it reaches the end of piece 2 so far.
    assert.equal((await stat(path.join(dir, "t/d.bin"))).size, 3 * PL - 2 * PL);
    await s.writePiece(0, piece(f, 0)); // a, empty0, b, c
    assert.deepEqual(await tree(dir), [
      "t/",
      "t/a.bin",
      "t/d.bin",
      "t/empty0",
      "t/sub/",
      "t/sub/b.bin",
      "t/sub/deeper/",
      "t/sub/deeper/c.bin",
    ]);
    await s.createEmptyFiles();
    assert.ok((await tree(dir)).includes("t/zz/empty-end"));
    assert.ok((await tree(dir)).includes("t/sub/empty1"));
    await s.close();
  });

  it("a zero-length file at the end is created with the last piece", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    await s.writePiece(f.meta.pieceCount - 1, piece(f, f.meta.pieceCount - 1));
    assert.equal((await stat(path.join(dir, "t/zz/empty-end"))).size, 0);
    await s.close();
  });

  it("single-file torrent with pieces larger than the file", async () => {
    const dir = await newDir();
    const f = makeTorrent([{ path: ["one.bin"], size: 1000 }], MIB);
    const s = new TorrentStorage(f.meta, dir);
    await s.writePiece(0, piece(f, 0));
    assert.ok((await s.recheck()).complete);
    await s.close();
    assert.ok((await readFile(path.join(dir, "one.bin"))).equals(f.data));
  });

  it("rejects bad arguments without throwing synchronously", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    const calls = [
      () => s.writePiece(0, new Uint8Array(5)),
      () => s.writePiece(-1, new Uint8Array(PL)),
      () => s.writePiece(f.meta.pieceCount, new Uint8Array(PL)),
      () => s.writePiece(1.5, new Uint8Array(PL)),
      () => s.writePiece(f.meta.pieceCount - 1, new Uint8Array(PL)), // the last piece is short
      () => s.readBlock(0, 0, 0),
      () => s.readBlock(0, PL - 1, 2),
      () => s.readBlock(f.meta.pieceCount - 1, 0, PL),
      () => s.readBlock(0, -1, 1),
      () => s.recheck({ pieces: [f.meta.pieceCount] }),
    ];
    for (const call of calls) {
      let p: Promise<unknown> | undefined;
      assert.doesNotThrow(() => {
        p = call();
      });
      await rejectsWith(p!, "STORAGE_INVALID_ARGUMENT");
    }
    assert.equal(s.pendingWriteBytes, 0);
    await s.close();
    assert.deepEqual(await tree(dir), []);
  });

  it("constructor refuses inconsistent metadata and options", () => {
    const f = makeTorrent(LAYOUT, PL);
    const bad = [
      () => new TorrentStorage({ ...f.meta, pieceCount: 3 }, "/tmp/x"),
      () => new TorrentStorage({ ...f.meta, length: f.meta.length + 1 }, "/tmp/x"),
      () => new TorrentStorage({ ...f.meta, pieceHashes: new Uint8Array(20) }, "/tmp/x"),
      () => new TorrentStorage({ ...f.meta, infoHashHex: "../x" }, "/tmp/x"),
      () => new TorrentStorage(f.meta, "/tmp/x", { wantedFiles: [true] }),
      () => new TorrentStorage(f.meta, "/tmp/x", { readCacheBytes: -1 }),
      () => new TorrentStorage(f.meta, "/tmp/x", { maxPendingWriteBytes: 0 }),
    ];
    for (const make of bad) {
      assert.throws(
        make,
        (e: unknown) => e instanceof StorageError && e.code === "STORAGE_INVALID_ARGUMENT",
      );
    }
  });

  it("calls after close reject with STORAGE_CLOSED; close is idempotent", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    const w = s.writePiece(0, piece(f, 0));
    const closing = s.close();
    assert.equal(s.close(), closing);
    await w; // writes in flight finish before close resolves
    await closing;
    await rejectsWith(s.writePiece(1, piece(f, 1)), "STORAGE_CLOSED");
    await rejectsWith(s.readBlock(0, 0, 10), "STORAGE_CLOSED");
    await rejectsWith(s.recheck(), "STORAGE_CLOSED");
    assert.ok((await readFile(path.join(dir, "t/a.bin"))).equals(fileBytes(f, 0)));
  });
});

describe("TorrentStorage reads", () => {
  it("readBlock returns the right bytes for every block, across files, padding and chunks", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    // 5000-byte read-ahead: pieces are cut into chunks, so some blocks straddle two chunks.
    const s = new TorrentStorage(f.meta, dir, { readAheadBytes: 5000 });
    await writeAll(s, f, range(f.meta.pieceCount));
    const r = rng(7);
    for (let k = 0; k < 300; k++) {
      const i = Math.floor(r() * f.meta.pieceCount);
      const size = piece(f, i).length;
      const begin = Math.floor(r() * size);
      const length = 1 + Math.floor(r() * (size - begin));
      const got = await s.readBlock(i, begin, length);
      const want = f.data.subarray(i * PL + begin, i * PL + begin + length);
      assert.ok(Buffer.from(got).equals(want), `piece ${i} ${begin}+${length}`);
    }
    await s.close();
  });

  it("serves repeated reads from the cache, reading each piece once (whole-piece read-ahead)", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    await writeAll(s, f, range(f.meta.pieceCount));
    for (let b = 0; b < PL; b += 4 * KIB) {
      assert.ok(
        Buffer.from(await s.readBlock(3, b, 4 * KIB)).equals(piece(f, 3).subarray(b, b + 4 * KIB)),
      );
    }
    assert.deepEqual(s.cacheStats, { hits: 3, misses: 1, bytes: PL });
    // Change the file behind the storage's back: the cache still answers with what it read.
    const d = path.join(dir, "t/d.bin");
    const onDisk = await readFile(d);
    await writeFile(d, Buffer.alloc(onDisk.length, 0xee));
    assert.ok(Buffer.from(await s.readBlock(3, 0, 100)).equals(piece(f, 3).subarray(0, 100)));
    assert.equal(s.cacheStats.misses, 1);
    // Rewriting the piece through the storage invalidates its cached chunk.
    const fresh = Buffer.alloc(PL, 0x42);
    await s.writePiece(3, fresh);
    assert.ok(Buffer.from(await s.readBlock(3, 0, PL)).equals(fresh));
    assert.equal(s.cacheStats.misses, 2);
    await s.close();
  });

  it("peekBlock answers from the cache only, with the same bytes as readBlock", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { readAheadBytes: 5000 });
    await writeAll(s, f, range(f.meta.pieceCount));
    assert.equal(s.peekBlock(2, 0, 100), undefined); // not read yet
    await s.readBlock(2, 0, 100); // loads chunk 0 of piece 2 (bytes 0..5000)
    const misses = s.cacheStats.misses;
    for (const [begin, length] of [
      [0, 100],
      [1234, 3766],
      [4999, 1],
    ] as const) {
      const got = s.peekBlock(2, begin, length);
      assert.ok(got !== undefined, `${begin}+${length}`);
      assert.ok(Buffer.from(got).equals(piece(f, 2).subarray(begin, begin + length)));
    }
    assert.equal(s.peekBlock(2, 4990, 20), undefined); // spans two chunks
    assert.equal(s.peekBlock(2, 5000, 10), undefined); // chunk 1 not loaded
    assert.equal(s.peekBlock(3, 0, 10), undefined);
    assert.equal(s.cacheStats.misses, misses); // peeking never reads
    await s.writePiece(2, Buffer.alloc(PL, 0x42)); // a write drops the piece's chunks
    assert.equal(s.peekBlock(2, 0, 100), undefined);
    await s.readBlock(2, 0, 100);
    assert.ok(Buffer.from(s.peekBlock(2, 0, 100)!).equals(Buffer.alloc(100, 0x42)));
    await s.close();
    assert.equal(s.peekBlock(2, 0, 100), undefined); // closed
  });

  it("a peekBlock view stays intact after its chunk is evicted, until released; chunk buffers are reused", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const n = f.meta.pieceCount;
    const s = new TorrentStorage(f.meta, dir, { readCacheBytes: 2 * PL });
    await writeAll(s, f, range(n));
    await s.prefetchBlock(0, 0, 100);
    const held = s.peekBlock(0, 100, 4000)!;
    const want = Buffer.from(piece(f, 0).subarray(100, 4100));
    // Cycle every piece through the 2-piece cache twice: chunk 0 is dropped while its view is out.
    for (let round = 0; round < 2; round++) {
      for (let i = 1; i < n; i++) {
        await s.prefetchBlock(i, 0, 1);
        const v = s.peekBlock(i, 0, piece(f, i).length)!;
        assert.ok(Buffer.from(v).equals(piece(f, i)), `piece ${i}`);
        s.releaseBlock(v);
        assert.ok(Buffer.from(held).equals(want), `held view changed (piece ${i})`);
      }
    }
    s.releaseBlock(held);
    // From now on that buffer may be reused; reads through recycled buffers stay right.
    for (let i = 0; i < n; i++) {
      await s.prefetchBlock(i, 0, 1);
      const v = s.peekBlock(i, 0, piece(f, i).length)!;
      assert.ok(Buffer.from(v).equals(piece(f, i)), `piece ${i} after reuse`);
      s.releaseBlock(v);
    }
    await s.close();
  });

  it("a chunk a readBlock view came from is never reused", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const n = f.meta.pieceCount;
    const s = new TorrentStorage(f.meta, dir, { readCacheBytes: 2 * PL });
    await writeAll(s, f, range(n));
    const kept = await s.readBlock(1, 0, PL);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n; i++) {
        await s.prefetchBlock(i, 0, 1);
        const v = s.peekBlock(i, 0, 1)!;
        s.releaseBlock(v);
      }
    }
    assert.ok(Buffer.from(kept).equals(piece(f, 1)));
    await s.close();
  });

  it("warmBlock starts a read once; prefetchBlock waits for it", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    await writeAll(s, f, range(f.meta.pieceCount));
    s.warmBlock(3, 0, 10);
    s.warmBlock(3, 100, 10); // same chunk, on its way: no second read
    s.warmBlock(3, PL, 10); // out of range: ignored
    s.warmBlock(-1, 0, 10);
    await s.prefetchBlock(3, 0, 10);
    assert.equal(s.cacheStats.misses, 1);
    const v = s.peekBlock(3, 5, 50)!;
    assert.ok(Buffer.from(v).equals(piece(f, 3).subarray(5, 55)));
    s.releaseBlock(v);
    await s.close();
  });

  it("the cache stays within its byte budget (LRU)", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { readCacheBytes: 3 * PL });
    await writeAll(s, f, range(f.meta.pieceCount));
    for (let i = 0; i < f.meta.pieceCount; i++) {
      await s.readBlock(i, 0, 1);
      assert.ok(s.cacheStats.bytes <= 3 * PL);
    }
    const misses = s.cacheStats.misses;
    await s.readBlock(f.meta.pieceCount - 1, 0, 1); // most recent: a hit
    assert.equal(s.cacheStats.misses, misses);
    await s.readBlock(0, 0, 1); // evicted long ago: a miss
    assert.equal(s.cacheStats.misses, misses + 1);
    await s.close();
  });

  it("readCacheBytes 0 reads exactly the block, caching nothing", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { readCacheBytes: 0 });
    await writeAll(s, f, range(f.meta.pieceCount));
    const got = await s.readBlock(0, 9000, 6000);
    assert.ok(Buffer.from(got).equals(f.data.subarray(9000, 15000)));
    assert.deepEqual(s.cacheStats, { hits: 0, misses: 0, bytes: 0 });
    await s.close();
  });

  it("a read during a write of the same piece sees the new data", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    const w = s.writePiece(3, piece(f, 3));
    const got = await s.readBlock(3, 100, 200);
    assert.ok(Buffer.from(got).equals(piece(f, 3).subarray(100, 300)));
    await w;
    await s.close();
  });

  it("reading a piece that was never written is a typed error", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    await rejectsWith(s.readBlock(5, 0, 10), "STORAGE_IO", "ENOENT");
    await s.writePiece(2, piece(f, 2)); // d.bin exists but ends at piece 2
    await rejectsWith(s.readBlock(3, 0, 10), "STORAGE_IO", "SHORT");
    await s.close();
  });
});

describe("TorrentStorage recheck and resume", () => {
  it("recheck after partial writes reports exactly the written pieces", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool });
    const none = await s.recheck();
    assert.equal(none.count, 0);
    const written = [0, 3, 4, 7, f.meta.pieceCount - 1];
    await writeAll(s, f, written);
    const seen: number[] = [];
    const have = await s.recheck({ onProgress: (b) => seen.push(b) });
    assert.deepEqual([...have.ones()], written);
    assert.equal(seen.at(-1), f.meta.length);
    // Restricted to some pieces: the others are not checked.
    const some = await s.recheck({ pieces: [0, 1, 3] });
    assert.deepEqual([...some.ones()], [0, 3]);
    await s.close();
  });

  it("recheck catches a corrupted piece and a short file", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool });
    await writeAll(s, f, range(f.meta.pieceCount));
    assert.ok((await s.recheck()).complete);
    await s.close();
    const fpath = path.join(dir, "t/f.bin");
    const bytes = await readFile(fpath);
    bytes[50_000] = bytes[50_000]! ^ 1;
    await writeFile(fpath, bytes.subarray(0, 90_000)); // flipped a byte, and cut the tail
    const s2 = new TorrentStorage(f.meta, dir, { hashPool: pool });
    const have = await s2.recheck();
    const fStart = f.meta.files[9]!.offset;
    const bad = new Set([Math.floor((fStart + 50_000) / PL)]);
    for (let p = Math.floor((fStart + 90_000) / PL); p < f.meta.pieceCount; p++) bad.add(p);
    assert.deepEqual(
      [...have.ones()],
      range(f.meta.pieceCount).filter((p) => !bad.has(p)),
    );
    await s2.close();
  });

  it("a new storage over existing files does not truncate them and resumes", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const first = [1, 2, 5, 8];
    const s1 = new TorrentStorage(f.meta, dir, { hashPool: pool });
    await writeAll(s1, f, first);
    await s1.close();
    const before = new Map<string, Buffer>();
    for (const name of await tree(dir)) {
      if (!name.endsWith("/")) before.set(name, await readFile(path.join(dir, name)));
    }
    const s2 = new TorrentStorage(f.meta, dir, { hashPool: pool });
    // Reading and rechecking open files without changing them.
    assert.deepEqual([...(await s2.recheck()).ones()], first);
    assert.ok(Buffer.from(await s2.readBlock(5, 0, PL)).equals(piece(f, 5)));
    for (const [name, bytes] of before) {
      assert.ok((await readFile(path.join(dir, name))).equals(bytes), `${name} changed`);
    }
    // Writing another piece into the same files keeps the earlier data.
    const rest = range(f.meta.pieceCount).filter((p) => !first.includes(p));
    await writeAll(s2, f, shuffled(rest, 4));
    assert.ok((await s2.recheck()).complete);
    await s2.close();
    await assertFilesMatch(dir, f);
  });

  it("recheck waits for writes in flight", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool });
    const writes = range(f.meta.pieceCount).map((i) => s.writePiece(i, piece(f, i)));
    const have = await s.recheck();
    await Promise.all(writes);
    assert.ok(have.complete);
    await s.close();
  });

  it("recheck can be aborted", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool });
    await writeAll(s, f, range(f.meta.pieceCount));
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(s.recheck({ signal: ac.signal }), { name: "AbortError" });
    await s.close();
  });

  it("recheck of a download directory that does not exist finds nothing and creates nothing", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const missing = path.join(dir, "not-yet");
    const s = new TorrentStorage(f.meta, missing, { hashPool: pool });
    assert.equal((await s.recheck()).count, 0);
    await s.close();
    assert.deepEqual(await tree(dir), []);
  });

  it("without a hash pool the storage uses (and closes) its own", async () => {
    const dir = await newDir();
    const f = makeTorrent(LAYOUT, PL);
    const s = new TorrentStorage(f.meta, dir);
    await writeAll(s, f, [0, 1]);
    assert.deepEqual([...(await s.recheck()).ones()], [0, 1]);
    await s.close();
  });
});

describe("TorrentStorage skipped files and the part file", () => {
  // a (wanted) | b (skipped, several pieces) | c (wanted) | d (skipped, inside one piece) | e
  const SPECS: Spec[] = [
    { path: ["t", "a"], size: 20_000 },
    { path: ["t", "skip", "b"], size: 50_000 },
    { path: ["t", "c"], size: 7_000 },
    { path: ["t", "d"], size: 100 },
    { path: ["t", "e"], size: 30_000 },
  ];
  const WANTED = [true, false, true, false, true];

  function wantedPieces(f: Fixture): number[] {
    const set = new Set<number>();
    for (let i = 0; i < WANTED.length; i++)
      if (WANTED[i]) for (const p of piecesOf(f, i)) set.add(p);
    return [...set].sort((x, y) => x - y);
  }

  it("never creates a skipped file; edge pieces stay readable and verifiable via the part file", async () => {
    const dir = await newDir();
    const f = makeTorrent(SPECS, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    const pieces = wantedPieces(f);
    // The pieces inside b only are not downloaded.
    const inner = range(f.meta.pieceCount).filter((p) => !pieces.includes(p));
    assert.ok(inner.length >= 1);
    await writeAll(s, f, shuffled(pieces, 5));
    await s.close();

    const names = await tree(dir);
    assert.ok(!names.some((n) => n.startsWith("t/skip")), names.join(","));
    assert.ok(!names.includes("t/d"));
    assert.ok(names.includes(`.${f.meta.infoHashHex}.parts`));
    await assertFilesMatch(dir, f, new Set([1, 3]));

    // A fresh storage (resume) verifies and serves the edge pieces from files + part file.
    const s2 = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    assert.deepEqual([...(await s2.recheck()).ones()], pieces);
    for (const p of pieces) {
      const got = await s2.readBlock(p, 0, piece(f, p).length);
      assert.ok(Buffer.from(got).equals(piece(f, p)), `piece ${p}`);
    }
    await rejectsWith(s2.readBlock(inner[0]!, 0, 10), "STORAGE_IO", "ENOENT");
    await s2.close();
    assert.ok(!(await tree(dir)).some((n) => n.startsWith("t/skip") || n === "t/d"));
  });

  it("writePieces over skipped files goes piece by piece through the part file", async () => {
    const dir = await newDir();
    const f = makeTorrent(SPECS, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    const all = range(f.meta.pieceCount);
    await s.writePieces(
      0,
      all.map((i) => piece(f, i)),
    );
    await s.close();
    await assertFilesMatch(dir, f, new Set([1, 3]));
    const s2 = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    assert.deepEqual([...(await s2.recheck()).ones()], all);
    await s2.close();
  });

  it("a piece entirely inside a skipped file goes to the part file too", async () => {
    const dir = await newDir();
    const f = makeTorrent(SPECS, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    const all = range(f.meta.pieceCount);
    await writeAll(s, f, all);
    assert.ok((await s.recheck()).complete);
    for (const p of all)
      assert.ok(Buffer.from(await s.readBlock(p, 0, piece(f, p).length)).equals(piece(f, p)));
    await s.close();
    assert.ok(!(await tree(dir)).some((n) => n.startsWith("t/skip")));
  });

  it("a corrupt part file header is ignored (pieces fail) and rewritten", async () => {
    const dir = await newDir();
    const f = makeTorrent(SPECS, PL);
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    const pieces = wantedPieces(f);
    await writeAll(s, f, pieces);
    await s.close();
    const partPath = path.join(dir, `.${f.meta.infoHashHex}.parts`);
    const part = await readFile(partPath);
    part.write("GARBAGE!", 0, "latin1");
    await writeFile(partPath, part);
    const s2 = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: WANTED });
    const have = await s2.recheck();
    const edge = new Set([...piecesOf(f, 1), ...piecesOf(f, 3)]);
    assert.deepEqual(
      [...have.ones()],
      pieces.filter((p) => !edge.has(p)),
    );
    await writeAll(
      s2,
      f,
      [...edge].filter((p) => pieces.includes(p)),
    );
    assert.deepEqual([...(await s2.recheck()).ones()], pieces);
    await s2.close();
  });

  it("with every file skipped except one, only that file exists", async () => {
    const dir = await newDir();
    const f = makeTorrent(SPECS, PL);
    const wanted = [false, false, true, false, false];
    const s = new TorrentStorage(f.meta, dir, { hashPool: pool, wantedFiles: wanted });
    await writeAll(s, f, piecesOf(f, 2));
    assert.deepEqual([...(await s.recheck()).ones()], piecesOf(f, 2));
    await s.close();
    assert.deepEqual(await tree(dir), [`.${f.meta.infoHashHex}.parts`, "t/", "t/c"]);
  });
});

describe("TorrentStorage back-pressure", () => {
  it("pendingWriteBytes counts queued bytes and whenWritable waits for the queue to drain", async () => {
    const dir = await newDir();
    const f = makeTorrent([{ path: ["big.bin"], size: 40 * PL }], PL);
    const s = new TorrentStorage(f.meta, dir, { maxPendingWriteBytes: 4 * PL });
    assert.equal(s.pendingWriteBytes, 0);
    let ready = false;
    await s.whenWritable().then(() => {
      ready = true;
    });
    assert.ok(ready, "whenWritable resolves at once when the queue is short");

    const writes: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) writes.push(s.writePiece(i, piece(f, i)));
    assert.equal(s.pendingWriteBytes, 10 * PL); // counted synchronously
    let resolvedWith = -1;
    const waiting = s.whenWritable().then(() => {
      resolvedWith = s.pendingWriteBytes;
    });
    await Promise.resolve();
    assert.equal(resolvedWith, -1);
    await waiting;
    assert.ok(resolvedWith < 4 * PL, `resolved at ${resolvedWith}`);
    await Promise.all(writes);
    assert.equal(s.pendingWriteBytes, 0);

    // A writer that honours whenWritable never has more than the limit + one piece queued.
    let peak = 0;
    const all: Promise<void>[] = [];
    for (let i = 10; i < 40; i++) {
      await s.whenWritable();
      all.push(s.writePiece(i, piece(f, i)));
      peak = Math.max(peak, s.pendingWriteBytes);
    }
    await Promise.all(all);
    assert.ok(peak <= 4 * PL + PL, `peak ${peak}`);
    await s.close();
    assert.ok((await readFile(path.join(dir, "big.bin"))).equals(f.data));
  });
});

describe("TorrentStorage offsets beyond 4 GiB", () => {
  it("writes, reads and verifies pieces past 4 GiB in a sparse file", async () => {
    const dir = await newDir();
    const pl = MIB;
    const bigLen = 4 * 1024 * MIB + 100; // 4 GiB + 100
    const smallLen = 2 * MIB;
    const total = bigLen + smallLen;
    const pieceCount = Math.ceil(total / pl);
    const file = (p: string, length: number, offset: number) => ({
      path: ["t", p],
      length,
      offset,
      padding: false,
      executable: false,
      hidden: false,
    });
    // Only the last few pieces are written (the rest of "big" stays a hole); only they get hashes.
    const tailStart = total - (3 * MIB + 17);
    const tail = Buffer.alloc(total - tailStart);
    for (let i = 0; i < tail.length; i++) tail[i] = (i * 31 + 7) & 0xff;
    const lastPieces = range(pieceCount).filter((p) => p * pl >= tailStart);
    const pieceBytes = (p: number) =>
      tail.subarray(p * pl - tailStart, Math.min((p + 1) * pl, total) - tailStart);
    const hashes = new Uint8Array(pieceCount * 20);
    for (const p of lastPieces)
      hashes.set(createHash("sha1").update(pieceBytes(p)).digest(), p * 20);
    const meta = {
      files: [file("big", bigLen, 0), file("small", smallLen, bigLen)],
      pieceLength: pl,
      length: total,
      pieceCount,
      pieceHashes: hashes,
      infoHashHex: "ab".repeat(20),
    };
    assert.ok(lastPieces[0]! * pl < bigLen, "the first written piece spans both files");
    assert.ok(lastPieces[0]! * pl >= 2 ** 32);
    const s = new TorrentStorage(meta, dir, { hashPool: pool });
    for (const p of lastPieces) await s.writePiece(p, pieceBytes(p));
    assert.equal((await stat(path.join(dir, "t/big"))).size, bigLen);
    assert.equal((await stat(path.join(dir, "t/small"))).size, smallLen);
    const p = lastPieces[0]!;
    assert.ok(Buffer.from(await s.readBlock(p, 0, pl)).equals(pieceBytes(p)));
    const have = await s.recheck({ pieces: lastPieces });
    assert.deepEqual([...have.ones()], lastPieces);
    await s.close();
  });
});

describe("TorrentStorage property: random layouts", () => {
  it("any layout written in any order reads back and rechecks complete", async () => {
    const specArb = fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 0, max: 5000 }).map((size) => ({ size })) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 700 }).map((pad) => ({ pad })) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(specArb, { minLength: 1, maxLength: 12 }),
        fc.constantFrom(512, 1000, 4096, 16384),
        fc.array(fc.boolean(), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 1, max: 1_000_000 }),
        async (raw, pl, wantedRaw, seed) => {
          const specs: Spec[] = raw.map((s, i) =>
            "pad" in s ? s : { path: ["t", `d${i % 3}`, `f${i}`], size: s.size },
          );
          if (!specs.some((s) => ("pad" in s ? s.pad : s.size) > 0)) {
            specs.push({ path: ["t", "last"], size: 1 });
          }
          const f = makeTorrent(specs, pl);
          const wanted = f.meta.files.map((_, i) => wantedRaw[i] ?? true);
          const dir = await newDir();
          const s = new TorrentStorage(f.meta, dir, {
            hashPool: pool,
            wantedFiles: wanted,
            readAheadBytes: 700,
            readCacheBytes: 3000,
          });
          try {
            await writeAll(s, f, shuffled(range(f.meta.pieceCount), seed));
            assert.ok((await s.recheck()).complete);
            const r = rng(seed);
            for (let k = 0; k < 20; k++) {
              const i = Math.floor(r() * f.meta.pieceCount);
              const size = piece(f, i).length;
              const begin = Math.floor(r() * size);
              const length = 1 + Math.floor(r() * (size - begin));
              const got = await s.readBlock(i, begin, length);
              assert.ok(
                Buffer.from(got).equals(f.data.subarray(i * pl + begin, i * pl + begin + length)),
              );
            }
            await s.close();
            const skipped = new Set(range(f.meta.files.length).filter((i) => !wanted[i]));
            await assertFilesMatch(dir, f, skipped);
            const names = await tree(dir);
            for (const i of skipped) {
              const rel = f.meta.files[i]!.path.join("/");
              assert.ok(!names.includes(rel), `skipped ${rel} exists`);
            }
            assert.ok(!names.some((n) => n.startsWith(".pad")));
          } finally {
            await s.close();
            await removeDir(dir);
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
