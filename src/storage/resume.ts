/**
 * Resume data: what a torrent had verified on disk, and the state of its files when that was
 * true, so the next start trusts the files that did not change and rechecks only the others.
 * Sans-I/O: encode, decode and plan; TorrentStorage reads and writes the file.
 *
 * File `<downloadDir>/.<infoHashHex>.resume`, bencoded (keys sorted):
 *
 * ```
 * d
 *   7:version   i1e
 *   9:info-hash 20:<v1 info-hash>
 *   11:piece-count i<N>e
 *   6:pieces    <ceil(N/8) bytes: bitfield of verified pieces, BEP 3 bit order>
 *   5:files     l l i<kind>e i<size>e i<mtime µs>e e ... e   (one per file of the torrent)
 *   5:parts     l i<size>e i<mtime µs>e e                      (optional: the part file)
 *   5:saved     i<ms since the epoch>e
 *   4:info      <the info dictionary's bytes, optional: a magnet link restarts without peers>
 * e
 * ```
 *
 * `kind` is 0 for a wanted file, 1 padding, 2 skipped; size and mtime are -1 when the file did not
 * exist.
 *
 * Invariant of a saved file: `files` is measured first, then `pieces` is snapshot (only pieces
 * whose write completed), then the file is written (temp file, fsync, rename). So every piece in
 * `pieces` was in the files (at least in the page cache, which survives a crash of the process)
 * when they were measured, and a file whose kind, size and mtime still match was not written after
 * that: its pieces outside `pieces` were never completed. A file that changed (written later,
 * truncated, replaced, deleted, or wanted/skipped differently) has all its pieces checked again.
 * Data files are not fsynced (as libtorrent and Transmission do not): after a power loss, a file
 * whose data did not reach the disk normally shows an older size or mtime and is rechecked
 * (file systems such as ext4 in its default data=ordered mode commit data before the metadata
 * that points to it).
 */
import { createHash } from "node:crypto";
import { BDict, type BValue, decode, encode } from "../bencode/index.js";
import { TesseraError } from "../errors.js";
import { Bitfield } from "../util/bitfield.js";

export const RESUME_VERSION = 1;
/** Kinds of file as the storage sees them. */
export const FILE_WANTED = 0;
export const FILE_PADDING = 1;
export const FILE_SKIPPED = 2;

/** The state of one file on disk (size and mtime are -1 when it does not exist). */
export interface FileState {
  kind: number;
  size: number;
  /** Modification time in whole microseconds since the epoch. */
  mtimeUs: number;
}

export interface ResumeData {
  infoHash: Uint8Array;
  pieceCount: number;
  /** Verified pieces. */
  have: Bitfield;
  files: FileState[];
  /** The part file's state, when the torrent has skipped files. */
  parts?: { size: number; mtimeUs: number };
  savedAt: number;
  /** The torrent's info dictionary, exactly as hashed (its SHA-1 is the info-hash). */
  info?: Uint8Array;
}

export class ResumeError extends TesseraError {}

export function encodeResume(r: ResumeData): Uint8Array {
  return encode({
    version: RESUME_VERSION,
    "info-hash": r.infoHash,
    "piece-count": r.pieceCount,
    pieces: r.have.bytes,
    files: r.files.map((f) => [f.kind, f.size, f.mtimeUs]),
    parts: r.parts ? [r.parts.size, r.parts.mtimeUs] : undefined,
    saved: Math.floor(r.savedAt),
    info: r.info,
  });
}

/** What a resume file must match: the torrent it claims to describe. */
export interface ResumeTarget {
  infoHash: Uint8Array;
  pieceCount: number;
  fileCount: number;
}

const fail = (why: string): never => {
  throw new ResumeError("RESUME_INVALID", `resume data ignored: ${why}`);
};

function int(v: BValue | undefined, what: string, min: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min) fail(`${what} is not valid`);
  return v as number;
}

/**
 * Decodes and validates resume data for `target`. Throws ResumeError (`RESUME_INVALID`) for
 * anything malformed or for another torrent; the caller then checks everything.
 */
export function decodeResume(bytes: Uint8Array, target: ResumeTarget): ResumeData {
  let root: BValue;
  try {
    root = decode(bytes);
  } catch (e) {
    return fail(`not bencode (${(e as Error).message})`);
  }
  if (!(root instanceof BDict)) return fail("not a dictionary");
  if (root.get("version") !== RESUME_VERSION) fail("unknown version");
  const ih = root.get("info-hash");
  if (!(ih instanceof Uint8Array) || Buffer.compare(ih, target.infoHash) !== 0)
    fail("it is for another torrent");
  const pieceCount = int(root.get("piece-count"), "piece-count", 1);
  if (pieceCount !== target.pieceCount) fail("the piece count differs");
  const pieces = root.get("pieces");
  if (!(pieces instanceof Uint8Array) || pieces.length !== (pieceCount + 7) >> 3)
    fail("the piece bitfield has the wrong size");
  if (!Bitfield.spareBitsClear(pieceCount, pieces as Uint8Array)) fail("spare bits are set");
  const filesV = root.get("files");
  if (!Array.isArray(filesV) || filesV.length !== target.fileCount)
    fail("the file list does not match");
  const files: FileState[] = (filesV as BValue[]).map((f, i) => {
    if (!Array.isArray(f) || f.length !== 3) return fail(`file ${i} is malformed`);
    return {
      kind: int(f[0], `file ${i} kind`, 0),
      size: int(f[1], `file ${i} size`, -1),
      mtimeUs: int(f[2], `file ${i} mtime`, -1),
    };
  });
  const partsV = root.get("parts");
  let parts: ResumeData["parts"];
  if (partsV !== undefined) {
    if (!Array.isArray(partsV) || partsV.length !== 2) fail("parts is malformed");
    const pv = partsV as BValue[];
    parts = { size: int(pv[0], "parts size", -1), mtimeUs: int(pv[1], "parts mtime", -1) };
  }
  const info = root.get("info");
  if (info !== undefined && !(info instanceof Uint8Array)) fail("info is not a byte string");
  return {
    ...(info ? { info: info as Uint8Array } : {}),
    infoHash: ih as Uint8Array,
    pieceCount,
    have: new Bitfield(pieceCount, pieces as Uint8Array),
    files,
    ...(parts ? { parts } : {}),
    savedAt: int(root.get("saved"), "saved", 0),
  };
}

/**
 * The info dictionary kept in resume data, if it is there and hashes to `infoHash` (so a magnet
 * link restarted in the same directory needs no peer for its metadata); null otherwise.
 */
export function resumeInfo(bytes: Uint8Array, infoHash: Uint8Array): Uint8Array | null {
  let root: BValue;
  try {
    root = decode(bytes);
  } catch {
    return null;
  }
  if (!(root instanceof BDict)) return null;
  const info = root.get("info");
  if (!(info instanceof Uint8Array)) return null;
  const digest = createHash("sha1").update(info).digest();
  return Buffer.compare(digest, infoHash) === 0 ? info : null;
}

/** The layout facts the plan needs (a TorrentMeta has them). */
export interface ResumeLayout {
  pieceLength: number;
  pieceCount: number;
  files: readonly { offset: number; length: number }[];
}

export interface ResumePlan {
  /** Pieces trusted from the resume data (their files did not change). */
  trusted: Bitfield;
  /** Pieces to hash again (they touch a file that changed). */
  recheck: number[];
  /** Files that changed since the resume data was saved. */
  changedFiles: number;
}

const same = (a: FileState, b: FileState) =>
  a.kind === b.kind && a.size === b.size && a.mtimeUs === b.mtimeUs;

/**
 * Which pieces to trust and which to check again, given the resume data and the files' state now
 * (`now.files[i]` for file i, `now.parts` for the part file). A piece is trusted when it is in the
 * resume data and no file it touches changed; it is rechecked when a file it touches changed (or
 * the part file did, for pieces that keep bytes there: `viaPart`); otherwise it is missing.
 */
export function planResume(
  layout: ResumeLayout,
  saved: ResumeData,
  now: { files: FileState[]; parts?: { size: number; mtimeUs: number } },
  viaPart?: Uint8Array | null,
): ResumePlan {
  const n = layout.pieceCount;
  const dirty = new Uint8Array(n);
  let changedFiles = 0;
  const pl = layout.pieceLength;
  layout.files.forEach((f, i) => {
    const a = saved.files[i]!;
    const b = now.files[i]!;
    if (same(a, b)) return;
    changedFiles++;
    if (f.length === 0) return;
    const first = Math.floor(f.offset / pl);
    const last = Math.floor((f.offset + f.length - 1) / pl);
    for (let p = first; p <= last; p++) dirty[p] = 1;
  });
  const partState = (x: { size: number; mtimeUs: number } | undefined) =>
    x === undefined || x.size < 0 ? "none" : `${x.size}:${x.mtimeUs}`;
  if (viaPart && partState(saved.parts) !== partState(now.parts)) {
    changedFiles++;
    for (let p = 0; p < n; p++) if (viaPart[p]) dirty[p] = 1;
  }
  const trusted = new Bitfield(n);
  const recheck: number[] = [];
  for (let p = 0; p < n; p++) {
    if (dirty[p]) recheck.push(p);
    else if (saved.have.has(p)) trusted.set(p);
  }
  return { trusted, recheck, changedFiles };
}
