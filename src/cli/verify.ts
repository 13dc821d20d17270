import path from "node:path";
import { parseArgs } from "node:util";
import type { TorrentMeta } from "../metainfo/index.js";
import { type FileSpan, HashPool } from "../storage/hash-pool.js";
import { EXIT, UsageError } from "./errors.js";
import { formatBytes, printable } from "./format.js";
import { readTorrentFile } from "./input.js";
import { startProgress } from "./progress.js";

export const VERIFY_HELP = `Usage: tessera verify <torrent-file> <DIR> [--json]

Check the data under DIR (laid out as 'download --out DIR' writes it) against the torrent's
piece hashes, on all cores. Exits 0 only when every piece is present and correct, 1 otherwise.

Options:
  --json    print one JSON object: {infoHash, pieces, havePieces, missingPieces, complete,
            missing: [[first,last]...], files: [{path, length, complete}]}
  -h, --help`;

/** The on-disk layout of a torrent under `dir`, for the hash pool (padding files read as zeros). */
export function fileSpans(meta: TorrentMeta, dir: string): FileSpan[] {
  return meta.files.map((f) => ({
    path: f.padding ? null : path.join(dir, ...f.path),
    length: f.length,
  }));
}

/** Runs of piece indices whose byte is 0, as inclusive [first, last] ranges. */
export function missingRanges(have: Uint8Array): [number, number][] {
  const out: [number, number][] = [];
  let start = -1;
  for (let i = 0; i <= have.length; i++) {
    const missing = i < have.length && have[i] === 0;
    if (missing && start < 0) start = i;
    if (!missing && start >= 0) {
      out.push([start, i - 1]);
      start = -1;
    }
  }
  return out;
}

export async function verifyCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(`${VERIFY_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length !== 2) throw new UsageError("verify takes a torrent file and a directory");
  const meta = await readTorrentFile(positionals[0]!);
  const dir = positionals[1]!;
  const pool = new HashPool();
  const progress = startProgress("Checking");
  let have: Uint8Array;
  try {
    have = await pool.verifyFiles(fileSpans(meta, dir), meta.pieceLength, meta.pieceHashes, {
      onProgress: (done) => progress.update(done, meta.length),
    });
  } finally {
    progress.stop();
    await pool.close();
  }
  let havePieces = 0;
  for (const b of have) havePieces += b;
  const complete = havePieces === meta.pieceCount;
  const files = meta.files
    .filter((f) => !f.padding)
    .map((f) => {
      const first = Math.floor(f.offset / meta.pieceLength);
      const last =
        f.length === 0 ? first - 1 : Math.floor((f.offset + f.length - 1) / meta.pieceLength);
      let ok = true;
      for (let p = first; p <= last && ok; p++) ok = have[p] === 1;
      return { path: f.path.join("/"), length: f.length, complete: ok };
    });
  const missing = missingRanges(have);
  if (values.json) {
    process.stdout.write(
      `${JSON.stringify({
        infoHash: meta.infoHashHex,
        pieces: meta.pieceCount,
        havePieces,
        missingPieces: meta.pieceCount - havePieces,
        complete,
        missing,
        files,
      })}\n`,
    );
  } else {
    const pct = ((100 * havePieces) / meta.pieceCount).toFixed(1);
    process.stdout.write(
      `${printable(meta.name)}: ${havePieces}/${meta.pieceCount} pieces (${pct}%) of ${formatBytes(meta.length)} ${complete ? "complete" : "incomplete"}\n`,
    );
    if (!complete) {
      const shown = missing.slice(0, 20).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
      process.stdout.write(
        `Missing pieces: ${shown.join(", ")}${missing.length > 20 ? ", ..." : ""}\n`,
      );
      for (const f of files)
        if (!f.complete) process.stdout.write(`  incomplete: ${printable(f.path)}\n`);
    }
  }
  return complete ? EXIT.OK : EXIT.FAILURE;
}
