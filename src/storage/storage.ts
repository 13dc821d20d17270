/**
 * TorrentStorage: the edge that touches the files of one torrent.
 *
 * Layout on disk: file `i` lives at `downloadDir/<files[i].path joined>` (the first component is
 * the torrent name for multi-file torrents). Files are sparse: they are created on the first write
 * that touches them and grow as writes land (like libtorrent's default sparse allocation); nothing
 * is ever truncated, so a new TorrentStorage over existing files resumes by {@link recheck}.
 *
 * Decisions:
 * - **Path safety.** `downloadDir` itself may be a symlink (the user chose it); it is resolved with
 *   realpath once. Below it, every directory on the way to a file is checked with lstat, component
 *   by component, before it is used (created if missing when writing): a symlink or a non-directory
 *   gives STORAGE_UNSAFE_PATH. Files are opened with O_NOFOLLOW (a symlinked file is refused) and
 *   O_NONBLOCK (a planted FIFO cannot hang us), never with O_TRUNC, and must be regular files
 *   (fstat). Checked directories are remembered for the life of the storage; a local attacker who
 *   swaps a checked directory for a symlink while we run is out of scope (Node has no openat).
 * - **Zero-length files** are created when the piece where they sit (the piece holding their
 *   offset; the last piece for files at the very end) is written, so a completed download has all
 *   its files; {@link createEmptyFiles} creates them all at once (e.g. after a recheck finds the
 *   torrent complete). BEP 47 symlink entries are not created.
 * - **Padding files** (`padding: true`) are never opened: writes skip them, reads give zeros.
 * - **Skipped files** (`wantedFiles[i] === false`) are never created. Their bytes inside written
 *   pieces go to the part file `downloadDir/.<infoHashHex>.parts` (see part-file.ts), from which
 *   {@link readBlock} serves them and {@link recheck} verifies those pieces. Making a skipped file
 *   wanted later (a new TorrentStorage) does not move data out of the part file: a recheck fails
 *   the pieces that need it and they are downloaded again.
 * - **Read cache and read-ahead.** The cache holds chunks of `min(pieceLength, readAheadBytes)`
 *   (default 1 MiB, so a whole piece for pieces up to 1 MiB): a miss reads the whole chunk around
 *   the block, since peers ask for the blocks of a piece in sequence. Chunks are kept in an LRU
 *   bounded by bytes (`readCacheBytes`, default 32 MiB) and dropped when their piece is written.
 *   Blocks are returned as views of cached chunks: the caller may send them but must not modify
 *   them. A block of a piece whose write is still in flight is copied from the piece being written.
 *   Chunk buffers are reused once the cache has dropped them and no view of them is out:
 *   {@link peekBlock} views count until {@link releaseBlock}; a chunk a {@link readBlock} view was
 *   taken from is never reused.
 * - **Writes.** One `filehandle.writev` per file span of the piece (subarrays of the caller's
 *   buffer, no copies), spans of different files in parallel. `pendingWriteBytes` counts bytes
 *   accepted but not yet written; callers pause reading from peers while `whenWritable()` waits.
 *   The caller must not modify a piece buffer until its writePiece settles.
 * - **Errors** are StorageError (STORAGE_IO with errno `reason` and `path`, STORAGE_UNSAFE_PATH,
 *   STORAGE_INVALID_ARGUMENT, STORAGE_CLOSED); every method reports them by rejecting, and a
 *   failing write rejects only its own call (the piece may then be partly on disk).
 */
import { constants as fsc, type Stats } from "node:fs";
import { type FileHandle, lstat, mkdir, open, realpath, rename, unlink } from "node:fs/promises";
import path from "node:path";
import type { TorrentMeta } from "../metainfo/types.js";
import { Bitfield } from "../util/bitfield.js";
import {
  errnoCode,
  invalidArgument,
  ioError,
  StorageError,
  settleAll,
  unsafePathError,
} from "./errors.js";
import { HandleCache } from "./file-handles.js";
import { type FileSpan, HashAbortedError, HashPool } from "./hash-pool.js";
import { O_NOFOLLOW, O_NONBLOCK, PartFile, writeFully } from "./part-file.js";
import { FILE_PADDING, FILE_SKIPPED, FILE_WANTED, type FileState } from "./resume.js";

export { StorageError, type StorageErrorCode } from "./errors.js";

const MIB = 1 << 20;
export const DEFAULT_READ_CACHE_BYTES = 32 * MIB;
export const DEFAULT_MAX_PENDING_WRITE_BYTES = 64 * MIB;
/**
 * Bytes read from disk at a time to serve peers (a read-cache chunk). 256 KiB rather than 1 MiB:
 * the kernel's copy into a chunk that was just freed then stays in the core's L2 (512 KiB on the
 * bench machine). Serving 1 GiB to a libtorrent leecher: libuv's reads 0.65–1.05 → 0.25–0.3
 * sys-s, seed CPU (median of 4) 1.65 → 1.48 s (bench/README.md, (d)).
 */
export const DEFAULT_READ_AHEAD_BYTES = 256 * 1024;
/**
 * Bytes of chunk buffers kept for reuse after the cache drops them. Reusing them spares a seed an
 * allocation, fresh page faults and external-memory GC per chunk read (bench (d)); the most
 * recently freed goes out first, while its memory is still in cache.
 */
const SPARE_BYTES = 8 * MIB;
export const DEFAULT_MAX_OPEN_FILES = 64;
/**
 * Largest single write of {@link TorrentStorage.writePieces}. On Linux 6.x/ext4, writes of
 * 2-16 MiB into the page cache cost 2-3 sys CPU-s per GiB against 0.3 s for 1 MiB writes, and
 * 256 KiB writes cost less again: downloading 1 GiB from libtorrent, libuv's write time fell
 * from 0.71-0.85 to 0.44-0.58 sys-s (1 MiB pieces) and from 0.77 to 0.44 (16 MiB pieces)
 * (measured on the benchmark machine: bench/README.md).
 */
export const MAX_WRITE_BYTES = 256 * 1024;
/** lstat calls in flight while a recheck checks the files' paths. */
const PATH_CHECK_CONCURRENCY = 32;
const SHA1_SIZE = 20;
/** Resume files larger than this are not read (2M pieces and 1M files stay far below). */
export const MAX_RESUME_BYTES = 64 * MIB;

export type StorageMeta = Pick<
  TorrentMeta,
  "files" | "pieceLength" | "length" | "pieceCount" | "pieceHashes" | "infoHashHex"
>;

export interface TorrentStorageOptions {
  /** Pool used by recheck; by default the storage starts its own (closed by close()). */
  hashPool?: HashPool;
  /** Bytes of the read cache; 0 disables caching and read-ahead. Default 32 MiB. */
  readCacheBytes?: number;
  /** Bytes read on a cache miss (capped to the piece). Default 1 MiB. */
  readAheadBytes?: number;
  /** Threshold of {@link TorrentStorage.whenWritable}. Default 64 MiB. */
  maxPendingWriteBytes?: number;
  /** One flag per file; false = skipped (never created, see the part file). Default all true. */
  wantedFiles?: readonly boolean[];
  /** File handles kept open. Default 64. */
  maxOpenFiles?: number;
}

export interface RecheckOptions {
  /** Bytes checked so far (throttled by the hash pool for files; once per part-file piece). */
  onProgress?: (bytes: number) => void;
  /** Aborting rejects with HashAbortedError (name "AbortError"). */
  signal?: AbortSignal;
  /** Only check these pieces; the others are reported missing. Default all pieces. */
  pieces?: Iterable<number>;
}

export interface ReadCacheStats {
  /** Blocks served from a cached (or loading) chunk. */
  hits: number;
  /** Chunks read from disk. */
  misses: number;
  /** Bytes held by the cache. */
  bytes: number;
}

const WANTED = 0;
const PADDING = 1;
const SKIPPED = 2;

/** A run of one file inside a byte range of the torrent. */
interface Span {
  file: number;
  /** Position inside the file. */
  pos: number;
  len: number;
}

/** Maps byte ranges of the torrent to file spans (non-empty files only). */
class Layout {
  readonly #index: number[] = [];
  readonly #starts: number[] = [];
  readonly #lengths: number[] = [];

  constructor(files: StorageMeta["files"]) {
    files.forEach((f, i) => {
      if (f.length === 0) return;
      this.#index.push(i);
      this.#starts.push(f.offset);
      this.#lengths.push(f.length);
    });
  }

  spans(start: number, end: number): Span[] {
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (starts[mid]! <= start) lo = mid;
      else hi = mid - 1;
    }
    const out: Span[] = [];
    let at = start;
    for (let k = lo; at < end; k++) {
      const pos = at - starts[k]!;
      const len = Math.min(this.#lengths[k]! - pos, end - at);
      out.push({ file: this.#index[k]!, pos, len });
      at += len;
    }
    return out;
  }
}

interface Loading {
  promise: Promise<Uint8Array>;
  /** The piece was written meanwhile: do not cache the result. */
  stale: boolean;
}

/** A cached chunk with views out from peekBlock. */
interface Pin {
  views: number;
  /** The cache has let go of the chunk: reuse it when the last view comes back. */
  dropped: boolean;
  chunk: Buffer;
}

export class TorrentStorage {
  readonly #meta: StorageMeta;
  /** path.resolve(downloadDir), for messages and before the directory exists. */
  readonly #dir: string;
  /** realpath of the download directory, once known. */
  #root: string | null = null;
  #rootPrefix = "";
  readonly #kinds: Uint8Array;
  readonly #layout: Layout;
  /** 1 for pieces that hold bytes of a skipped file; null when no file is skipped. */
  readonly #viaPart: Uint8Array | null;
  /** Wanted zero-length files by the piece where they sit. */
  readonly #emptyByPiece = new Map<number, number[]>();
  readonly #emptyCreated = new Set<number>();
  readonly #safeDirs = new Set<string>();
  readonly #handles: HandleCache;
  readonly #partName: string;
  readonly #resumeName: string;
  /** Files written since the last sync(). */
  readonly #dirty = new Set<number>();
  #partDirty = false;
  #part: PartFile | null = null;
  #partChain: Promise<unknown> = Promise.resolve();

  readonly #maxPending: number;
  #pending = 0;
  #writeWaiters: Array<() => void> = [];
  readonly #writes = new Set<Promise<unknown>>();
  /** Pieces being written, for reads that arrive meanwhile. */
  readonly #inflight = new Map<number, Uint8Array>();

  readonly #chunk: number;
  readonly #maxSpare: number;
  readonly #chunksPerPiece: number;
  readonly #cacheMax: number;
  readonly #cache = new Map<number, Uint8Array>();
  readonly #loading = new Map<number, Loading>();
  /** Chunks with views out from peekBlock: how many, and whether the cache has let go of it. */
  readonly #pins = new WeakMap<ArrayBufferLike, Pin>();
  /** Chunks a readBlock view was taken from: the caller may hold it forever, so never reused. */
  readonly #exposed = new WeakSet<ArrayBufferLike>();
  /** Full-size chunk buffers the cache let go of and nothing references: reused by the next miss. */
  readonly #spare: Buffer[] = [];
  #cacheBytes = 0;
  #hits = 0;
  #misses = 0;

  readonly #pool: HashPool | undefined;
  #ownPool: HashPool | null = null;
  readonly #ops = new Set<Promise<unknown>>();
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(meta: StorageMeta, downloadDir: string, opts: TorrentStorageOptions = {}) {
    checkMeta(meta);
    if (typeof downloadDir !== "string" || downloadDir === "") {
      throw invalidArgument("downloadDir must be a non-empty path");
    }
    const wanted = opts.wantedFiles;
    if (wanted !== undefined && wanted.length !== meta.files.length) {
      throw invalidArgument(
        `wantedFiles has ${wanted.length} entries for ${meta.files.length} files`,
      );
    }
    this.#meta = meta;
    this.#dir = path.resolve(downloadDir);
    this.#partName = `.${meta.infoHashHex.toLowerCase()}.parts`;
    this.#resumeName = `.${meta.infoHashHex.toLowerCase()}.resume`;
    this.#layout = new Layout(meta.files);
    const pl = meta.pieceLength;

    this.#kinds = new Uint8Array(meta.files.length);
    let viaPart: Uint8Array | null = null;
    meta.files.forEach((f, i) => {
      checkComponents(f.path, i);
      if (f.padding) {
        this.#kinds[i] = PADDING;
      } else if (wanted?.[i] === false) {
        this.#kinds[i] = SKIPPED;
        if (f.length > 0) {
          viaPart ??= new Uint8Array(meta.pieceCount);
          const last = Math.floor((f.offset + f.length - 1) / pl);
          for (let p = Math.floor(f.offset / pl); p <= last; p++) viaPart[p] = 1;
        }
      } else if (f.length === 0 && f.symlinkTarget === undefined) {
        const p = Math.min(Math.floor(f.offset / pl), meta.pieceCount - 1);
        const list = this.#emptyByPiece.get(p);
        if (list === undefined) this.#emptyByPiece.set(p, [i]);
        else list.push(i);
      }
    });
    this.#viaPart = viaPart;

    this.#maxPending = positiveOption(
      opts.maxPendingWriteBytes,
      DEFAULT_MAX_PENDING_WRITE_BYTES,
      "maxPendingWriteBytes",
    );
    this.#cacheMax = nonNegativeOption(
      opts.readCacheBytes,
      DEFAULT_READ_CACHE_BYTES,
      "readCacheBytes",
    );
    const readAhead = positiveOption(
      opts.readAheadBytes,
      DEFAULT_READ_AHEAD_BYTES,
      "readAheadBytes",
    );
    this.#chunk = Math.min(pl, readAhead);
    this.#chunksPerPiece = Math.ceil(pl / this.#chunk);
    this.#maxSpare = Math.max(1, Math.floor(SPARE_BYTES / this.#chunk));
    const maxOpen = positiveOption(opts.maxOpenFiles, DEFAULT_MAX_OPEN_FILES, "maxOpenFiles");
    this.#handles = new HandleCache(maxOpen, (i, w) => this.#openFile(i, w));
    this.#pool = opts.hashPool;
  }

  /** Bytes accepted by writePiece and not yet written. */
  get pendingWriteBytes(): number {
    return this.#pending;
  }

  /** Resolves when pendingWriteBytes is below maxPendingWriteBytes (at once if it is, or once closed). */
  whenWritable(): Promise<void> {
    if (this.#pending < this.#maxPending || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#writeWaiters.push(resolve));
  }

  /** File handles open now (bounded by maxOpenFiles unless they are all busy). */
  get openFiles(): number {
    return this.#handles.size;
  }

  /** Read cache counters (for tests and statistics). */
  get cacheStats(): ReadCacheStats {
    return { hits: this.#hits, misses: this.#misses, bytes: this.#cacheBytes };
  }

  /** Where file `index` lives (downloadDir joined with its path; not resolved). */
  filePath(index: number): string {
    const f = this.#meta.files[index];
    if (f === undefined) throw invalidArgument(`file index ${index} is out of range`);
    return path.join(this.#dir, ...f.path);
  }

  /** Path of the part file (which exists only once a skipped file's bytes were written). */
  get partFilePath(): string {
    return path.join(this.#dir, this.#partName);
  }

  /**
   * Writes a verified piece (`data.length` = the piece's size). Resolves when the data is with the
   * OS (page cache). The caller must not modify `data` until the promise settles.
   */
  writePiece(index: number, data: Uint8Array): Promise<void> {
    return this.#run(async () => {
      const size = this.#pieceSize(index);
      if (!(data instanceof Uint8Array) || data.length !== size) {
        throw invalidArgument(
          `piece ${index} is ${size} bytes, got ${data instanceof Uint8Array ? data.length : typeof data}`,
        );
      }
      this.#pending += size;
      this.#inflight.set(index, data);
      this.#invalidate(index);
      const done = this.#writePiece(index, data).finally(() => {
        if (this.#inflight.get(index) === data) this.#inflight.delete(index);
        this.#invalidate(index);
        this.#pending -= size;
        this.#wakeWriters();
      });
      this.#writes.add(done);
      done.then(
        () => this.#writes.delete(done),
        () => this.#writes.delete(done),
      );
      await done;
    });
  }

  /**
   * Writes verified pieces `first`, `first + 1`, ... (`pieces[i]` is piece `first + i`, of its
   * piece's size) with one vectored write per file span instead of one write per piece: with
   * small pieces the per-write overhead is most of the cost. Each write call covers at most
   * {@link MAX_WRITE_BYTES}. Same contract as writePiece; pieces that touch a skipped file or
   * place an empty file are written one by one, as writePiece does.
   */
  writePieces(first: number, pieces: readonly Uint8Array[]): Promise<void> {
    return this.#run(async () => {
      let total = 0;
      let simple = true;
      for (let i = 0; i < pieces.length; i++) {
        const index = first + i;
        const size = this.#pieceSize(index);
        const data = pieces[i];
        if (!(data instanceof Uint8Array) || data.length !== size) {
          throw invalidArgument(
            `piece ${index} is ${size} bytes, got ${data instanceof Uint8Array ? data.length : typeof data}`,
          );
        }
        total += size;
        if (this.#viaPart?.[index] === 1 || this.#emptyByPiece.has(index)) simple = false;
      }
      this.#pending += total;
      for (let i = 0; i < pieces.length; i++) {
        this.#inflight.set(first + i, pieces[i]!);
        this.#invalidate(first + i);
      }
      const write = simple
        ? this.#writeRun(first * this.#meta.pieceLength, pieces, total)
        : settleAll(pieces.map((data, i) => this.#writePiece(first + i, data)));
      const done = write.finally(() => {
        for (let i = 0; i < pieces.length; i++) {
          if (this.#inflight.get(first + i) === pieces[i]) this.#inflight.delete(first + i);
          this.#invalidate(first + i);
        }
        this.#pending -= total;
        this.#wakeWriters();
      });
      this.#writes.add(done);
      done.then(
        () => this.#writes.delete(done),
        () => this.#writes.delete(done),
      );
      await done;
    });
  }

  /** Throws STORAGE_INVALID_ARGUMENT unless the block lies inside piece `index`. */
  #checkBlock(index: number, begin: number, length: number): void {
    const size = this.#pieceSize(index);
    if (
      !Number.isInteger(begin) ||
      !Number.isInteger(length) ||
      begin < 0 ||
      length <= 0 ||
      begin + length > size
    ) {
      throw invalidArgument(`block ${begin}+${length} is outside piece ${index} (${size} bytes)`);
    }
  }

  /**
   * Reads `length` bytes at `begin` of piece `index`. The result may be a view of a cached
   * chunk: send it, do not modify it.
   */
  readBlock(index: number, begin: number, length: number): Promise<Uint8Array> {
    return this.#run(async () => {
      this.#checkBlock(index, begin, length);
      const writing = this.#inflight.get(index);
      if (writing !== undefined) return Buffer.from(writing.subarray(begin, begin + length));
      const chunk = this.#chunk;
      if (this.#cacheMax < chunk) {
        const out = Buffer.allocUnsafeSlow(length);
        await this.#readInto(index, begin, out);
        return out;
      }
      const c0 = Math.floor(begin / chunk);
      const c1 = Math.floor((begin + length - 1) / chunk);
      if (c0 === c1) {
        const buf = await this.#getChunk(index, c0);
        const off = begin - c0 * chunk;
        this.#exposed.add(buf.buffer);
        return buf.subarray(off, off + length);
      }
      const out = Buffer.allocUnsafeSlow(length);
      for (let c = c0; c <= c1; c++) {
        const buf = await this.#getChunk(index, c);
        const from = Math.max(begin, c * chunk);
        const to = Math.min(begin + length, c * chunk + buf.length);
        out.set(buf.subarray(from - c * chunk, to - c * chunk), from - begin);
      }
      return out;
    });
  }

  /**
   * The block if it can be had without I/O: a view of a cached chunk (send it, do not modify it),
   * or undefined (not cached, spans two chunks, being written, bad range, closed), in which case
   * {@link prefetchBlock} or {@link readBlock} gets it. Lets a caller serve many cached blocks in
   * one synchronous pass. The view stays valid until it is given back with {@link releaseBlock}:
   * till then its chunk is not reused, even if the cache drops it.
   */
  peekBlock(index: number, begin: number, length: number): Uint8Array | undefined {
    if (this.#closed || this.#inflight.has(index)) return undefined;
    const chunk = this.#chunk;
    if (this.#cacheMax < chunk || !Number.isInteger(begin) || begin < 0 || length <= 0) {
      return undefined;
    }
    const c = Math.floor(begin / chunk);
    if (Math.floor((begin + length - 1) / chunk) !== c) return undefined;
    const key = index * this.#chunksPerPiece + c;
    const buf = this.#cache.get(key);
    const off = begin - c * chunk;
    if (buf === undefined || off + length > buf.length) return undefined;
    this.#cache.delete(key);
    this.#cache.set(key, buf);
    this.#hits++;
    const pin = this.#pins.get(buf.buffer);
    if (pin !== undefined) pin.views++;
    else this.#pins.set(buf.buffer, { views: 1, dropped: false, chunk: buf as Buffer });
    return buf.subarray(off, off + length);
  }

  /**
   * Gives back a view from {@link peekBlock} once it is no longer used (e.g. the socket has
   * written it). A view never given back only keeps its chunk from being reused.
   */
  releaseBlock(view: Uint8Array): void {
    const pin = this.#pins.get(view.buffer);
    if (pin === undefined || --pin.views > 0) return;
    this.#pins.delete(view.buffer);
    if (pin.dropped) this.#reuse(pin.chunk);
  }

  /**
   * Read-ahead: starts loading the chunk(s) holding a block into the read cache unless they are
   * there or on their way, and returns at once. Failures are dropped (a later read meets them).
   */
  warmBlock(index: number, begin: number, length: number): void {
    const chunk = this.#chunk;
    const { pieceCount, pieceLength, length: total } = this.#meta;
    if (this.#closed || this.#cacheMax < chunk || this.#inflight.has(index)) return;
    if (!Number.isInteger(index) || index < 0 || index >= pieceCount) return;
    const size = Math.min(pieceLength, total - index * pieceLength);
    if (!Number.isInteger(begin) || !Number.isInteger(length)) return;
    if (begin < 0 || length <= 0 || begin + length > size) return;
    const c1 = Math.floor((begin + length - 1) / chunk);
    for (let c = Math.floor(begin / chunk); c <= c1; c++) {
      const key = index * this.#chunksPerPiece + c;
      if (this.#cache.has(key) || this.#loading.has(key)) continue;
      this.#run(() => this.#getChunk(index, c)).catch(() => {});
    }
  }

  /**
   * Loads the chunk(s) holding a block into the read cache without handing anything out, so that
   * {@link peekBlock} finds it. Resolves at once when there is no cache. Rejects as readBlock.
   */
  prefetchBlock(index: number, begin: number, length: number): Promise<void> {
    return this.#run(async () => {
      this.#checkBlock(index, begin, length);
      const chunk = this.#chunk;
      if (this.#cacheMax < chunk || this.#inflight.has(index)) return;
      const c1 = Math.floor((begin + length - 1) / chunk);
      for (let c = Math.floor(begin / chunk); c <= c1; c++) await this.#getChunk(index, c);
    });
  }

  /**
   * Resume by recheck: hashes what is on disk and returns the pieces that match. Missing or short
   * files fail the pieces they touch; pieces holding bytes of skipped files are read back from
   * the part file (and fail if it lacks them). Waits for writes in flight first. Rejects with
   * STORAGE_UNSAFE_PATH if a path on the way is a symlink, not with per-file I/O errors.
   */
  recheck(opts: RecheckOptions = {}): Promise<Bitfield> {
    return this.#run(async () => {
      const { signal, onProgress } = opts;
      const n = this.#meta.pieceCount;
      let only: Uint8Array | null = null;
      if (opts.pieces !== undefined) {
        only = new Uint8Array(n);
        for (const p of opts.pieces) {
          if (!Number.isInteger(p) || p < 0 || p >= n) {
            throw invalidArgument(`piece index ${p} is out of range 0..${n - 1}`);
          }
          only[p] = 1;
        }
      }
      if (signal?.aborted) throw new HashAbortedError(signal.reason);
      await Promise.allSettled([...this.#writes]);
      const result = new Bitfield(n);
      const root = await this.#getRoot(false);
      if (root === null) {
        onProgress?.(0);
        return result;
      }
      await this.#checkPaths(root);

      const direct: number[] = [];
      const viaPart: number[] = [];
      for (let p = 0; p < n; p++) {
        if (only !== null && only[p] === 0) continue;
        if (this.#viaPart?.[p] === 1) viaPart.push(p);
        else direct.push(p);
      }
      const pool = this.#hashPool();
      let directBytes = 0;
      let partBytes = 0;
      const report = () => onProgress?.(directBytes + partBytes);
      const spans: FileSpan[] = this.#meta.files.map((f, i) => ({
        path: this.#kinds[i] === WANTED ? this.#absPath(root, i) : null,
        length: f.length,
      }));
      const directP =
        direct.length === 0
          ? Promise.resolve(null)
          : pool.verifyFiles(spans, this.#meta.pieceLength, this.#meta.pieceHashes, {
              pieces: direct,
              signal,
              onProgress: (b) => {
                directBytes = b;
                report();
              },
            });
      const partP = this.#recheckViaPart(viaPart, result, pool, signal, (b) => {
        partBytes += b;
        report();
      });
      const [ok] = await Promise.all([directP, partP]);
      if (ok !== null) for (const p of direct) if (ok[p] === 1) result.set(p);
      if (direct.length === 0 && viaPart.length === 0) onProgress?.(0);
      return result;
    });
  }

  /** Creates every wanted zero-length file (and its directories) that does not exist yet. */
  createEmptyFiles(): Promise<void> {
    return this.#run(async () => {
      const tasks: Promise<void>[] = [];
      for (const list of this.#emptyByPiece.values()) {
        for (const i of list) tasks.push(this.#createEmpty(i));
      }
      await settleAll(tasks);
    });
  }

  /**
   * Waits for writes in flight, then datasyncs every file written since the last sync (reopening
   * it if its handle was closed meanwhile) and the part file. On failure the files not yet synced
   * stay dirty.
   */
  sync(): Promise<void> {
    return this.#run(async () => {
      await Promise.allSettled([...this.#writes]);
      for (const file of [...this.#dirty]) {
        this.#dirty.delete(file);
        try {
          await this.#handles.use(file, true, (fh) => fh.datasync());
        } catch (err) {
          this.#dirty.add(file);
          throw ioError(err, "syncing", this.filePath(file));
        }
      }
      if (this.#partDirty) {
        this.#partDirty = false;
        try {
          await this.#part?.sync();
        } catch (err) {
          this.#partDirty = true;
          throw ioError(err, "syncing", this.partFilePath);
        }
      }
    });
  }

  /** Resolves once the writes accepted so far have landed (in the page cache; no fsync). */
  settle(): Promise<void> {
    return this.#run(async () => {
      await Promise.allSettled([...this.#writes]);
    });
  }

  /** Pieces that keep bytes of skipped files in the part file (null when no file is skipped). */
  get viaPartPieces(): Uint8Array | null {
    return this.#viaPart;
  }

  /** Path of the resume file. */
  get resumePath(): string {
    return path.join(this.#dir, this.#resumeName);
  }

  /**
   * Kind, size and mtime of every file (size and mtime -1 for files that do not exist, and for
   * padding and skipped files, which are never read from their own path), and of the part file.
   * A path that is not a safe regular file reads as missing, so its pieces get rechecked (and the
   * recheck reports it).
   */
  fileStates(): Promise<{ files: FileState[]; parts?: { size: number; mtimeUs: number } }> {
    return this.#run(async () => {
      const root = await this.#getRoot(false);
      const files: FileState[] = this.#meta.files.map((_, i) => ({
        kind:
          this.#kinds[i] === WANTED
            ? FILE_WANTED
            : this.#kinds[i] === PADDING
              ? FILE_PADDING
              : FILE_SKIPPED,
        size: -1,
        mtimeUs: -1,
      }));
      if (root === null) return { files };
      const todo: number[] = [];
      this.#meta.files.forEach((_, i) => {
        if (this.#kinds[i] === WANTED) todo.push(i);
      });
      let next = 0;
      const worker = async () => {
        while (next < todo.length) {
          const i = todo[next++]!;
          const ok = await this.#checkDirs(this.#meta.files[i]!.path, false).catch(() => false);
          if (!ok) continue;
          const st = await statOf(this.#absPath(root, i));
          if (st) files[i] = { kind: FILE_WANTED, ...st };
        }
      };
      const workers: Promise<void>[] = [];
      for (let k = 0; k < Math.min(PATH_CHECK_CONCURRENCY, todo.length); k++)
        workers.push(worker());
      await settleAll(workers);
      if (this.#viaPart === null) return { files };
      const parts = (await statOf(this.#rootPrefix + this.#partName)) ?? { size: -1, mtimeUs: -1 };
      return { files, parts };
    });
  }

  /** The resume file's bytes, or null if there is none (or it is not a safe regular file). */
  readResume(): Promise<Uint8Array | null> {
    return this.#run(async () => {
      const root = await this.#getRoot(false);
      if (root === null) return null;
      return readRegularFile(this.#rootPrefix + this.#resumeName, MAX_RESUME_BYTES);
    });
  }

  /**
   * Replaces the resume file atomically: a temp file next to it (created exclusively, never
   * through a symlink), written and fsynced, renamed over the old one, then the directory fsynced.
   * Does nothing when the download directory does not exist (nothing was written).
   */
  writeResume(bytes: Uint8Array): Promise<void> {
    return this.#run(async () => {
      const root = await this.#getRoot(false);
      if (root === null) return;
      const final = this.#rootPrefix + this.#resumeName;
      const tmp = `${final}.tmp`;
      await unlink(tmp).catch(() => {});
      let fh: FileHandle | undefined;
      try {
        fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | O_NOFOLLOW, 0o644);
        await writeFully(fh, bytes, 0);
        await fh.sync();
        await fh.close();
        fh = undefined;
        await rename(tmp, final);
      } catch (err) {
        await fh?.close().catch(() => {});
        await unlink(tmp).catch(() => {});
        throw ioError(err, "writing resume data", final);
      }
      const dir = await open(root, fsc.O_RDONLY).catch(() => null);
      await dir?.sync().catch(() => {});
      await dir?.close().catch(() => {});
    });
  }

  /**
   * Waits for calls in flight, then closes file handles, the part file and the storage's own hash
   * pool. Later calls reject with STORAGE_CLOSED. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    this.#wakeWriters();
    this.#closing = (async () => {
      while (this.#ops.size > 0) await Promise.allSettled([...this.#ops]);
      const errors: unknown[] = [];
      await this.#handles.closeAll().catch((e: unknown) => errors.push(e));
      await this.#partChain;
      await this.#part?.close().catch((e: unknown) => errors.push(e));
      this.#part = null;
      await this.#ownPool?.close().catch(() => {});
      this.#cache.clear();
      this.#cacheBytes = 0;
      this.#spare.length = 0;
      if (errors.length > 0) throw ioError(errors[0], "closing", this.#dir);
    })();
    return this.#closing;
  }

  // ---- internals -------------------------------------------------------------------------

  /** Runs an operation unless closed, and tracks it so close() can wait for it. */
  #run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) {
      return Promise.reject(new StorageError("STORAGE_CLOSED", "the torrent storage is closed"));
    }
    let p: Promise<T>;
    try {
      p = fn();
    } catch (err) {
      return Promise.reject(err);
    }
    this.#ops.add(p);
    const remove = () => this.#ops.delete(p);
    p.then(remove, remove);
    return p;
  }

  #hashPool(): HashPool {
    if (this.#pool !== undefined) return this.#pool;
    this.#ownPool ??= new HashPool();
    return this.#ownPool;
  }

  #pieceSize(index: number): number {
    const { pieceCount, pieceLength, length } = this.#meta;
    if (!Number.isInteger(index) || index < 0 || index >= pieceCount) {
      throw invalidArgument(`piece index ${index} is out of range 0..${pieceCount - 1}`);
    }
    return Math.min(pieceLength, length - index * pieceLength);
  }

  #wakeWriters() {
    if (this.#pending >= this.#maxPending && !this.#closed) return;
    const waiters = this.#writeWaiters;
    if (waiters.length === 0) return;
    this.#writeWaiters = [];
    for (const w of waiters) w();
  }

  async #writePiece(index: number, data: Uint8Array): Promise<void> {
    const start = index * this.#meta.pieceLength;
    const tasks: Promise<void>[] = [];
    const partRanges: number[] = [];
    let at = 0;
    for (const s of this.#layout.spans(start, start + data.length)) {
      const kind = this.#kinds[s.file];
      if (kind === WANTED) {
        tasks.push(this.#writeSpan(s.file, data.subarray(at, at + s.len), s.pos));
      } else if (kind === SKIPPED) {
        partRanges.push(at, s.len);
      }
      at += s.len;
    }
    if (partRanges.length > 0) {
      this.#partDirty = true;
      tasks.push(this.#getPart(true).then((part) => part!.write(index, data, partRanges)));
    }
    const empty = this.#emptyByPiece.get(index);
    if (empty !== undefined) for (const i of empty) tasks.push(this.#createEmpty(i));
    await settleAll(tasks);
  }

  /** Consecutive pieces from torrent offset `start`, none touching a skipped file. */
  async #writeRun(start: number, pieces: readonly Uint8Array[], total: number): Promise<void> {
    const tasks: Promise<void>[] = [];
    let pi = 0;
    let off = 0;
    for (const s of this.#layout.spans(start, start + total)) {
      const views: Uint8Array[] = [];
      let left = s.len;
      while (left > 0) {
        const p = pieces[pi]!;
        const n = Math.min(left, p.length - off);
        views.push(off === 0 && n === p.length ? p : p.subarray(off, off + n));
        left -= n;
        off += n;
        if (off === p.length) {
          pi++;
          off = 0;
        }
      }
      if (this.#kinds[s.file] !== WANTED) continue; // padding
      const file = s.file;
      tasks.push(
        this.#handles
          .use(file, true, (fh) => writevFully(fh, views, s.pos))
          .catch((err: unknown) => {
            throw ioError(err, "writing", this.filePath(file));
          }),
      );
    }
    await settleAll(tasks);
  }

  #writeSpan(file: number, bytes: Uint8Array, pos: number): Promise<void> {
    this.#dirty.add(file);
    return this.#handles
      .use(file, true, (fh) => writeFully(fh, bytes, pos))
      .catch((err: unknown) => {
        throw ioError(err, "writing", this.filePath(file));
      });
  }

  async #createEmpty(file: number): Promise<void> {
    if (this.#emptyCreated.has(file)) return;
    const fh = await this.#openFile(file, true);
    await fh.close().catch(() => {});
    this.#emptyCreated.add(file);
  }

  /** Fills `out` with the bytes of piece `piece` from offset `begin`. */
  async #readInto(piece: number, begin: number, out: Uint8Array): Promise<void> {
    const start = piece * this.#meta.pieceLength + begin;
    const tasks: Promise<void>[] = [];
    let at = 0;
    for (const s of this.#layout.spans(start, start + out.length)) {
      const kind = this.#kinds[s.file];
      const dst = out.subarray(at, at + s.len);
      if (kind === WANTED) {
        tasks.push(this.#readSpan(s.file, dst, s.pos));
      } else if (kind === PADDING) {
        dst.fill(0);
      } else {
        tasks.push(this.#readPart(piece, dst, begin + at, s.file));
      }
      at += s.len;
    }
    await settleAll(tasks);
  }

  #readSpan(file: number, dst: Uint8Array, pos: number): Promise<void> {
    return this.#handles
      .use(file, false, async (fh) => {
        let done = 0;
        while (done < dst.length) {
          const { bytesRead } = await fh.read(dst, done, dst.length - done, pos + done);
          if (bytesRead === 0) {
            throw Object.assign(
              new Error(`file ends at byte ${pos + done}, expected at least ${pos + dst.length}`),
              { code: "SHORT" },
            );
          }
          done += bytesRead;
        }
      })
      .catch((err: unknown) => {
        throw ioError(err, "reading", this.filePath(file));
      });
  }

  async #readPart(piece: number, dst: Uint8Array, pieceOff: number, file: number): Promise<void> {
    const part = await this.#getPart(false);
    if (part === null || !(await part.read(piece, dst, 0, pieceOff, dst.length))) {
      throw new StorageError(
        "STORAGE_IO",
        `piece ${piece} holds bytes of the skipped file "${this.filePath(file)}" that are not in the part file "${this.partFilePath}"`,
        { path: this.partFilePath, reason: "ENOENT" },
      );
    }
  }

  #getChunk(piece: number, c: number): Promise<Uint8Array> {
    const key = piece * this.#chunksPerPiece + c;
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      this.#cache.delete(key);
      this.#cache.set(key, hit);
      this.#hits++;
      return Promise.resolve(hit);
    }
    const loading = this.#loading.get(key);
    if (loading !== undefined) {
      this.#hits++;
      return loading.promise;
    }
    this.#misses++;
    const begin = c * this.#chunk;
    const size = Math.min(this.#chunk, this.#pieceSize(piece) - begin);
    const buf =
      (size === this.#chunk ? this.#spare.pop() : undefined) ?? Buffer.allocUnsafeSlow(size);
    const entry: Loading = { promise: Promise.resolve(buf), stale: false };
    const forget = () => {
      if (this.#loading.get(key) === entry) this.#loading.delete(key);
    };
    entry.promise = this.#readInto(piece, begin, buf).then(
      () => {
        forget();
        if (!entry.stale) this.#insert(key, buf);
        return buf;
      },
      (err: unknown) => {
        forget();
        throw err;
      },
    );
    this.#loading.set(key, entry);
    return entry.promise;
  }

  #insert(key: number, buf: Uint8Array) {
    if (buf.length > this.#cacheMax) return;
    const old = this.#cache.get(key);
    if (old !== undefined) {
      this.#cacheBytes -= old.length;
      if (old !== buf) this.#drop(old);
    }
    this.#cache.set(key, buf);
    this.#cacheBytes += buf.length;
    for (const [k, v] of this.#cache) {
      if (this.#cacheBytes <= this.#cacheMax) break;
      this.#cache.delete(k);
      this.#cacheBytes -= v.length;
      this.#drop(v);
    }
  }

  /** The cache let go of a chunk: reuse its buffer once no view of it is out. */
  #drop(buf: Uint8Array) {
    if (buf.length !== this.#chunk || this.#exposed.has(buf.buffer)) return;
    const pin = this.#pins.get(buf.buffer);
    if (pin !== undefined) pin.dropped = true;
    else this.#reuse(buf as Buffer);
  }

  #reuse(buf: Buffer) {
    if (this.#spare.length < this.#maxSpare && !this.#closed) this.#spare.push(buf);
  }

  /** Drops a piece's cached chunks, and marks chunks being loaded as stale. */
  #invalidate(piece: number) {
    const first = piece * this.#chunksPerPiece;
    for (let key = first; key < first + this.#chunksPerPiece; key++) {
      const buf = this.#cache.get(key);
      if (buf !== undefined) {
        this.#cache.delete(key);
        this.#cacheBytes -= buf.length;
        this.#drop(buf);
      }
      const loading = this.#loading.get(key);
      if (loading !== undefined) {
        loading.stale = true;
        this.#loading.delete(key);
      }
    }
  }

  async #recheckViaPart(
    pieces: readonly number[],
    result: Bitfield,
    pool: HashPool,
    signal: AbortSignal | undefined,
    progress: (bytes: number) => void,
  ): Promise<void> {
    if (pieces.length === 0) return;
    const part = await this.#getPart(false);
    const hashes = this.#meta.pieceHashes;
    for (const p of pieces) {
      if (signal?.aborted) throw new HashAbortedError(signal.reason);
      const size = this.#pieceSize(p);
      let ok = part?.has(p) === true;
      if (ok) {
        const buf = new Uint8Array(size); // own ArrayBuffer: transferred to the worker
        try {
          await this.#readInto(p, 0, buf);
        } catch (err) {
          if (err instanceof StorageError && err.code === "STORAGE_UNSAFE_PATH") throw err;
          ok = false;
        }
        if (ok) {
          const { digest } = await pool.hashBuffer(buf, { transfer: true });
          const want = hashes.subarray(p * SHA1_SIZE, (p + 1) * SHA1_SIZE);
          ok = Buffer.from(digest.buffer, digest.byteOffset, digest.length).equals(want);
        }
      }
      if (ok) result.set(p);
      progress(size);
    }
  }

  /**
   * Before the hash workers open files (they follow symlinks): checks every wanted file's
   * directories and the file itself with lstat. Missing files are fine (their pieces fail).
   */
  async #checkPaths(root: string): Promise<void> {
    const files: number[] = [];
    this.#meta.files.forEach((f, i) => {
      if (this.#kinds[i] === WANTED && f.length > 0) files.push(i);
    });
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const i = files[next++]!;
        if (!(await this.#checkDirs(this.#meta.files[i]!.path, false))) continue;
        const abs = this.#absPath(root, i);
        const st = await lstatOrNull(abs).catch(() => null);
        if (st === null) continue;
        if (st.isSymbolicLink()) throw unsafePathError(abs, "is a symbolic link");
        if (!st.isFile()) throw unsafePathError(abs, "is not a regular file");
      }
    };
    const workers: Promise<void>[] = [];
    for (let k = 0; k < Math.min(PATH_CHECK_CONCURRENCY, files.length); k++) workers.push(worker());
    await settleAll(workers);
  }

  /** The download directory's realpath; null if it does not exist and `create` is false. */
  async #getRoot(create: boolean): Promise<string | null> {
    if (this.#root !== null) return this.#root;
    if (create) {
      try {
        await mkdir(this.#dir, { recursive: true });
      } catch (err) {
        throw ioError(err, "creating directory", this.#dir);
      }
    }
    let root: string;
    try {
      root = await realpath(this.#dir);
      const st = await lstat(root);
      if (!st.isDirectory()) {
        throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
      }
    } catch (err) {
      if (!create && errnoCode(err) === "ENOENT") return null;
      throw ioError(err, "opening", this.#dir);
    }
    this.#root = root;
    this.#rootPrefix = root.endsWith(path.sep) ? root : root + path.sep;
    return root;
  }

  /** Absolute path of file `i` under the real root, asserted to stay inside it. */
  #absPath(root: string, i: number): string {
    const abs = path.resolve(root, ...this.#meta.files[i]!.path);
    if (!abs.startsWith(this.#rootPrefix)) {
      throw unsafePathError(abs, "resolves outside the download directory");
    }
    return abs;
  }

  /**
   * Checks (and with `create`, makes) the directories on the way to a file, from the root down:
   * each must be a real directory, not a symlink. Returns false if one is missing (no `create`).
   */
  async #checkDirs(comps: readonly string[], create: boolean): Promise<boolean> {
    let rel = "";
    for (let i = 0; i < comps.length - 1; i++) {
      rel = i === 0 ? comps[0]! : rel + path.sep + comps[i]!;
      if (this.#safeDirs.has(rel)) continue;
      const abs = this.#rootPrefix + rel;
      let st = await lstatOrNull(abs);
      if (st === null) {
        if (!create) return false;
        try {
          await mkdir(abs);
        } catch (err) {
          if (errnoCode(err) !== "EEXIST") throw ioError(err, "creating directory", abs);
        }
        st = await lstatOrNull(abs);
        if (st === null) {
          throw ioError(
            Object.assign(new Error("vanished"), { code: "ENOENT" }),
            "creating directory",
            abs,
          );
        }
      }
      if (st.isSymbolicLink()) throw unsafePathError(abs, "is a symbolic link");
      if (!st.isDirectory()) throw unsafePathError(abs, "is not a directory");
      this.#safeDirs.add(rel);
    }
    return true;
  }

  /** Opens file `i` for the handle cache (creating it and its directories when writable). */
  async #openFile(i: number, writable: boolean): Promise<FileHandle> {
    const root = await this.#getRoot(writable);
    if (root === null) {
      throw ioError(
        Object.assign(new Error("no such directory"), { code: "ENOENT" }),
        "opening",
        this.#dir,
      );
    }
    const abs = this.#absPath(root, i);
    if (!(await this.#checkDirs(this.#meta.files[i]!.path, writable))) {
      throw ioError(
        Object.assign(new Error("no such directory"), { code: "ENOENT" }),
        "opening",
        abs,
      );
    }
    const flags = (writable ? fsc.O_RDWR | fsc.O_CREAT : fsc.O_RDONLY) | O_NOFOLLOW | O_NONBLOCK;
    let fh: FileHandle;
    try {
      fh = await open(abs, flags, 0o666);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ELOOP" || code === "EMLINK") throw unsafePathError(abs, "is a symbolic link");
      throw ioError(err, writable ? "opening for writing" : "opening", abs);
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw unsafePathError(abs, "is not a regular file");
    } catch (err) {
      await fh.close().catch(() => {});
      throw ioError(err, "opening", abs);
    }
    return fh;
  }

  /** The part file, opened (and with `create`, created) once; null if absent and not created. */
  #getPart(create: boolean): Promise<PartFile | null> {
    if (this.#part !== null) return Promise.resolve(this.#part);
    const next = this.#partChain.then(async () => {
      if (this.#part !== null) return this.#part;
      const root = await this.#getRoot(create);
      if (root === null) return null;
      const part = await PartFile.open(
        this.#rootPrefix + this.#partName,
        this.#meta.pieceLength,
        this.#meta.pieceCount,
        create,
      );
      if (this.#closed && part !== null) {
        await part.close().catch(() => {});
        throw new StorageError("STORAGE_CLOSED", "the torrent storage is closed");
      }
      this.#part = part;
      return part;
    });
    this.#partChain = next.catch(() => {});
    return next;
  }
}

/**
 * The bytes of `downloadDir/.<infoHashHex>.resume`, or null if there is none (or it is not a
 * regular file reached without a symlink, or is larger than MAX_RESUME_BYTES). For a magnet link
 * restarted in the same directory: the resume data holds the info dictionary.
 */
export async function readResumeFile(
  downloadDir: string,
  infoHashHex: string,
): Promise<Uint8Array | null> {
  let root: string;
  try {
    root = await realpath(path.resolve(downloadDir));
  } catch {
    return null;
  }
  return readRegularFile(path.join(root, `.${infoHashHex.toLowerCase()}.resume`), MAX_RESUME_BYTES);
}

async function readRegularFile(p: string, max: number): Promise<Uint8Array | null> {
  let fh: FileHandle;
  try {
    fh = await open(p, fsc.O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > max) return null;
    const buf = Buffer.allocUnsafe(st.size);
    const { bytesRead } = await fh.read(buf, 0, st.size, 0);
    return bytesRead === st.size ? buf : null;
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => {});
  }
}

/** Size and mtime (µs) of a regular file reached without following a symlink; null otherwise. */
async function statOf(p: string): Promise<{ size: number; mtimeUs: number } | null> {
  try {
    const st = await lstat(p, { bigint: true });
    if (!st.isFile()) return null;
    return { size: Number(st.size), mtimeUs: Number(st.mtimeNs / 1000n) };
  } catch {
    return null;
  }
}

async function lstatOrNull(p: string): Promise<Stats | null> {
  try {
    return await lstat(p);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return null;
    throw ioError(err, "checking", p);
  }
}

function positiveOption(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v <= 0) {
    throw invalidArgument(`${name} must be a positive integer, got ${v}`);
  }
  return v;
}

function nonNegativeOption(v: number | undefined, dflt: number, name: string): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) {
    throw invalidArgument(`${name} must be a non-negative integer, got ${v}`);
  }
  return v;
}

/** Components must already be sanitised (metainfo/path.ts); this only refuses what would escape. */
function checkComponents(comps: readonly string[], i: number) {
  if (!Array.isArray(comps) || comps.length === 0) {
    throw unsafePathError(`file ${i}`, "has an empty path");
  }
  for (const c of comps) {
    if (
      typeof c !== "string" ||
      c === "" ||
      c === "." ||
      c === ".." ||
      c.includes("/") ||
      c.includes("\0") ||
      (path.sep === "\\" && (c.includes("\\") || c.includes(":")))
    ) {
      throw unsafePathError(comps.join("/"), `has an unsafe component ${JSON.stringify(c)}`);
    }
  }
}

function checkMeta(meta: StorageMeta) {
  const { pieceLength: pl, pieceCount, length, files, pieceHashes, infoHashHex } = meta;
  if (!Number.isSafeInteger(pl) || pl <= 0 || pl > 0xffffffff) {
    throw invalidArgument(`piece length must be a positive 32-bit integer, got ${pl}`);
  }
  if (!Number.isSafeInteger(length) || length <= 0) {
    throw invalidArgument(`torrent length must be a positive integer, got ${length}`);
  }
  if (pieceCount !== Math.ceil(length / pl)) {
    throw invalidArgument(`piece count ${pieceCount} does not match ${length} bytes / ${pl}`);
  }
  if (!(pieceHashes instanceof Uint8Array) || pieceHashes.length !== pieceCount * SHA1_SIZE) {
    throw invalidArgument(`piece hashes must be ${pieceCount * SHA1_SIZE} bytes`);
  }
  if (typeof infoHashHex !== "string" || !/^[0-9a-fA-F]{40}([0-9a-fA-F]{24})?$/.test(infoHashHex)) {
    throw invalidArgument(`info-hash must be 40 or 64 hex digits, got ${String(infoHashHex)}`);
  }
  let offset = 0;
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    if (!Number.isSafeInteger(f.length) || f.length < 0 || f.offset !== offset) {
      throw invalidArgument(
        `file ${i} has length ${f.length} at offset ${f.offset}, expected offset ${offset}`,
      );
    }
    offset += f.length;
  }
  if (offset !== length) {
    throw invalidArgument(`files add up to ${offset} bytes, torrent length is ${length}`);
  }
}

/**
 * `fh.writev` until every byte of `chunks` is written at `pos` (a write may be short), at most
 * MAX_WRITE_BYTES per call.
 */
async function writevFully(fh: FileHandle, chunks: Uint8Array[], pos: number): Promise<void> {
  let left = chunks;
  let at = pos;
  while (left.length > 0) {
    let batch = left;
    let size = 0;
    for (let k = 0; k < left.length; k++) {
      size += left[k]!.length;
      if (size >= MAX_WRITE_BYTES) {
        batch = left.slice(0, k + 1);
        if (size > MAX_WRITE_BYTES)
          batch[k] = batch[k]!.subarray(0, batch[k]!.length - (size - MAX_WRITE_BYTES));
        break;
      }
    }
    const { bytesWritten } = await fh.writev(batch, at);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    }
    at += bytesWritten;
    let n = bytesWritten;
    let k = 0;
    while (k < left.length && n >= left[k]!.length) n -= left[k++]!.length;
    left = left.slice(k);
    if (n > 0) left[0] = left[0]!.subarray(n);
  }
}
