/**
 * From file priorities to piece priorities. A piece takes the highest priority of the files it
 * holds bytes of, so a piece shared by a skipped file and a wanted one is still downloaded (the
 * skipped file's bytes in it come along).
 */
import { MAX_PRIORITY, PickerError } from "./picker.js";

export interface FileExtent {
  /** Byte offset of the file in the torrent. */
  offset: number;
  length: number;
  /** 0 (skip) .. 7. */
  priority: number;
}

export function piecePriorities(
  files: readonly FileExtent[],
  pieceLength: number,
  pieceCount: number,
): Uint8Array {
  const out = new Uint8Array(pieceCount);
  for (const f of files) {
    if (!Number.isInteger(f.priority) || f.priority < 0 || f.priority > MAX_PRIORITY) {
      throw new PickerError(
        "PICKER_BAD_PRIORITY",
        `file priority ${f.priority} is not an integer in 0..${MAX_PRIORITY}`,
      );
    }
    if (f.length <= 0 || f.priority === 0) continue;
    const first = Math.floor(f.offset / pieceLength);
    const last = Math.min(pieceCount - 1, Math.floor((f.offset + f.length - 1) / pieceLength));
    for (let p = first; p <= last; p++) if (out[p]! < f.priority) out[p] = f.priority;
  }
  return out;
}
