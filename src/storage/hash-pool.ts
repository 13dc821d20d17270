/**
 * HashPool: piece hashing on worker threads, for creating torrents, verifying on-disk data and
 * checking downloaded pieces.
 *
 * The main thread only plans: it cuts the piece range into jobs of about 16 MiB (whole pieces),
 * each described as a list of file segments, and hands them to idle workers (at most two queued per
 * worker, so a worker never waits for the main thread between jobs). Workers open and read the
 * files themselves into a reusable buffer and send back only digests, so file data never crosses
 * threads. Workers start lazily, are kept across calls, and are unref'd while idle so an idle pool
 * never keeps the process alive.
 */
import os from "node:os";
import { Worker } from "node:worker_threads";
import { TesseraError } from "../errors.js";
import type {
  FilesJob,
  HashAlgorithm,
  PieceRange,
  Segment,
  WorkerReply,
  WorkerRequest,
} from "./hash-protocol.js";

export type { HashAlgorithm } from "./hash-protocol.js";

import { DEFAULT_BUFFER_SIZE } from "./hash-protocol.js";

/** Digest size in bytes of each supported algorithm. */
export const DIGEST_SIZE: Readonly<Record<HashAlgorithm, number>> = { sha1: 20, sha256: 32 };

/** One file of the torrent's layout, in torrent order. path null = a BEP 47 padding file (reads as zeros, never touched on disk). */
export interface FileSpan {
  path: string | null;
  length: number;
}

export interface HashPoolOptions {
  /** Number of worker threads; default `os.availableParallelism()`. */
  threads?: number;
  /** Bytes of data per job (rounded to whole pieces, at least one piece). Default 16 MiB. */
  jobSize?: number;
  /**
   * Size of each worker's read buffer. Default {@link DEFAULT_BUFFER_SIZE} (128 KiB), so the
   * kernel's copy from the page cache and the hash of it stay in L2: on the 2-core bench machine,
   * 2 560–2 700 MB/s read+hash against 1 800 with 256 KiB or 1 MiB buffers (bench/README.md).
   */
  bufferSize?: number;
  /** @internal Worker script to load instead of hash-worker.js (tests use it to simulate crashes). */
  workerUrl?: URL;
}

export interface HashFilesOptions {
  /** Default "sha1" (v1 pieces); "sha256" for BEP 52 work. */
  algorithm?: HashAlgorithm;
  /** Bytes hashed so far; called at most every ~100 ms, and once at the end with the total. */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface VerifyFilesOptions extends HashFilesOptions {
  /** Called once per checked piece as results arrive (not in index order). */
  onPiece?: (index: number, ok: boolean) => void;
  /** Only check these piece indices (duplicates ignored); default all pieces. */
  pieces?: Iterable<number>;
}

export interface HashBufferOptions {
  algorithm?: HashAlgorithm;
  /**
   * Transfer `data`'s ArrayBuffer to the worker instead of copying it; the result's `data` is a
   * view of the same bytes (same offset and length, a Buffer if `data` was one) that the caller
   * owns again. Either way the caller must not change `data` until the promise settles (without
   * transfer it is copied when the job reaches a worker).
   */
  transfer?: boolean;
}

/** Base of every error thrown by HashPool. */
export class HashError extends TesseraError {}

/** A file could not be opened or read, or is shorter than declared (hashFiles only). */
export class HashIoError extends HashError {
  /** The file at fault, as given in the FileSpan. */
  readonly path: string;
  /** errno code such as `ENOENT`, or `SHORT` when the file ends before its declared length. */
  readonly reason: string;
  constructor(path: string, reason: string, detail: string) {
    super(
      "HASH_IO",
      reason === "SHORT"
        ? `file "${path}" is shorter than declared: ${detail}`
        : `cannot read file "${path}" (${reason}): ${detail}`,
    );
    this.path = path;
    this.reason = reason;
  }
}

/** A bad argument: piece length, file length, expected hashes, piece index, algorithm, threads. */
export class HashArgumentError extends HashError {
  constructor(message: string) {
    super("HASH_INVALID_ARGUMENT", message);
  }
}

/** A worker thread died (or failed to start) while it had this call's job. */
export class HashWorkerError extends HashError {
  constructor(message: string, cause?: unknown) {
    super("HASH_WORKER_FAILED", message, { cause });
  }
}

/** The pool was closed before or while the call ran. */
export class HashPoolClosedError extends HashError {
  constructor() {
    super("HASH_POOL_CLOSED", "the hash pool is closed");
  }
}

/** The call's AbortSignal fired. `name` is "AbortError" as for Node's own aborted operations. */
export class HashAbortedError extends HashError {
  constructor(cause?: unknown) {
    super("HASH_ABORTED", "hashing was aborted", { cause });
    this.name = "AbortError";
  }
}

const MIB = 1 << 20;
const DEFAULT_JOB_SIZE = 16 * MIB;
const MIN_JOB_SIZE = 256 * 1024;
/** Size of the reusable buffers hashBuffers packs a batch into when not transferring. */
export const PACK_BYTES = MIB;
/** Pack buffers kept for reuse: one per job a 2-thread pool has at its workers (more are made for more). */
const MAX_PACKS = 4;
/** Jobs posted to a worker ahead of its replies. */
const WORKER_DEPTH = 2;
const PROGRESS_INTERVAL_MS = 100;
/** close() waits at most this long for the workers to report their exit. */
const CLOSE_WAIT_MS = 5_000;

function checkAlgorithm(algorithm: unknown): HashAlgorithm {
  const a = algorithm ?? "sha1";
  if (a !== "sha1" && a !== "sha256") {
    throw new HashArgumentError(`unsupported hash algorithm ${JSON.stringify(a)}`);
  }
  return a;
}

function isPositiveSafeInt(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n > 0;
}

/** Byte layout of a file list: maps a byte range of the torrent to file segments. */
class Layout {
  readonly total: number;
  readonly pieceCount: number;
  /** Non-empty files only, with their start offsets. */
  readonly #files: FileSpan[] = [];
  readonly #starts: number[] = [];

  constructor(
    files: readonly FileSpan[],
    readonly pieceLength: number,
  ) {
    if (!isPositiveSafeInt(pieceLength)) {
      throw new HashArgumentError(`piece length must be a positive integer, got ${pieceLength}`);
    }
    let total = 0;
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!;
      if (!Number.isSafeInteger(f.length) || f.length < 0) {
        throw new HashArgumentError(`file ${i} has invalid length ${f.length}`);
      }
      if (f.path !== null && typeof f.path !== "string") {
        throw new HashArgumentError(`file ${i} has an invalid path`);
      }
      if (f.length === 0) continue;
      this.#files.push(f);
      this.#starts.push(total);
      total += f.length;
      if (!Number.isSafeInteger(total)) throw new HashArgumentError("total length is too large");
    }
    this.total = total;
    this.pieceCount = Math.ceil(total / pieceLength);
  }

  /** Bytes of pieces [first, last). */
  bytesOf(first: number, last: number): number {
    return Math.min(last * this.pieceLength, this.total) - first * this.pieceLength;
  }

  /** The pieces [first, last) as one range of file segments. */
  range(first: number, last: number): PieceRange {
    const start = first * this.pieceLength;
    const end = Math.min(last * this.pieceLength, this.total);
    // Last file starting at or before `start`.
    let lo = 0;
    let hi = this.#starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.#starts[mid]! <= start) lo = mid;
      else hi = mid - 1;
    }
    const segments: Segment[] = [];
    let at = start;
    for (let i = lo; at < end; i++) {
      const f = this.#files[i]!;
      const fileStart = this.#starts[i]!;
      const pos = at - fileStart;
      const len = Math.min(f.length - pos, end - at);
      segments.push({ path: f.path, pos, len });
      at += len;
    }
    return { bytes: end - start, segments };
  }
}

/** One hashFiles/verifyFiles/hashBuffer call in progress. */
class Call {
  settled = false;
  #cleanup: (() => void) | null = null;

  constructor(
    readonly resolve: () => void,
    readonly rejectFn: (err: unknown) => void,
  ) {}

  onSettle(fn: () => void) {
    this.#cleanup = fn;
  }

  finish() {
    if (this.settled) return;
    this.settled = true;
    this.#cleanup?.();
    this.resolve();
  }

  fail(err: unknown) {
    if (this.settled) return;
    this.settled = true;
    this.#cleanup?.();
    this.rejectFn(err);
  }
}

interface Job {
  call: Call;
  request: WorkerRequest;
  transfer: ArrayBuffer[];
  /** Fills `request` and `transfer` right before the job is posted to a worker. */
  prepare?: () => void;
  /** Handles the worker's reply (only called while the call is unsettled). */
  done: (reply: WorkerReply) => void;
}

interface Slot {
  worker: Worker;
  /** Jobs posted to this worker, oldest first; replies arrive in the same order. */
  jobs: Job[];
  error: unknown;
}

/** FIFO with O(1) shift. */
class Queue<T> {
  #items: T[] = [];
  #head = 0;
  get length() {
    return this.#items.length - this.#head;
  }
  push(item: T) {
    this.#items.push(item);
  }
  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }
  removeWhere(pred: (item: T) => boolean) {
    this.#items = this.#items.slice(this.#head).filter((x) => !pred(x));
    this.#head = 0;
  }
  drain(): T[] {
    const rest = this.#items.slice(this.#head);
    this.#items = [];
    this.#head = 0;
    return rest;
  }
}

export class HashPool {
  readonly threads: number;
  readonly #jobSize: number;
  readonly #bufferSize: number;
  readonly #workerUrl: URL;
  readonly #slots: Slot[] = [];
  /** hashBuffer jobs go first: a downloader waiting on a piece should not queue behind a recheck. */
  readonly #urgent = new Queue<Job>();
  readonly #queue = new Queue<Job>();
  #nextId = 1;
  /** Pack buffers of PACK_BYTES for hashBuffers' copying path, back from the workers. */
  readonly #packs: Uint8Array[] = [];
  #closed = false;
  #closing: Promise<void> | null = null;

  constructor(opts: HashPoolOptions = {}) {
    const threads = opts.threads ?? os.availableParallelism();
    if (!isPositiveSafeInt(threads)) {
      throw new HashArgumentError(`threads must be a positive integer, got ${opts.threads}`);
    }
    const jobSize = opts.jobSize ?? DEFAULT_JOB_SIZE;
    if (!isPositiveSafeInt(jobSize)) {
      throw new HashArgumentError(`jobSize must be a positive integer, got ${opts.jobSize}`);
    }
    const bufferSize = opts.bufferSize ?? DEFAULT_BUFFER_SIZE;
    if (!isPositiveSafeInt(bufferSize)) {
      throw new HashArgumentError(`bufferSize must be a positive integer, got ${opts.bufferSize}`);
    }
    this.threads = threads;
    this.#jobSize = jobSize;
    this.#bufferSize = bufferSize;
    this.#workerUrl = opts.workerUrl ?? new URL("./hash-worker.js", import.meta.url);
  }

  /**
   * Hashes every piece of the layout. Returns digestSize * pieceCount bytes (20 per piece for
   * SHA-1), empty when the layout has no data. Zero-length files are never opened. Rejects with
   * HashIoError (naming the file) if a file is missing, unreadable or shorter than declared.
   */
  hashFiles(
    files: readonly FileSpan[],
    pieceLength: number,
    opts: HashFilesOptions = {},
  ): Promise<Uint8Array> {
    return this.#guard(() => {
      const algorithm = checkAlgorithm(opts.algorithm);
      const dlen = DIGEST_SIZE[algorithm];
      const layout = new Layout(files, pieceLength);
      const out = new Uint8Array(layout.pieceCount * dlen);
      const runs: Array<[number, number]> = [[0, layout.pieceCount]];
      return this.#runFiles(layout, algorithm, false, runs, opts, (pieces, reply) => {
        let k = 0;
        for (const [first, last] of pieces) {
          const n = last - first;
          out.set(reply.digests.subarray(k * dlen, (k + n) * dlen), first * dlen);
          k += n;
        }
      }).then(() => out);
    });
  }

  /**
   * Compares on-disk data with `expected` (digestSize bytes per piece). Returns one byte per piece:
   * 1 = checked and matches, 0 = mismatch, data missing, or not in `opts.pieces`. A piece fails when
   * any byte of it lies in a missing or unreadable file or beyond the end of a short file; such
   * pieces are not hashed, and this never rejects because of file problems.
   */
  verifyFiles(
    files: readonly FileSpan[],
    pieceLength: number,
    expected: Uint8Array,
    opts: VerifyFilesOptions = {},
  ): Promise<Uint8Array> {
    return this.#guard(() => {
      const algorithm = checkAlgorithm(opts.algorithm);
      const dlen = DIGEST_SIZE[algorithm];
      const layout = new Layout(files, pieceLength);
      const n = layout.pieceCount;
      if (!(expected instanceof Uint8Array) || expected.length !== n * dlen) {
        throw new HashArgumentError(
          `expected hashes must be ${n * dlen} bytes (${n} pieces of ${dlen}), got ${expected?.length}`,
        );
      }
      const runs: Array<[number, number]> = [];
      if (opts.pieces === undefined) {
        if (n > 0) runs.push([0, n]);
      } else {
        const wanted = new Uint8Array(n);
        for (const p of opts.pieces) {
          if (!Number.isInteger(p) || p < 0 || p >= n) {
            throw new HashArgumentError(`piece index ${p} is out of range 0..${n - 1}`);
          }
          wanted[p] = 1;
        }
        for (let i = 0; i < n; i++) {
          if (wanted[i] === 0) continue;
          let j = i + 1;
          while (j < n && wanted[j] === 1) j++;
          runs.push([i, j]);
          i = j;
        }
      }
      const result = new Uint8Array(n);
      const onPiece = opts.onPiece;
      return this.#runFiles(layout, algorithm, true, runs, opts, (pieces, reply) => {
        let k = 0;
        for (const [first, last] of pieces) {
          for (let p = first; p < last; p++, k++) {
            let ok = reply.bad[k] === 0;
            if (ok) {
              const e = p * dlen;
              const d = k * dlen;
              for (let b = 0; b < dlen; b++) {
                if (reply.digests[d + b] !== expected[e + b]) {
                  ok = false;
                  break;
                }
              }
            }
            result[p] = ok ? 1 : 0;
            onPiece?.(p, ok);
          }
        }
      }).then(() => result);
    });
  }

  /** Hashes one buffer on a worker. See HashBufferOptions.transfer. */
  hashBuffer(
    data: Uint8Array,
    opts: HashBufferOptions = {},
  ): Promise<{ digest: Uint8Array; data: Uint8Array }> {
    return this.hashBuffers([data], opts).then((r) => ({ digest: r.digests, data: r.data[0]! }));
  }

  /**
   * Hashes several buffers, each on its own, in one round trip to a worker (the downloader's
   * path: pieces that completed together). `digests` holds digestSize bytes per buffer, in
   * order; see HashBufferOptions.transfer for `data`. Buffers sharing an ArrayBuffer cannot be
   * transferred together (the worker would get the memory once): with `transfer`, give each
   * buffer its own.
   */
  hashBuffers(
    list: readonly Uint8Array[],
    opts: HashBufferOptions = {},
  ): Promise<{ digests: Uint8Array; data: Uint8Array[] }> {
    return this.#guard(() => {
      const algorithm = checkAlgorithm(opts.algorithm);
      if (!Array.isArray(list) || list.some((d) => !(d instanceof Uint8Array))) {
        throw new HashArgumentError("data must be Uint8Arrays");
      }
      const sent: Uint8Array[] = [];
      const transfer: ArrayBuffer[] = [];
      const giveBack = opts.transfer === true;
      let lengths: number[] | undefined;
      let pack: Uint8Array | undefined;
      // Without transfer: one packed copy of the whole batch, made when the job is posted (so
      // packs exist only for jobs at a worker, WORKER_DEPTH per worker) and transferred there and
      // back to be reused: one ArrayBuffer crosses threads per batch instead of one per buffer,
      // and nothing is allocated per call.
      let prepare: (() => void) | undefined;
      if (!giveBack) {
        let total = 0;
        lengths = new Array<number>(list.length);
        for (let i = 0; i < list.length; i++) {
          total += list[i]!.length;
          lengths[i] = list[i]!.length;
        }
        prepare = () => {
          pack = this.#takePack(total);
          let at = 0;
          for (const data of list) {
            pack.set(data, at);
            at += data.length;
          }
          sent.push(pack);
          transfer.push(pack.buffer as ArrayBuffer);
        };
      } else {
        const seen = new Set<ArrayBufferLike>();
        for (const data of list) {
          if (!(data.buffer instanceof ArrayBuffer)) {
            sent.push(data); // SharedArrayBuffer: the worker sees the same memory, nothing to copy
            continue;
          }
          if (seen.has(data.buffer)) {
            throw new HashArgumentError("buffers to transfer must not share an ArrayBuffer");
          }
          seen.add(data.buffer);
          sent.push(data);
          transfer.push(data.buffer);
        }
      }
      let result: { digests: Uint8Array; data: Uint8Array[] } | undefined;
      return new Promise<void>((resolve, reject) => {
        const call = new Call(resolve, reject);
        const request: WorkerRequest = {
          type: "buffer",
          id: this.#nextId++,
          algorithm,
          data: sent,
          giveBack: true,
          ...(lengths !== undefined ? { lengths } : {}),
        };
        this.#enqueue(
          {
            call,
            request,
            transfer,
            ...(prepare !== undefined ? { prepare } : {}),
            done: (reply) => {
              if (reply.type !== "buffer") return call.fail(replyError(reply));
              const back = list.slice();
              if (pack !== undefined) {
                const r = reply.data?.[0];
                if (r !== undefined) this.#givePack(r);
              } else if (giveBack && reply.data !== null) {
                for (let i = 0; i < back.length; i++) {
                  const r = reply.data[i];
                  if (r === undefined || !(list[i]!.buffer instanceof ArrayBuffer)) continue;
                  back[i] = Buffer.isBuffer(list[i])
                    ? Buffer.from(r.buffer, r.byteOffset, r.byteLength)
                    : r;
                }
              }
              result = { digests: reply.digests, data: back };
              call.finish();
            },
          },
          true,
        );
      }).then(() => result!);
    });
  }

  /**
   * Stops the workers. Calls still running or queued reject with HashPoolClosedError, and later
   * calls too. Idempotent.
   */
  close(): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    const err = new HashPoolClosedError();
    for (const job of [...this.#urgent.drain(), ...this.#queue.drain()]) job.call.fail(err);
    const slots = this.#slots.splice(0);
    for (const slot of slots) for (const job of slot.jobs.splice(0)) job.call.fail(err);
    // A terminating worker does not always keep the event loop alive until its exit is reported
    // (seen on Node 20 after the workers had been unref'd while idle): the process then ran out
    // of work with close() pending, and whoever awaited it never resumed. A timer holds the loop,
    // for CLOSE_WAIT_MS at most.
    let hold: NodeJS.Timeout | undefined;
    this.#closing = Promise.race([
      Promise.all(slots.map((s) => s.worker.terminate())).then(() => undefined),
      new Promise<void>((resolve) => {
        hold = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]).finally(() => clearTimeout(hold));
    return this.#closing;
  }

  /** A buffer of at least `bytes` to pack a batch into: a kept one when it fits. */
  #takePack(bytes: number): Uint8Array {
    if (bytes > PACK_BYTES) return new Uint8Array(bytes);
    return (this.#packs.pop() ?? new Uint8Array(PACK_BYTES)).subarray(0, bytes);
  }

  /** A pack buffer came back from a worker: keep it if it is one of the reusable size. */
  #givePack(view: Uint8Array): void {
    if (view.buffer.byteLength === PACK_BYTES && this.#packs.length < MAX_PACKS) {
      this.#packs.push(new Uint8Array(view.buffer as ArrayBuffer));
    }
  }

  /** Runs `start` unless the pool is closed; synchronous throws become rejections. */
  #guard<T>(start: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new HashPoolClosedError());
    try {
      return start();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #runFiles(
    layout: Layout,
    algorithm: HashAlgorithm,
    tolerant: boolean,
    runs: Array<[number, number]>,
    opts: HashFilesOptions,
    onResult: (
      pieces: Array<[number, number]>,
      reply: { digests: Uint8Array; bad: Uint8Array },
    ) => void,
  ): Promise<void> {
    const { signal, onProgress } = opts;
    if (signal?.aborted) return Promise.reject(new HashAbortedError(signal.reason));
    let totalBytes = 0;
    for (const [a, b] of runs) totalBytes += layout.bytesOf(a, b);
    if (totalBytes === 0) {
      onProgress?.(0);
      return Promise.resolve();
    }

    // Enough jobs to keep every worker busy till the end, but never more than jobSize each.
    const target = Math.max(
      Math.min(this.#jobSize, Math.ceil(totalBytes / (this.threads * 4))),
      Math.min(MIN_JOB_SIZE, this.#jobSize),
    );
    const perJob = Math.max(1, Math.floor(target / layout.pieceLength));

    return new Promise<void>((resolve, reject) => {
      const call = new Call(resolve, reject);
      let pending = 0;
      let done = 0;
      let reported = -1;
      let lastReport = 0;
      const report = (force: boolean) => {
        if (onProgress === undefined || done === reported) return;
        const now = performance.now();
        if (!force && now - lastReport < PROGRESS_INTERVAL_MS) return;
        lastReport = now;
        reported = done;
        onProgress(done);
      };
      if (signal !== undefined) {
        const onAbort = () => this.#cancel(call, new HashAbortedError(signal.reason));
        signal.addEventListener("abort", onAbort, { once: true });
        call.onSettle(() => signal.removeEventListener("abort", onAbort));
      }

      // Pack runs into jobs of up to perJob pieces (a job may hold several short runs).
      let jobPieces: Array<[number, number]> = [];
      let jobCount = 0;
      const emit = () => {
        if (jobCount === 0) return;
        const pieces = jobPieces;
        const ranges = pieces.map(([a, b]) => layout.range(a, b));
        let bytes = 0;
        for (const r of ranges) bytes += r.bytes;
        const request: FilesJob = {
          type: "files",
          id: this.#nextId++,
          algorithm,
          pieceLength: layout.pieceLength,
          tolerant,
          ranges,
        };
        pending++;
        this.#enqueue(
          {
            call,
            request,
            transfer: [],
            done: (reply) => {
              if (reply.type !== "files") return this.#cancel(call, replyError(reply));
              try {
                onResult(pieces, reply);
                done += bytes;
                if (--pending === 0) {
                  report(true);
                  call.finish();
                } else {
                  report(false);
                }
              } catch (err) {
                this.#cancel(call, err); // a throwing callback ends the call
              }
            },
          },
          false,
        );
        jobPieces = [];
        jobCount = 0;
      };
      for (const [first, last] of runs) {
        let a = first;
        while (a < last) {
          const b = Math.min(last, a + (perJob - jobCount));
          jobPieces.push([a, b]);
          jobCount += b - a;
          a = b;
          if (jobCount === perJob) emit();
        }
      }
      emit();
    });
  }

  /** Fails a call and drops its queued jobs; jobs already on a worker finish and are ignored. */
  #cancel(call: Call, err: unknown) {
    if (call.settled) return;
    call.fail(err);
    this.#queue.removeWhere((j) => j.call === call);
    this.#urgent.removeWhere((j) => j.call === call);
  }

  #enqueue(job: Job, urgent: boolean) {
    (urgent ? this.#urgent : this.#queue).push(job);
    this.#dispatch();
  }

  #nextJob(): Job | undefined {
    for (;;) {
      const job = this.#urgent.shift() ?? this.#queue.shift();
      if (job === undefined || !job.call.settled) return job;
    }
  }

  #dispatch() {
    if (this.#closed) return;
    for (let depth = 1; depth <= WORKER_DEPTH; depth++) {
      for (;;) {
        if (this.#urgent.length + this.#queue.length === 0) return;
        let slot = this.#slots.find((s) => s.jobs.length < depth);
        if (slot === undefined && depth === 1 && this.#slots.length < this.threads) {
          slot = this.#spawn();
        }
        if (slot === undefined) break;
        const job = this.#nextJob();
        if (job === undefined) return;
        if (slot.jobs.length === 0) slot.worker.ref();
        slot.jobs.push(job);
        try {
          job.prepare?.();
          slot.worker.postMessage(job.request, job.transfer);
        } catch (err) {
          slot.jobs.pop();
          if (slot.jobs.length === 0) slot.worker.unref();
          this.#cancel(job.call, err);
        }
      }
    }
  }

  #spawn(): Slot {
    const worker = new Worker(this.#workerUrl, { workerData: { bufferSize: this.#bufferSize } });
    worker.unref();
    const slot: Slot = { worker, jobs: [], error: undefined };
    this.#slots.push(slot);
    worker.on("message", (reply: WorkerReply) => {
      const job = slot.jobs.shift();
      if (slot.jobs.length === 0) worker.unref();
      if (job !== undefined && !job.call.settled) job.done(reply);
      this.#dispatch();
    });
    worker.on("error", (err) => {
      slot.error = err;
    });
    worker.on("exit", (code) => {
      const i = this.#slots.indexOf(slot);
      if (i === -1) return; // removed by close()
      this.#slots.splice(i, 1);
      const lost = slot.jobs.splice(0);
      const cause = slot.error ?? new Error(`worker exited with code ${code}`);
      for (const job of lost) {
        this.#cancel(
          job.call,
          new HashWorkerError(
            `hash worker died: ${cause instanceof Error ? cause.message : String(cause)}`,
            cause,
          ),
        );
      }
      this.#dispatch();
    });
    return slot;
  }
}

function replyError(reply: WorkerReply): Error {
  switch (reply.type) {
    case "io-error":
      return new HashIoError(reply.path, reply.code, reply.message);
    case "job-error":
      return new HashWorkerError(`hash worker failed: ${reply.message}`);
    default:
      return new HashWorkerError(`unexpected reply ${reply.type} from hash worker`);
  }
}
