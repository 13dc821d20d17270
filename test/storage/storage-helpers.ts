import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { TorrentFile } from "../../src/metainfo/types.js";
import type { StorageMeta } from "../../src/storage/storage.js";

export const KIB = 1024;
export const MIB = 1024 * KIB;

/** A real file (path relative to the download directory) or a BEP 47 padding file of zeros. */
export type Spec = { path: string[]; size: number } | { pad: number };

export interface Fixture {
  meta: StorageMeta;
  /** The torrent's concatenated data (padding as zeros). */
  data: Buffer;
}

/** Builds torrent metadata (with real piece hashes) over random content. */
export function makeTorrent(specs: Spec[], pieceLength: number): Fixture {
  const files: TorrentFile[] = [];
  const parts: Buffer[] = [];
  let offset = 0;
  let pads = 0;
  for (const s of specs) {
    const isPad = "pad" in s;
    const length = isPad ? s.pad : s.size;
    files.push({
      path: isPad ? [".pad", String(pads++)] : s.path,
      length,
      offset,
      padding: isPad,
      executable: false,
      hidden: false,
    });
    parts.push(isPad ? Buffer.alloc(length) : randomBytes(length));
    offset += length;
  }
  const data = Buffer.concat(parts);
  return { meta: metaFor(files, data, pieceLength), data };
}

export function metaFor(files: TorrentFile[], data: Uint8Array, pieceLength: number): StorageMeta {
  const pieceCount = Math.ceil(data.length / pieceLength);
  const pieceHashes = new Uint8Array(pieceCount * 20);
  for (let i = 0; i < pieceCount; i++) {
    pieceHashes.set(
      createHash("sha1")
        .update(data.subarray(i * pieceLength, (i + 1) * pieceLength))
        .digest(),
      i * 20,
    );
  }
  return {
    files,
    pieceLength,
    length: data.length,
    pieceCount,
    pieceHashes,
    infoHashHex: randomBytes(20).toString("hex"),
  };
}

export function piece(f: Fixture, i: number): Buffer {
  const pl = f.meta.pieceLength;
  return Buffer.from(f.data.subarray(i * pl, Math.min((i + 1) * pl, f.data.length)));
}

/** The bytes of file `i` in the torrent data. */
export function fileBytes(f: Fixture, i: number): Buffer {
  const file = f.meta.files[i]!;
  return f.data.subarray(file.offset, file.offset + file.length);
}

/** Pieces overlapping file `i`. */
export function piecesOf(f: Fixture, i: number): number[] {
  const file = f.meta.files[i]!;
  const pl = f.meta.pieceLength;
  if (file.length === 0) return [];
  const out: number[] = [];
  for (
    let p = Math.floor(file.offset / pl);
    p <= Math.floor((file.offset + file.length - 1) / pl);
    p++
  ) {
    out.push(p);
  }
  return out;
}

/** Deterministic PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  const r = rng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export async function tempDir(prefix = "tessera-storage-"): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}

/** Every path under `dir` (relative, sorted), directories marked with a trailing slash. */
export async function tree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((e) => {
      const rel = path.relative(dir, path.join(e.parentPath, e.name));
      return e.isDirectory() ? `${rel}/` : rel;
    })
    .sort();
}
