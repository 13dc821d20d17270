/**
 * The part file keeps the bytes of skipped files (wantedFiles[i] === false) that arrive inside
 * pieces we download anyway (a piece at the edge of a wanted file also holds bytes of its skipped
 * neighbour). With them the piece can still be served to peers and verified by a recheck, and the
 * skipped file is never created. Same idea as libtorrent's part file.
 *
 * Layout of `<downloadDir>/.<infoHashHex>.parts` (integers little-endian):
 *
 * ```
 * 0   8 bytes   magic "TSRPART1"
 * 8   u32       piece length
 * 12  u32       piece count
 * 16  u32 × N   slot of each piece, 0xFFFFFFFF = not in the part file
 * H             slot 0, slot 1, ...  (H = 16 + 4N rounded up to 4096; each slot is one piece length)
 * ```
 *
 * A piece's slot holds the piece's bytes at their offsets inside the piece, but only the bytes
 * that belong to skipped files are written there (the rest of the slot is a hole). Slots are
 * handed out in order of first write and never move; a slot's table entry is written after its
 * data. A header that does not match the torrent (other piece length or count, bad magic,
 * corrupt table) is ignored and rewritten on the next write.
 */
import { constants as fsc } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { errnoCode, ioError, unsafePathError } from "./errors.js";

const MAGIC = Buffer.from("TSRPART1", "latin1");
const FIXED = 16;
const NONE = 0xffffffff;
const ALIGN = 4096;

export const O_NOFOLLOW: number = fsc.O_NOFOLLOW ?? 0;
export const O_NONBLOCK: number = fsc.O_NONBLOCK ?? 0;

export class PartFile {
  readonly path: string;
  readonly #fh: FileHandle;
  readonly #writable: boolean;
  readonly #pieceLength: number;
  readonly #pieceCount: number;
  readonly #headerSize: number;
  readonly #table: Uint32Array;
  #next: number;
  #header: Promise<void> | null;

  private constructor(
    path: string,
    fh: FileHandle,
    writable: boolean,
    pieceLength: number,
    pieceCount: number,
    table: Uint32Array | null,
  ) {
    this.path = path;
    this.#fh = fh;
    this.#writable = writable;
    this.#pieceLength = pieceLength;
    this.#pieceCount = pieceCount;
    this.#headerSize = Math.ceil((FIXED + 4 * pieceCount) / ALIGN) * ALIGN;
    this.#header = table === null ? null : Promise.resolve();
    this.#table = table ?? new Uint32Array(pieceCount).fill(NONE);
    let next = 0;
    for (const s of this.#table) if (s !== NONE && s >= next) next = s + 1;
    this.#next = next;
  }

  /**
   * Opens the part file. Without `create`, a missing file gives null. The caller has checked that
   * the directory is safe; the file itself is opened with O_NOFOLLOW and must be a regular file.
   */
  static async open(
    path: string,
    pieceLength: number,
    pieceCount: number,
    create: boolean,
  ): Promise<PartFile | null> {
    const base = O_NOFOLLOW | O_NONBLOCK;
    let fh: FileHandle;
    let writable = true;
    try {
      fh = await open(path, fsc.O_RDWR | (create ? fsc.O_CREAT : 0) | base, 0o666);
    } catch (err) {
      const code = errnoCode(err);
      if (code === "ENOENT" && !create) return null;
      if (code === "ELOOP" || code === "EMLINK") throw unsafePathError(path, "is a symbolic link");
      if (create || (code !== "EACCES" && code !== "EROFS" && code !== "EPERM")) {
        throw ioError(err, "opening", path);
      }
      writable = false;
      try {
        fh = await open(path, fsc.O_RDONLY | base);
      } catch (err2) {
        throw ioError(err2, "opening", path);
      }
    }
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw unsafePathError(path, "is not a regular file");
      const table = await readTable(fh, st.size, pieceLength, pieceCount);
      return new PartFile(path, fh, writable, pieceLength, pieceCount, table);
    } catch (err) {
      await fh.close().catch(() => {});
      throw ioError(err, "reading", path);
    }
  }

  /** Whether the piece has a slot (some of its bytes were written here). */
  has(piece: number): boolean {
    return this.#table[piece] !== NONE;
  }

  /**
   * Writes the ranges `[off, off+len)` of `data` (a whole piece), given as flat pairs
   * `[off0, len0, off1, len1, ...]`, into the piece's slot.
   */
  async write(piece: number, data: Uint8Array, ranges: readonly number[]): Promise<void> {
    if (!this.#writable) {
      throw ioError(
        Object.assign(new Error("part file is read-only"), { code: "EACCES" }),
        "writing",
        this.path,
      );
    }
    try {
      await this.#writeHeader();
      let slot = this.#table[piece]!;
      const fresh = slot === NONE;
      if (fresh) {
        slot = this.#next++;
        this.#table[piece] = slot; // a concurrent rewrite of this piece reuses the slot
      }
      const base = this.#headerSize + slot * this.#pieceLength;
      for (let i = 0; i < ranges.length; i += 2) {
        const off = ranges[i]!;
        await writeFully(this.#fh, data.subarray(off, off + ranges[i + 1]!), base + off);
      }
      if (fresh) {
        const entry = Buffer.allocUnsafe(4);
        entry.writeUInt32LE(slot, 0);
        await writeFully(this.#fh, entry, FIXED + 4 * piece);
      }
    } catch (err) {
      throw ioError(err, "writing", this.path);
    }
  }

  /**
   * Reads `len` bytes at `pieceOff` inside the piece's slot into `out` at `outOff`. Returns false
   * when the piece has no slot.
   */
  async read(
    piece: number,
    out: Uint8Array,
    outOff: number,
    pieceOff: number,
    len: number,
  ): Promise<boolean> {
    const slot = this.#table[piece]!;
    if (slot === NONE) return false;
    const pos = this.#headerSize + slot * this.#pieceLength + pieceOff;
    let done = 0;
    try {
      while (done < len) {
        const { bytesRead } = await this.#fh.read(out, outOff + done, len - done, pos + done);
        if (bytesRead === 0) {
          throw Object.assign(
            new Error(`part file ends at byte ${pos + done}, piece ${piece} needs ${pos + len}`),
            { code: "SHORT" },
          );
        }
        done += bytesRead;
      }
    } catch (err) {
      throw ioError(err, "reading", this.path);
    }
    return true;
  }

  async sync(): Promise<void> {
    if (!this.#writable) return;
    try {
      await this.#fh.datasync();
    } catch (err) {
      throw ioError(err, "writing", this.path);
    }
  }

  async close(): Promise<void> {
    try {
      await this.#fh.close();
    } catch (err) {
      throw ioError(err, "writing", this.path);
    }
  }

  /** Writes magic, geometry and an empty table once, before the first slot is used. */
  #writeHeader(): Promise<void> {
    this.#header ??= (async () => {
      const buf = Buffer.alloc(FIXED + 4 * this.#pieceCount, 0xff);
      MAGIC.copy(buf, 0);
      buf.writeUInt32LE(this.#pieceLength, 8);
      buf.writeUInt32LE(this.#pieceCount, 12);
      await writeFully(this.#fh, buf, 0);
    })();
    return this.#header;
  }
}

/** The slot table, or null when the file is empty or does not belong to this geometry. */
async function readTable(
  fh: FileHandle,
  size: number,
  pieceLength: number,
  pieceCount: number,
): Promise<Uint32Array | null> {
  const tableEnd = FIXED + 4 * pieceCount;
  if (size < tableEnd) return null;
  const buf = Buffer.allocUnsafe(tableEnd);
  if ((await readFully(fh, buf, 0)) < tableEnd) return null;
  if (!buf.subarray(0, 8).equals(MAGIC)) return null;
  if (buf.readUInt32LE(8) !== pieceLength || buf.readUInt32LE(12) !== pieceCount) return null;
  const table = new Uint32Array(pieceCount);
  const seen = new Set<number>();
  for (let p = 0; p < pieceCount; p++) {
    const s = buf.readUInt32LE(FIXED + 4 * p);
    if (s !== NONE) {
      if (s >= pieceCount || seen.has(s)) return null;
      seen.add(s);
    }
    table[p] = s;
  }
  return table;
}

async function readFully(fh: FileHandle, buf: Uint8Array, pos: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, pos + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** One writev per buffer, repeated only if the kernel writes less than asked. */
export async function writeFully(fh: FileHandle, data: Uint8Array, pos: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const chunk = done === 0 ? data : data.subarray(done);
    const { bytesWritten } = await fh.writev([chunk], pos + done);
    if (bytesWritten <= 0) {
      throw Object.assign(new Error("write made no progress"), { code: "EIO" });
    }
    done += bytesWritten;
  }
}
