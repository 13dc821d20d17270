/**
 * Hash throughput: HashPool.hashFiles on a 1 GiB file (warm page cache) against single-threaded
 * node:crypto on the same bytes in memory, for 1 MiB and 16 KiB pieces.
 *
 *   node dist/bench/hash.js [--size-mib N] [--runs N] [--sweep]
 *
 * --sweep also tries other thread counts, job sizes and read-buffer sizes.
 */
import crypto from "node:crypto";
import { mkdtemp, open, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { type FileSpan, HashPool, type HashPoolOptions } from "../src/storage/hash-pool.js";
import { HASH_BATCH_BYTES } from "../src/torrent/torrent.js";

const MIB = 1 << 20;

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? def : Number(process.argv[i + 1]);
}
const sizeMib = arg("--size-mib", 1024);
const runs = arg("--runs", 3);
const sweep = process.argv.includes("--sweep");
const size = sizeMib * MIB;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median MB/s (10^6 bytes per second) and CPU seconds per GiB of `fn` over `runs` runs. */
async function measure(bytes: number, fn: () => unknown): Promise<{ mbs: number; cpu: number }> {
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < runs; r++) {
    const u0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const s = (performance.now() - t0) / 1000;
    const u = process.cpuUsage(u0);
    rates.push(bytes / s / 1e6);
    cpus.push((u.user + u.system) / 1e6 / (bytes / (1024 * MIB)));
  }
  return { mbs: median(rates), cpu: median(cpus) };
}

function singleThread(data: Buffer, pieceLength: number, oneShot: boolean): Uint8Array {
  const n = Math.ceil(data.length / pieceLength);
  const out = new Uint8Array(n * 20);
  for (let i = 0; i < n; i++) {
    const piece = data.subarray(i * pieceLength, (i + 1) * pieceLength);
    const d = oneShot
      ? crypto.hash("sha1", piece, "buffer")
      : crypto.createHash("sha1").update(piece).digest();
    out.set(d as unknown as Uint8Array, i * 20);
  }
  return out;
}

/** Hashes `data` piece by piece through hashBuffer (each piece copied into its own transferred buffer, as a downloader would assemble it), `depth` at a time. */
async function hashBuffers(pool: HashPool, data: Buffer, pieceLength: number, depth: number) {
  const n = Math.ceil(data.length / pieceLength);
  let next = 0;
  const lane = async () => {
    let buf: Uint8Array = new Uint8Array(pieceLength);
    while (next < n) {
      const i = next++;
      const piece = data.subarray(i * pieceLength, (i + 1) * pieceLength);
      buf.set(piece);
      const r = await pool.hashBuffer(buf.subarray(0, piece.length), { transfer: true });
      buf = new Uint8Array(r.data.buffer);
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
}

/**
 * The downloader's batched path: pieces in batches of HASH_BATCH_BYTES, each piece in its own
 * buffer, `depth` batches in flight; `transfer` moves each piece's ArrayBuffer, otherwise the
 * pool packs the batch into one buffer (PACK_PIECE_MAX decides which a download uses).
 */
async function hashBatches(
  pool: HashPool,
  data: Buffer,
  pieceLength: number,
  depth: number,
  transfer: boolean,
) {
  const n = Math.floor(data.length / pieceLength);
  const perBatch = Math.max(1, Math.floor(HASH_BATCH_BYTES / pieceLength));
  let next = 0;
  const lane = async () => {
    let bufs: Uint8Array[] = Array.from({ length: perBatch }, () => new Uint8Array(pieceLength));
    while (next < n) {
      const first = next;
      const count = Math.min(perBatch, n - first);
      next += count;
      for (let k = 0; k < count; k++) {
        bufs[k]!.set(data.subarray((first + k) * pieceLength, (first + k + 1) * pieceLength));
      }
      const r = await pool.hashBuffers(bufs.slice(0, count), { transfer });
      bufs = [...r.data, ...bufs.slice(count)];
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
}

function row(label: string, r: { mbs: number; cpu: number }, note = "") {
  console.log(
    `${label.padEnd(52)} ${r.mbs.toFixed(0).padStart(6)} MB/s  ${r.cpu.toFixed(2).padStart(5)} CPU-s/GiB ${note}`,
  );
}

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "tessera-bench-hash-"));
  try {
    const file = path.join(dir, "data.bin");
    const block = crypto.randomBytes(64 * MIB);
    const fh = await open(file, "w");
    try {
      for (let off = 0; off < size; off += block.length) {
        await fh.write(block, 0, Math.min(block.length, size - off), off);
      }
    } finally {
      await fh.close();
    }
    const data = await readFile(file); // same bytes in memory; also warms the page cache
    const files: FileSpan[] = [{ path: file, length: size }];
    console.log(
      `${sizeMib} MiB, ${os.availableParallelism()} cores (${os.cpus()[0]?.model ?? "?"}), Node ${process.version}, median of ${runs}`,
    );

    for (const pieceLength of [MIB, 16 * 1024]) {
      const pl = pieceLength === MIB ? "1 MiB" : "16 KiB";
      console.log(`\n-- ${pl} pieces --`);
      const ref = singleThread(data, pieceLength, true);
      row(
        `node:crypto createHash, 1 thread, in memory`,
        await measure(size, () => singleThread(data, pieceLength, false)),
      );
      row(
        `node:crypto hash(), 1 thread, in memory`,
        await measure(size, () => singleThread(data, pieceLength, true)),
      );
      const configs: Array<[string, HashPoolOptions]> = [["HashPool default", {}]];
      if (sweep) {
        configs.push(
          ["HashPool threads=1", { threads: 1 }],
          ["HashPool threads=3", { threads: 3 }],
          ["HashPool bufferSize=256 KiB", { bufferSize: 256 * 1024 }],
          ["HashPool bufferSize=4 MiB", { bufferSize: 4 * MIB }],
          ["HashPool jobSize=4 MiB", { jobSize: 4 * MIB }],
          ["HashPool jobSize=64 MiB", { jobSize: 64 * MIB }],
        );
      }
      for (const [label, opts] of configs) {
        const pool = new HashPool(opts);
        try {
          await pool.hashFiles(files, pieceLength); // start the workers
          let got: Uint8Array = new Uint8Array(0);
          const r = await measure(size, async () => {
            got = await pool.hashFiles(files, pieceLength);
          });
          if (Buffer.compare(Buffer.from(got), Buffer.from(ref)) !== 0) {
            throw new Error(`${label}: digests differ from node:crypto`);
          }
          row(`hashFiles, ${label} (${pool.threads} threads), from file`, r);
        } finally {
          await pool.close();
        }
      }
    }

    console.log("\n-- hashBuffer (downloader path), 8 pieces in flight, transferred --");
    for (const pieceLength of [MIB, 16 * 1024]) {
      const pool = new HashPool();
      try {
        const r = await measure(size, () => hashBuffers(pool, data, pieceLength, 8));
        row(
          `hashBuffer ${pieceLength === MIB ? "1 MiB" : "16 KiB"} pieces (${pool.threads} threads)`,
          r,
        );
      } finally {
        await pool.close();
      }
    }

    console.log("\n-- hashBuffers (downloader path), 1 MiB batches, 4 in flight --");
    for (const pieceLength of [16 * 1024, 64 * 1024]) {
      for (const transfer of [true, false]) {
        const pool = new HashPool();
        try {
          const r = await measure(size, () => hashBatches(pool, data, pieceLength, 4, transfer));
          row(
            `hashBuffers ${pieceLength / 1024} KiB pieces, ${transfer ? "transferred" : "packed"}`,
            r,
          );
        } finally {
          await pool.close();
        }
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
