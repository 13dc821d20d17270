/**
 * Test payloads: deterministic pseudo-random files, torrents made by libtorrent, and a byte-exact
 * comparison of two directory trees.
 * @module
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import { mkdir, open, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { PYTHON } from "../libtorrent.js";
import { clientScript } from "./process.js";

const run = promisify(execFile);

export interface FileSpec {
  /** Relative path, "/"-separated. */
  path: string;
  length: number;
}

const CHUNK = 1 << 20;
const ZEROS = Buffer.alloc(CHUNK);

/**
 * Write the files of `layout` under `dir`: each file's bytes are AES-128-CTR keystream keyed by
 * (seed, path), so the same call always writes the same bytes (hundreds of MB/s).
 * @returns the total number of bytes written
 */
export async function makeContent(
  dir: string,
  layout: readonly FileSpec[],
  seed = "tessera",
): Promise<number> {
  let total = 0;
  for (const f of layout) {
    const target = path.join(dir, ...f.path.split("/"));
    await mkdir(path.dirname(target), { recursive: true });
    const key = createHash("sha256").update(`${seed}\0${f.path}`).digest();
    const cipher = createCipheriv("aes-128-ctr", key.subarray(0, 16), key.subarray(16, 32));
    const fh = await open(target, "w");
    try {
      let left = f.length;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        const bytes = cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
        await fh.write(bytes, 0, bytes.length);
        left -= n;
      }
    } finally {
      await fh.close();
    }
    total += f.length;
  }
  return total;
}

export interface MakeTorrentOptions {
  pieceLength: number;
  /** Announce URLs, one tier each. */
  trackers?: readonly string[];
  /** v1-only (default true); false makes a hybrid v1+v2 torrent unless `kind` says otherwise. */
  v1Only?: boolean;
  kind?: "v1" | "v2" | "hybrid";
  private?: boolean;
  comment?: string;
  /** Where to write the .torrent; default `${contentPath}.torrent`. */
  out?: string;
}

export interface MadeTorrent {
  torrent: string;
  /** v1 info-hash (hex), null for v2-only torrents. */
  infoHash: string | null;
  /** v2 info-hash (64 hex), null for v1-only torrents. */
  infoHashV2: string | null;
  magnet: string;
}

/** Make a torrent of `contentPath` (file or directory) with libtorrent's create_torrent. */
export async function createTorrentWithLibtorrent(
  contentPath: string,
  opts: MakeTorrentOptions,
): Promise<MadeTorrent> {
  const content = path.resolve(contentPath);
  const kind = opts.kind ?? (opts.v1Only === false ? "hybrid" : "v1");
  const cfg = {
    content,
    out: path.resolve(opts.out ?? `${content}.torrent`),
    pieceLength: opts.pieceLength,
    trackers: opts.trackers ?? [],
    kind,
    private: opts.private ?? false,
    comment: opts.comment ?? null,
  };
  const { stdout } = await run(PYTHON, [clientScript("lt_create.py"), JSON.stringify(cfg)], {
    timeout: 120_000,
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout) as MadeTorrent;
}

/** Make a torrent with libtorrent; returns the .torrent's path. */
export async function makeTorrentWithLibtorrent(
  contentPath: string,
  opts: MakeTorrentOptions,
): Promise<string> {
  return (await createTorrentWithLibtorrent(contentPath, opts)).torrent;
}

/** Relative "/"-separated paths of all regular files under `dir`, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await walk(r);
      else out.push(r);
    }
  };
  await walk("");
  return out.sort();
}

export interface CompareOptions {
  /** Leave out files (relative "/" paths) from both trees, e.g. client state files. */
  ignore?: (relPath: string) => boolean;
}

/** Assert that `a` and `b` hold the same files with the same bytes (both may be single files). */
export async function compareTrees(a: string, b: string, opts: CompareOptions = {}): Promise<void> {
  const [sa, sb] = await Promise.all([stat(a), stat(b)]);
  let files: string[];
  if (sa.isFile() || sb.isFile()) {
    assert.ok(sa.isFile() && sb.isFile(), `${a} and ${b}: one is a file, the other is not`);
    files = [""];
  } else {
    const keep = (f: string) => !opts.ignore?.(f);
    const [la, lb] = await Promise.all([listFiles(a), listFiles(b)]);
    files = la.filter(keep);
    assert.deepEqual(lb.filter(keep), files, `file lists differ: ${a} vs ${b}`);
  }
  const bufA = Buffer.alloc(CHUNK);
  const bufB = Buffer.alloc(CHUNK);
  for (const rel of files) {
    const pa = rel === "" ? a : path.join(a, ...rel.split("/"));
    const pb = rel === "" ? b : path.join(b, ...rel.split("/"));
    const [fa, fb] = await Promise.all([open(pa, "r"), open(pb, "r")]);
    try {
      const [ta, tb] = await Promise.all([fa.stat(), fb.stat()]);
      assert.equal(tb.size, ta.size, `size of ${rel || b} differs: ${pa} vs ${pb}`);
      for (let off = 0; off < ta.size; off += CHUNK) {
        const n = Math.min(CHUNK, ta.size - off);
        await Promise.all([fa.read(bufA, 0, n, off), fb.read(bufB, 0, n, off)]);
        if (!bufA.subarray(0, n).equals(bufB.subarray(0, n))) {
          let i = 0;
          while (bufA[i] === bufB[i]) i++;
          assert.fail(`${pa} and ${pb} differ at byte ${off + i}`);
        }
      }
    } finally {
      await Promise.all([fa.close(), fb.close()]);
    }
  }
}
