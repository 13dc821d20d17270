/**
 * `create`: turn a file or a directory into a v1 .torrent, hashing on all cores.
 *
 * Which files go in (deliberate choices, documented in the README):
 * - a directory makes a multi-file torrent named after it; a file makes a single-file torrent;
 * - files are ordered by their path compared component by component as UTF-8 bytes, so the
 *   result does not depend on the order the file system lists entries in;
 * - hidden entries (names starting with `.`) are left out unless `includeHidden` is set, as
 *   libtorrent's and Transmission's creators do;
 * - a symbolic link to a file is followed (its content goes in, as with mktorrent and libtorrent's
 *   default); a link to a directory is not followed (no cycles, no escaping the tree) and is
 *   reported in `warnings`, as are dangling links, sockets, FIFOs and devices.
 */
import { lstat, readdir, stat } from "node:fs/promises";
import path from "node:path";
import { TesseraError } from "../errors.js";
import {
  autoPieceLength,
  buildTorrent,
  MAX_PIECE_LENGTH,
  parseTorrent,
  type TorrentMeta,
} from "../metainfo/index.js";
import { type FileSpan, HashPool } from "../storage/hash-pool.js";

export class CreateError extends TesseraError {}

/** Smallest piece length accepted by `create` (one 16 KiB block). */
export const MIN_PIECE_LENGTH = 16 * 1024;

export interface CreateOptions {
  /** Tracker tiers; a flat list of URLs makes one tier per URL (like mktorrent's `-a`). */
  trackers?: string[] | string[][];
  webSeeds?: string[];
  /** A power of two between {@link MIN_PIECE_LENGTH} and 512 MiB; default chosen from the total size. */
  pieceLength?: number;
  private?: boolean;
  comment?: string;
  /** Seconds since the epoch; `null` leaves the date out (deterministic output). Default: now. */
  creationDate?: number | null;
  createdBy?: string;
  includeHidden?: boolean;
  /** Torrent name; default the base name of the input. */
  name?: string;
  /** A pool to hash with (default: a pool of its own, closed afterwards). */
  hashPool?: HashPool;
  /** Bytes hashed so far, and the total. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface CreateResult {
  /** The encoded .torrent file. */
  torrent: Uint8Array;
  meta: TorrentMeta;
  /** Entries left out, and why. */
  warnings: string[];
}

interface Found {
  rel: string[];
  abs: string;
  length: number;
}

/** Create a .torrent for the file or directory at `inputPath`. */
export async function createTorrent(
  inputPath: string,
  opts: CreateOptions = {},
): Promise<CreateResult> {
  const root = path.resolve(inputPath);
  const warnings: string[] = [];
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(root);
  } catch (e) {
    throw new CreateError(
      "CREATE_INPUT",
      `cannot read ${inputPath}: ${(e as NodeJS.ErrnoException).code ?? e}`,
      { cause: e },
    );
  }
  const name = opts.name ?? path.basename(root);
  if (name === "" || name === "." || name === "..") {
    throw new CreateError(
      "CREATE_INPUT",
      `cannot name a torrent after ${JSON.stringify(inputPath)}; give a name`,
    );
  }
  let found: Found[];
  let single: boolean;
  if (st.isFile()) {
    single = true;
    found = [{ rel: [name], abs: root, length: st.size }];
  } else if (st.isDirectory()) {
    single = false;
    found = [];
    await walk(root, [], found, warnings, opts.includeHidden ?? false);
    found.sort((a, b) => comparePaths(a.rel, b.rel));
    if (found.length === 0)
      throw new CreateError("CREATE_EMPTY", `${inputPath} holds no files to share`);
  } else {
    throw new CreateError("CREATE_INPUT", `${inputPath} is neither a file nor a directory`);
  }
  const total = found.reduce((s, f) => s + f.length, 0);
  if (total === 0) throw new CreateError("CREATE_EMPTY", `${inputPath} holds only empty files`);

  const pieceLength = opts.pieceLength ?? autoPieceLength(total);
  if (
    !Number.isInteger(pieceLength) ||
    pieceLength < MIN_PIECE_LENGTH ||
    pieceLength > MAX_PIECE_LENGTH ||
    (pieceLength & (pieceLength - 1)) !== 0
  ) {
    throw new CreateError(
      "CREATE_PIECE_LENGTH",
      `piece length ${pieceLength} must be a power of two from ${MIN_PIECE_LENGTH} to ${MAX_PIECE_LENGTH}`,
    );
  }

  const pool = opts.hashPool ?? new HashPool();
  let hashes: Uint8Array;
  try {
    const spans: FileSpan[] = found.map((f) => ({ path: f.abs, length: f.length }));
    hashes = await pool.hashFiles(spans, pieceLength, {
      ...(opts.onProgress ? { onProgress: (done: number) => opts.onProgress?.(done, total) } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  } finally {
    if (opts.hashPool === undefined) await pool.close();
  }

  const trackers = (opts.trackers ?? []).map((t) => (Array.isArray(t) ? t : [t]));
  const torrent = buildTorrent({
    name,
    ...(single
      ? { length: total }
      : { files: found.map((f) => ({ path: f.rel, length: f.length })) }),
    pieceLength,
    pieceHashes: hashes,
    trackers,
    webSeeds: opts.webSeeds ?? [],
    ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
    ...(opts.createdBy !== undefined ? { createdBy: opts.createdBy } : {}),
    ...(opts.creationDate !== null
      ? { creationDate: opts.creationDate ?? Math.floor(Date.now() / 1000) }
      : {}),
    private: opts.private ?? false,
  });
  return { torrent, meta: parseTorrent(torrent), warnings };
}

async function walk(
  dir: string,
  rel: string[],
  out: Found[],
  warnings: string[],
  hidden: boolean,
): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    if (!hidden && e.name.startsWith(".")) continue;
    const abs = path.join(dir, e.name);
    const relPath = [...rel, e.name];
    const shown = relPath.join("/");
    if (e.isSymbolicLink()) {
      let target: Awaited<ReturnType<typeof stat>>;
      try {
        target = await stat(abs);
      } catch {
        warnings.push(`${shown}: dangling symbolic link left out`);
        continue;
      }
      if (target.isFile()) out.push({ rel: relPath, abs, length: target.size });
      else
        warnings.push(
          `${shown}: symbolic link to a ${target.isDirectory() ? "directory" : "special file"} not followed`,
        );
    } else if (e.isDirectory()) {
      await walk(abs, relPath, out, warnings, hidden);
    } else if (e.isFile()) {
      const s = await lstat(abs);
      out.push({ rel: relPath, abs, length: s.size });
    } else {
      warnings.push(`${shown}: special file left out`);
    }
  }
}

/** Order of paths: component by component, each compared as UTF-8 bytes. */
function comparePaths(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = Buffer.compare(Buffer.from(a[i]!), Buffer.from(b[i]!));
    if (c !== 0) return c;
  }
  return a.length - b.length;
}
