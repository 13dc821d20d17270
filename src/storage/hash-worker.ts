/**
 * Worker thread of HashPool. Reads piece ranges straight from disk into one reusable buffer and
 * hashes them piece by piece, so no file data crosses threads; or hashes buffers handed over by
 * the main thread. See hash-protocol.ts for the messages.
 */
import crypto from "node:crypto";
import { closeSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import type {
  BufferJob,
  FilesJob,
  HashAlgorithm,
  PieceRange,
  WorkerReply,
  WorkerRequest,
} from "./hash-protocol.js";
import { DEFAULT_BUFFER_SIZE } from "./hash-protocol.js";

const DIGEST_SIZE: Record<HashAlgorithm, number> = { sha1: 20, sha256: 32 };

const bufferSize: number =
  typeof workerData?.bufferSize === "number" && workerData.bufferSize > 0
    ? workerData.bufferSize
    : DEFAULT_BUFFER_SIZE;

let ioBuffer: Buffer | null = null;
function getBuffer(): Buffer {
  ioBuffer ??= Buffer.allocUnsafeSlow(bufferSize);
  return ioBuffer;
}

/** One-shot digest; crypto.hash (Node >= 20.12) skips the Hash object and is faster on small pieces. */
const oneShot: (algorithm: string, data: Uint8Array) => Uint8Array =
  typeof (crypto as { hash?: unknown }).hash === "function"
    ? (algorithm, data) => crypto.hash(algorithm, data, "buffer") as unknown as Uint8Array
    : (algorithm, data) => crypto.createHash(algorithm).update(data).digest();

class FileIoFailure extends Error {
  constructor(
    readonly path: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function errnoCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

/** Reads until `length` bytes or end of file; returns the number of bytes read. */
function readFully(fd: number, buf: Buffer, offset: number, length: number, position: number) {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, offset + done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/**
 * Hashes one piece range, writing digests from piece `base` on. In tolerant mode, pieces touching
 * missing data are flagged in `bad` and not hashed; otherwise missing data throws FileIoFailure.
 */
function hashRange(
  job: FilesJob,
  range: PieceRange,
  base: number,
  digests: Uint8Array,
  bad: Uint8Array,
): void {
  const { algorithm, pieceLength: pl, tolerant } = job;
  const dlen = DIGEST_SIZE[algorithm];
  const total = range.bytes;
  const buf = getBuffer();
  // A whole number of pieces per buffer when they fit, so small pieces never straddle two reads.
  const cap = pl <= buf.length ? Math.floor(buf.length / pl) * pl : buf.length;
  let fill = 0; // bytes in buf
  let bufStart = 0; // range-relative offset of buf[0]
  let hasher: crypto.Hash | null = null; // piece straddling buffers (pieces larger than cap)

  const markBad = (from: number, to: number) => {
    const last = Math.floor((to - 1) / pl);
    for (let p = Math.floor(from / pl); p <= last; p++) bad[base + p] = 1;
  };

  const flush = () => {
    let off = 0;
    while (off < fill) {
      const at = bufStart + off;
      const piece = Math.floor(at / pl);
      const pieceStart = piece * pl;
      const pieceEnd = Math.min(pieceStart + pl, total);
      const n = Math.min(pieceEnd - at, fill - off);
      if (bad[base + piece] === 1) {
        hasher = null;
      } else if (hasher === null && at === pieceStart && n === pieceEnd - at) {
        digests.set(oneShot(algorithm, buf.subarray(off, off + n)), (base + piece) * dlen);
      } else {
        hasher ??= crypto.createHash(algorithm);
        hasher.update(buf.subarray(off, off + n));
        if (at + n === pieceEnd) {
          digests.set(hasher.digest(), (base + piece) * dlen);
          hasher = null;
        }
      }
      off += n;
    }
    bufStart += fill;
    fill = 0;
  };

  for (const seg of range.segments) {
    const segStart = bufStart + fill; // range-relative
    let fd = -1;
    let missing = false;
    if (seg.path !== null) {
      try {
        fd = openSync(seg.path, "r");
      } catch (err) {
        if (!tolerant) {
          throw new FileIoFailure(seg.path, errnoCode(err), (err as Error).message);
        }
        missing = true;
        markBad(segStart, segStart + seg.len);
      }
    }
    try {
      let done = 0;
      while (done < seg.len) {
        const n = Math.min(seg.len - done, cap - fill);
        if (seg.path === null) {
          buf.fill(0, fill, fill + n);
        } else if (!missing) {
          let got: number;
          try {
            got = readFully(fd, buf, fill, n, seg.pos + done);
          } catch (err) {
            if (!tolerant) {
              throw new FileIoFailure(seg.path, errnoCode(err), (err as Error).message);
            }
            got = 0;
          }
          if (got < n) {
            if (!tolerant) {
              throw new FileIoFailure(
                seg.path,
                "SHORT",
                `file ends at byte ${seg.pos + done + got}, expected at least ${seg.pos + seg.len} bytes`,
              );
            }
            missing = true;
            const from = bufStart + fill + got;
            markBad(from, segStart + seg.len);
          }
        }
        fill += n;
        done += n;
        if (fill === cap) flush();
      }
    } finally {
      if (fd !== -1) closeSync(fd);
    }
  }
  flush();
}

function runFiles(job: FilesJob): WorkerReply {
  const dlen = DIGEST_SIZE[job.algorithm];
  let count = 0;
  for (const r of job.ranges) count += Math.ceil(r.bytes / job.pieceLength);
  const digests = new Uint8Array(count * dlen);
  const bad = new Uint8Array(count);
  let base = 0;
  for (const r of job.ranges) {
    hashRange(job, r, base, digests, bad);
    base += Math.ceil(r.bytes / job.pieceLength);
  }
  return { type: "files", id: job.id, digests, bad };
}

function runBuffer(job: BufferJob): WorkerReply {
  const dlen = DIGEST_SIZE[job.algorithm];
  if (job.lengths !== undefined) {
    const packed = job.data[0]!;
    const digests = new Uint8Array(job.lengths.length * dlen);
    let at = 0;
    for (let i = 0; i < job.lengths.length; i++) {
      const n = job.lengths[i]!;
      digests.set(oneShot(job.algorithm, packed.subarray(at, at + n)), i * dlen);
      at += n;
    }
    return { type: "buffer", id: job.id, digests, data: job.giveBack ? job.data : null };
  }
  const digests = new Uint8Array(job.data.length * dlen);
  for (let i = 0; i < job.data.length; i++) {
    digests.set(oneShot(job.algorithm, job.data[i]!), i * dlen);
  }
  return { type: "buffer", id: job.id, digests, data: job.giveBack ? job.data : null };
}

const port = parentPort;
if (port === null) throw new Error("hash-worker must run in a worker thread");

port.on("message", (msg: WorkerRequest) => {
  let reply: WorkerReply;
  try {
    reply = msg.type === "files" ? runFiles(msg) : runBuffer(msg);
  } catch (err) {
    reply =
      err instanceof FileIoFailure
        ? { type: "io-error", id: msg.id, path: err.path, code: err.code, message: err.message }
        : {
            type: "job-error",
            id: msg.id,
            message: err instanceof Error ? err.message : String(err),
          };
  }
  const transfer: ArrayBuffer[] = [];
  if (reply.type === "files") {
    transfer.push(reply.digests.buffer as ArrayBuffer, reply.bad.buffer as ArrayBuffer);
  } else if (reply.type === "buffer") {
    transfer.push(reply.digests.buffer as ArrayBuffer);
    const seen = new Set<ArrayBufferLike>();
    for (const d of reply.data ?? []) {
      if (d.buffer instanceof ArrayBuffer && !seen.has(d.buffer)) {
        seen.add(d.buffer);
        transfer.push(d.buffer);
      }
    }
  }
  port.postMessage(reply, transfer);
});
