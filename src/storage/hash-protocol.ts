/**
 * Messages exchanged between HashPool (main thread) and hash-worker (worker thread).
 * Type-only module: nothing here exists at run time.
 */

/** Hash algorithms the pool accepts, mapped to their digest sizes in bytes. */
/**
 * Default size of a hash worker's read buffer: small enough that the kernel's copy from the page
 * cache and the hash of that copy stay in the core's L2 cache (measured in bench/README.md).
 */
export const DEFAULT_BUFFER_SIZE = 128 * 1024;

export type HashAlgorithm = "sha1" | "sha256";

/** A run of bytes of one file (or of zeros when path is null) inside a piece range. */
export interface Segment {
  /** File path, or null for padding (zeros, never read). */
  path: string | null;
  /** Offset inside the file where the run starts. */
  pos: number;
  /** Length of the run in bytes (> 0). */
  len: number;
}

/** A contiguous run of pieces: starts on a piece boundary, only its last piece may be short. */
export interface PieceRange {
  /** Bytes in the range (sum of the segment lengths). */
  bytes: number;
  segments: Segment[];
}

export interface FilesJob {
  type: "files";
  id: number;
  algorithm: HashAlgorithm;
  pieceLength: number;
  /**
   * false: a missing/short file fails the job (IoFailure reply).
   * true: missing/short data marks the pieces it touches as bad, and they are not hashed.
   */
  tolerant: boolean;
  ranges: PieceRange[];
}

export interface BufferJob {
  type: "buffer";
  id: number;
  algorithm: HashAlgorithm;
  /** One or more buffers, each hashed on its own (a batch saves a round trip per buffer). */
  data: Uint8Array[];
  /**
   * Set when the batch was packed into one buffer: `data` is that one buffer and these are the
   * lengths of the consecutive runs of it to hash, each on its own.
   */
  lengths?: number[];
  /** Send `data` back, transferring their ArrayBuffers. */
  giveBack: boolean;
}

export type WorkerRequest = FilesJob | BufferJob;

export interface FilesResult {
  type: "files";
  id: number;
  /** digestSize bytes per piece, pieces in range order; zeros for bad pieces. */
  digests: Uint8Array;
  /** One byte per piece: 1 = data was missing/unreadable (tolerant mode only). */
  bad: Uint8Array;
}

export interface BufferResult {
  type: "buffer";
  id: number;
  /** digestSize bytes per buffer, in order. */
  digests: Uint8Array;
  data: Uint8Array[] | null;
}

export interface IoFailure {
  type: "io-error";
  id: number;
  path: string;
  /** errno code such as ENOENT, or "SHORT" when the file ends early. */
  code: string;
  message: string;
}

export interface JobFailure {
  type: "job-error";
  id: number;
  message: string;
}

export type WorkerReply = FilesResult | BufferResult | IoFailure | JobFailure;
