/**
 * Resume data: the codec refuses anything that is not exactly ours, the plan trusts only pieces of
 * files that did not change, and the storage writes the file atomically without following links.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "../../src/bencode/index.js";
import {
  decodeResume,
  encodeResume,
  FILE_SKIPPED,
  FILE_WANTED,
  type FileState,
  planResume,
  type ResumeData,
  ResumeError,
} from "../../src/storage/resume.js";
import { TorrentStorage } from "../../src/storage/storage.js";
import { Bitfield } from "../../src/util/bitfield.js";
import { type Fixture, KIB, makeTorrent, piece, removeDir, tempDir } from "./storage-helpers.js";

const IH = Buffer.alloc(20, 7);

function sample(pieceCount = 10, fileCount = 2): ResumeData {
  const have = new Bitfield(pieceCount);
  have.set(0);
  have.set(pieceCount - 1);
  return {
    infoHash: IH,
    pieceCount,
    have,
    files: Array.from({ length: fileCount }, (_, i) => ({
      kind: FILE_WANTED,
      size: 1000 + i,
      mtimeUs: 1_700_000_000_000_000 + i,
    })),
    savedAt: 1_700_000_000_000,
  };
}

const target = (r: ResumeData) => ({
  infoHash: r.infoHash,
  pieceCount: r.pieceCount,
  fileCount: r.files.length,
});

describe("resume codec", () => {
  it("round-trips", () => {
    const r = sample();
    const back = decodeResume(encodeResume(r), target(r));
    assert.deepEqual([...back.have.ones()], [0, 9]);
    assert.deepEqual(back.files, r.files);
    assert.equal(back.savedAt, r.savedAt);
    assert.equal(back.parts, undefined);
    const withParts = { ...r, parts: { size: 5, mtimeUs: 6 } };
    assert.deepEqual(decodeResume(encodeResume(withParts), target(r)).parts, {
      size: 5,
      mtimeUs: 6,
    });
  });

  it("refuses data for another torrent or of another shape, naming why", () => {
    const r = sample();
    const bytes = encodeResume(r);
    const cases: [Uint8Array, object, RegExp][] = [
      [bytes, { ...target(r), infoHash: Buffer.alloc(20, 8) }, /another torrent/],
      [bytes, { ...target(r), pieceCount: 11 }, /piece count/],
      [bytes, { ...target(r), fileCount: 3 }, /file list/],
      [Buffer.from("not bencode"), target(r), /not bencode/],
      [encode([1, 2]), target(r), /not a dictionary/],
      [encode({ ...fields(r), version: 2 }), target(r), /version/],
      [encode({ ...fields(r), pieces: Buffer.alloc(1) }), target(r), /wrong size/],
      [encode({ ...fields(r), pieces: Buffer.from([0, 0x7f]) }), target(r), /spare bits/],
      [encode({ ...fields(r), files: [[0, 1]] }), { ...target(r), fileCount: 1 }, /file 0/],
      [
        encode({
          ...fields(r),
          files: [
            [0, "x", 1],
            [0, 1, 1],
          ],
        }),
        target(r),
        /file 0 size/,
      ],
      [
        encode({
          ...fields(r),
          files: [
            [0, -2, 1],
            [0, 1, 1],
          ],
        }),
        target(r),
        /file 0 size/,
      ],
      [encode({ ...fields(r), "piece-count": 2n ** 64n }), target(r), /piece-count/],
      [encode({ ...fields(r), parts: [1] }), target(r), /parts/],
      [encode({ ...fields(r), saved: -1 }), target(r), /saved/],
    ];
    for (const [b, t, why] of cases) {
      assert.throws(
        () => decodeResume(b, t as ReturnType<typeof target>),
        (e: unknown) =>
          e instanceof ResumeError && e.code === "RESUME_INVALID" && why.test(e.message),
        String(why),
      );
    }
  });

  it("random bytes and mutations only ever throw ResumeError", () => {
    const r = sample(13, 3);
    const good = encodeResume(r);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
              maxLength: 6,
            })
            .map((muts) => {
              const b = Buffer.from(good);
              for (const [i, v] of muts) b[i] = v;
              return b;
            }),
        ),
        (b) => {
          try {
            decodeResume(b, target(r));
          } catch (e) {
            if (!(e instanceof ResumeError)) throw e;
          }
        },
      ),
      { numRuns: 2000, seed: 42 },
    );
  });
});

function fields(r: ResumeData): Record<string, unknown> {
  return {
    version: 1,
    "info-hash": r.infoHash,
    "piece-count": r.pieceCount,
    pieces: r.have.bytes,
    files: r.files.map((f) => [f.kind, f.size, f.mtimeUs]),
    saved: r.savedAt,
  };
}

describe("resume plan", () => {
  // Three files over 10 pieces of 100 bytes: [0, 250) [250, 250) (empty) [250, 1000).
  const layout = {
    pieceLength: 100,
    pieceCount: 10,
    files: [
      { offset: 0, length: 250 },
      { offset: 250, length: 0 },
      { offset: 250, length: 750 },
    ],
  };
  const st = (size: number, mtimeUs: number, kind = FILE_WANTED): FileState => ({
    kind,
    size,
    mtimeUs,
  });
  const saved = (haveList: number[], files: FileState[]): ResumeData => {
    const have = new Bitfield(10);
    for (const p of haveList) have.set(p);
    return { infoHash: IH, pieceCount: 10, have, files, savedAt: 0 };
  };
  const files = [st(250, 1), st(0, 1), st(750, 1)];

  it("trusts everything when no file changed, and checks nothing", () => {
    const plan = planResume(layout, saved([0, 1, 5, 9], files), { files });
    assert.deepEqual([...plan.trusted.ones()], [0, 1, 5, 9]);
    assert.deepEqual(plan.recheck, []);
    assert.equal(plan.changedFiles, 0);
  });

  it("rechecks every piece of a changed file, had or not; pieces shared with it too", () => {
    const now = [st(250, 1), st(0, 1), st(750, 2)];
    const plan = planResume(layout, saved([0, 1, 5, 9], files), { files: now });
    assert.deepEqual([...plan.trusted.ones()], [0, 1]);
    assert.deepEqual(plan.recheck, [2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("a truncated, deleted or re-kinded file counts as changed", () => {
    for (const changed of [st(100, 1), st(-1, -1), st(250, 1, FILE_SKIPPED)]) {
      const plan = planResume(layout, saved([0, 1, 5, 9], files), {
        files: [changed, files[1]!, files[2]!],
      });
      assert.deepEqual(plan.recheck, [0, 1, 2]);
      assert.deepEqual([...plan.trusted.ones()], [5, 9]);
    }
  });

  it("an empty file that changed rechecks nothing", () => {
    const plan = planResume(layout, saved([0], files), {
      files: [files[0]!, st(-1, -1), files[2]!],
    });
    assert.deepEqual(plan.recheck, []);
    assert.equal(plan.changedFiles, 1);
  });

  it("a changed part file rechecks the pieces that keep bytes in it", () => {
    const viaPart = new Uint8Array(10);
    viaPart[2] = 1;
    const s = { ...saved([2, 3], files), parts: { size: 10, mtimeUs: 1 } };
    assert.deepEqual(
      planResume(layout, s, { files, parts: { size: 10, mtimeUs: 1 } }, viaPart).recheck,
      [],
    );
    assert.deepEqual(
      planResume(layout, s, { files, parts: { size: 20, mtimeUs: 1 } }, viaPart).recheck,
      [2],
    );
    assert.deepEqual(
      planResume(layout, s, { files, parts: { size: -1, mtimeUs: -1 } }, viaPart).recheck,
      [2],
    );
  });
});

describe("TorrentStorage resume files", () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await removeDir(d);
  });
  const PL = 16 * KIB;
  async function setup(): Promise<{ dl: string; f: Fixture; s: TorrentStorage }> {
    const base = await tempDir();
    dirs.push(base);
    const dl = path.join(base, "dl"); // created by the first write
    const f = makeTorrent(
      [
        { path: ["t", "a.bin"], size: 3 * PL + 5 },
        { path: ["t", "b.bin"], size: 2 * PL },
      ],
      PL,
    );
    return { dl, f, s: new TorrentStorage(f.meta, dl) };
  }

  it("measures files: size and mtime of what exists, -1 for what does not", async () => {
    const { dl, f, s } = await setup();
    assert.deepEqual((await s.fileStates()).files, [
      { kind: FILE_WANTED, size: -1, mtimeUs: -1 },
      { kind: FILE_WANTED, size: -1, mtimeUs: -1 },
    ]);
    await s.writePiece(0, piece(f, 0));
    await utimes(path.join(dl, "t", "a.bin"), 1_000_000, 1_000_000.5);
    const [a, b] = (await s.fileStates()).files;
    assert.deepEqual(a, { kind: FILE_WANTED, size: PL, mtimeUs: 1_000_000_500_000 });
    assert.deepEqual(b, { kind: FILE_WANTED, size: -1, mtimeUs: -1 });
    await s.close();
  });

  it("writes atomically: no temp file left, the old content replaced whole", async () => {
    const { dl, f, s } = await setup();
    await s.writeResume(Buffer.from("ignored: no directory yet"));
    assert.equal(await s.readResume(), null, "nothing is written before the download directory");
    await s.writePiece(0, piece(f, 0));
    const one = randomBytes(5000);
    const two = randomBytes(100);
    await s.writeResume(one);
    await s.writeResume(two);
    assert.deepEqual(await s.readResume(), two);
    assert.deepEqual(await readFile(s.resumePath), two);
    const names = await readdir(dl);
    assert.deepEqual(names.sort(), [`.${f.meta.infoHashHex}.resume`, "t"]);
    // A temp file left by a crash is replaced, not appended to.
    await writeFile(`${s.resumePath}.tmp`, "left over");
    await s.writeResume(one);
    assert.deepEqual(await s.readResume(), one);
    assert.deepEqual((await readdir(dl)).sort(), [`.${f.meta.infoHashHex}.resume`, "t"]);
    await s.close();
  });

  it("a symlink planted at the resume path is neither read nor written through", async () => {
    const { dl, f, s } = await setup();
    const outside = path.join(dl, "..", "outside");
    await mkdir(outside);
    const victim = path.join(outside, "victim");
    await writeFile(victim, "precious");
    await s.writePiece(0, piece(f, 0));
    await symlink(victim, s.resumePath);
    await symlink(victim, `${s.resumePath}.tmp`);
    assert.equal(await s.readResume(), null);
    await s.writeResume(Buffer.from("resume"));
    assert.equal(await readFile(victim, "utf8"), "precious");
    assert.equal(await readFile(s.resumePath, "utf8"), "resume");
    await s.close();
  });
});
