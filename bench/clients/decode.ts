/**
 * Decode a .torrent with Tessera's parser in a fresh process (scenario h):
 *   node dist/bench/clients/decode.js FILE RUNS
 * prints {"first": s, "median": s, "pieces": n}; the file is read before the clock starts.
 * @module
 */
import { readFileSync } from "node:fs";
import { parseTorrent } from "../../src/metainfo/index.js";

const [file, runsArg] = process.argv.slice(2);
const bytes = readFileSync(file!);
const runs = Number(runsArg ?? 10);
const times: number[] = [];
let pieces = 0;
for (let i = 0; i < runs; i++) {
  const t0 = performance.now();
  const meta = parseTorrent(bytes);
  times.push((performance.now() - t0) / 1000);
  pieces = meta.pieceCount;
}
const first = times[0];
times.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({ first, median: times[Math.floor(times.length / 2)], pieces })}\n`,
);
