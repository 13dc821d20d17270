/**
 * Wire decoder throughput: 1 GiB of 16 KiB piece messages pushed in 64 KiB chunks (the size a
 * TCP socket read usually delivers), drained after each push as a peer connection would.
 *
 *   node dist/bench/wire.js [--size-mib N] [--chunk-kib N] [--runs N]
 *
 * Reports MB/s (10^6 bytes/s of wire bytes), messages/s and how many blocks had to be copied
 * because they straddled two chunks; then the rate of decoding request messages (a seed's load).
 */
import { encodePieceHeader, encodeRequest, WireDecoder } from "../src/wire/index.js";

const MIB = 1 << 20;
const BLOCK = 16384;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
}
const sizeMib = arg("--size-mib", 1024);
const chunkKib = arg("--chunk-kib", 64);
const runs = arg("--runs", 3);

const PIECE_LENGTH = MIB;
const pieceCount = sizeMib;
const blocksPerPiece = PIECE_LENGTH / BLOCK;
const totalBlocks = sizeMib * blocksPerPiece;

// One 8 MiB cycle of messages, cut into chunks once; pushing the same chunks again and again
// keeps the bench about the decoder, not about generating data.
const CYCLE_BLOCKS = 512;
const msgLen = 13 + BLOCK;
const cycle = new Uint8Array(CYCLE_BLOCKS * msgLen);
for (let i = 0; i < CYCLE_BLOCKS; i++) {
  const at = i * msgLen;
  cycle.set(encodePieceHeader(i >> 6, (i & 63) * BLOCK, BLOCK), at);
  cycle.fill(i & 0xff, at + 13, at + msgLen);
}
const chunkSize = chunkKib * 1024;
const chunks: Uint8Array[] = [];
for (let at = 0; at < cycle.length; at += chunkSize) {
  // Separate buffers, as socket reads would be.
  chunks.push(cycle.slice(at, Math.min(at + chunkSize, cycle.length)));
}

function once(): { seconds: number; copies: number; bytes: number } {
  const d = new WireDecoder({
    pieceCount,
    pieceLength: PIECE_LENGTH,
    totalLength: pieceCount * PIECE_LENGTH,
    fast: true,
    extended: true,
    expectHandshake: false,
  });
  let blocks = 0;
  let copies = 0;
  let bytes = 0;
  let sink = 0;
  const t0 = performance.now();
  while (blocks < totalBlocks) {
    for (const c of chunks) {
      d.push(c);
      bytes += c.length;
      for (let m = d.next(); m !== undefined; m = d.next()) {
        if (m.type === "piece") {
          blocks++;
          sink += m.block[0]!;
          if (m.block.byteOffset === 0 && m.block.buffer.byteLength === BLOCK) copies++;
        }
      }
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  if (sink < 0) console.log(sink);
  return { seconds, copies, bytes };
}

once(); // warm-up
const results = Array.from({ length: runs }, once).sort((a, b) => a.seconds - b.seconds);
const med = results[Math.floor(results.length / 2)]!;
const mbs = med.bytes / med.seconds / 1e6;
const msgs = totalBlocks / med.seconds;
console.log(
  `wire decode: ${(med.bytes / MIB).toFixed(0)} MiB of ${BLOCK / 1024} KiB piece messages in ` +
    `${chunkKib} KiB chunks: ${mbs.toFixed(0)} MB/s, ${(msgs / 1000).toFixed(0)}k msg/s, ` +
    `${((100 * med.copies) / totalBlocks).toFixed(1)}% blocks copied (median of ${runs})`,
);

// Requests: 17-byte messages, the other hot path (a seed receives one per block it serves).
{
  const n = 1 << 20;
  const buf = new Uint8Array(n * 17);
  for (let i = 0, at = 0; i < n; i++)
    at = encodeRequest(buf, at, i % pieceCount, (i & 63) * BLOCK, BLOCK);
  const reqChunks: Uint8Array[] = [];
  for (let at = 0; at < buf.length; at += chunkSize) reqChunks.push(buf.slice(at, at + chunkSize));
  const times: number[] = [];
  for (let r = 0; r <= runs; r++) {
    const d = new WireDecoder({
      pieceCount,
      pieceLength: PIECE_LENGTH,
      totalLength: pieceCount * PIECE_LENGTH,
      fast: true,
      extended: true,
      expectHandshake: false,
    });
    let count = 0;
    const t0 = performance.now();
    for (const c of reqChunks) {
      d.push(c);
      for (let m = d.next(); m !== undefined; m = d.next()) count++;
    }
    if (count !== n) throw new Error(`decoded ${count} of ${n}`);
    if (r > 0) times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const t = times[Math.floor(times.length / 2)]!;
  console.log(`wire decode: ${n} request messages: ${(n / t / 1e6).toFixed(1)}M msg/s`);
}
