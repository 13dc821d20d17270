import { TesseraError } from "../errors.js";
import type { TorrentMeta } from "../metainfo/index.js";

export class SelectionError extends TesseraError {}

/**
 * Parse a file selection such as `0,2,5-7` (0-based file indices in torrent order, as `tessera
 * info` lists them and as BEP 53's `so` writes them). Padding files are not counted.
 */
export function parseSelection(text: string, fileCount: number): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const s = part.trim();
    if (s === "") continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m)
      throw new SelectionError(
        "SELECTION_INVALID",
        `--select: ${JSON.stringify(s)} is not an index or a range`,
      );
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) throw new SelectionError("SELECTION_INVALID", `--select: range ${s} is reversed`);
    if (b >= fileCount) {
      throw new SelectionError(
        "SELECTION_INVALID",
        `--select: file ${b} does not exist (the torrent has ${fileCount} files, 0-${fileCount - 1})`,
      );
    }
    for (let i = a; i <= b; i++) out.add(i);
  }
  if (out.size === 0) throw new SelectionError("SELECTION_INVALID", "--select: no files selected");
  return out;
}

/**
 * Which entries of `meta.files` are wanted, given user-visible indices (padding excluded), and
 * which pieces: a piece is wanted when it holds any byte of a wanted file.
 */
export function wantedLayout(
  meta: TorrentMeta,
  selected: Set<number> | undefined,
): { files: boolean[]; pieces: Uint8Array } {
  const files: boolean[] = [];
  let visible = 0;
  for (const f of meta.files) {
    if (f.padding) files.push(false);
    else files.push(selected === undefined || selected.has(visible));
    if (!f.padding) visible++;
  }
  const pieces = new Uint8Array(meta.pieceCount);
  if (selected === undefined) {
    pieces.fill(1);
    return { files, pieces };
  }
  meta.files.forEach((f, i) => {
    if (!files[i] || f.length === 0) return;
    const first = Math.floor(f.offset / meta.pieceLength);
    const last = Math.floor((f.offset + f.length - 1) / meta.pieceLength);
    for (let p = first; p <= last; p++) pieces[p] = 1;
  });
  return { files, pieces };
}

/** Count of user-visible (non-padding) files. */
export function visibleFileCount(meta: TorrentMeta): number {
  return meta.files.filter((f) => !f.padding).length;
}
