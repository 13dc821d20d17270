/**
 * Payloads for the engine interop tests (engine-*.test.ts): multi-file content made by
 * makeContent, v1 torrents made by libtorrent, and checks on the layout they got.
 * @module
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { parseTorrent, type TorrentMeta } from "../../src/metainfo/index.js";
import { createTorrentWithLibtorrent, type FileSpec, makeContent } from "./clients/index.js";

export const KIB = 1024;
export const MIB = 1024 * KIB;

/**
 * 64+ MiB in 5 files of odd sizes: a zero-length file, nested directories, every boundary
 * between non-empty files inside a piece (for 256 KiB and 1 MiB pieces alike).
 */
export const BIG_LAYOUT: FileSpec[] = [
  { path: "alpha.bin", length: 31_000_001 },
  { path: "docs/empty.txt", length: 0 },
  { path: "docs/nested/deep/beta.dat", length: 22_474_837 },
  { path: "gamma/delta.bin", length: 14_000_003 },
  { path: "z-last.txt", length: 77 },
];

/** ~12 MiB for the seeding tests: nested dirs, a zero-length file, boundaries inside pieces. */
export const MID_LAYOUT: FileSpec[] = [
  { path: "one.bin", length: 5_000_011 },
  { path: "sub/two.bin", length: 4_194_305 },
  { path: "sub/zero", length: 0 },
  { path: "sub/deeper/three.txt", length: 3_333_333 },
];

export interface Fixture {
  /** libtorrent's save_path / `tessera seed` DIR: holds `content/`. */
  dataDir: string;
  /** The content's root directory (the torrent's name is "content"). */
  content: string;
  torrent: string;
  infoHash: string;
  meta: TorrentMeta;
}

/** Content under dir/seed/content and its v1 torrent (by libtorrent) at dir/<name>.torrent. */
export async function makeFixture(
  dir: string,
  layout: readonly FileSpec[],
  pieceLength: number,
  opts: { trackers?: string[]; name?: string; seed?: string } = {},
): Promise<Fixture> {
  const dataDir = path.join(dir, "seed");
  const content = path.join(dataDir, "content");
  await makeContent(content, layout, opts.seed);
  const made = await createTorrentWithLibtorrent(content, {
    pieceLength,
    trackers: opts.trackers ?? [],
    kind: "v1",
    out: path.join(dir, `${opts.name ?? "content"}.torrent`),
  });
  const meta = parseTorrent(await readFile(made.torrent));
  assert.equal(meta.infoHashHex, made.infoHash);
  return { dataDir, content, torrent: made.torrent, infoHash: made.infoHash!, meta };
}

/** Number of pieces that hold bytes of two or more files (padding files count as files). */
export function piecesSpanningFiles(meta: TorrentMeta): number {
  let n = 0;
  for (let p = 0; p < meta.pieceCount; p++) {
    const start = p * meta.pieceLength;
    const end = Math.min(start + meta.pieceLength, meta.length);
    const touching = meta.files.filter(
      (f) => f.length > 0 && f.offset < end && f.offset + f.length > start,
    );
    if (touching.length > 1) n++;
  }
  return n;
}

/** A file's index as `tessera info` and `--select` count them (padding files left out). */
export function visibleIndex(meta: TorrentMeta, relPath: string): number {
  const visible = meta.files.filter((f) => !f.padding);
  // Paths in the meta start with the torrent's name for multi-file torrents.
  const i = visible.findIndex((f) => f.path.slice(1).join("/") === relPath);
  assert.ok(i >= 0, `${relPath} is not in the torrent (${visible.map((f) => f.path.join("/"))})`);
  return i;
}
