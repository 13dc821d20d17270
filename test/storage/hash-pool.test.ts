import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, open, rm, truncate, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import {
  type FileSpan,
  HashAbortedError,
  HashArgumentError,
  HashIoError,
  HashPool,
  HashPoolClosedError,
  HashWorkerError,
  PACK_BYTES,
} from "../../src/storage/hash-pool.js";

const KIB = 1024;
const MIB = 1024 * KIB;

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), "tessera-hash-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let fileCounter = 0;

/** A layout entry: bytes of a real file, or a padding file of `pad` zeros. */
type Spec = { size: number } | { pad: number };

/** Writes the files of `specs` (random content) and returns the layout and the joined data. */
async function makeLayout(specs: Spec[]): Promise<{ files: FileSpan[]; data: Buffer }> {
  const files: FileSpan[] = [];
  const parts: Buffer[] = [];
  for (const s of specs) {
    if ("pad" in s) {
      files.push({ path: null, length: s.pad });
      parts.push(Buffer.alloc(s.pad));
    } else {
      const p = path.join(dir, `f${fileCounter++}.bin`);
      const bytes = randomBytes(s.size);
      await writeFile(p, bytes);
      files.push({ path: p, length: s.size });
      parts.push(bytes);
    }
  }
  return { files, data: Buffer.concat(parts) };
}

function referenceHashes(data: Buffer, pieceLength: number, algorithm = "sha1"): Buffer {
  const out: Buffer[] = [];
  for (let off = 0; off < data.length; off += pieceLength) {
    out.push(
      createHash(algorithm)
        .update(data.subarray(off, off + pieceLength))
        .digest(),
    );
  }
  return Buffer.concat(out);
}

function pieceCount(data: Buffer, pieceLength: number) {
  return Math.ceil(data.length / pieceLength);
}

/** Indices of the pieces overlapping bytes [from, to). */
function piecesTouching(from: number, to: number, pieceLength: number): number[] {
  const out: number[] = [];
  for (let p = Math.floor(from / pieceLength); p <= Math.floor((to - 1) / pieceLength); p++) {
    out.push(p);
  }
  return out;
}

function failedPieces(result: Uint8Array): number[] {
  const out: number[] = [];
  result.forEach((v, i) => {
    if (v !== 1) out.push(i);
  });
  return out;
}

/** Byte offset in the torrent where file `index` starts. */
function fileStart(files: FileSpan[], index: number): number {
  let s = 0;
  for (let i = 0; i < index; i++) s += files[i]!.length;
  return s;
}

describe("HashPool.hashFiles", () => {
  const pool = new HashPool({ threads: 2 });
  after(() => pool.close());

  const cases: Array<{ name: string; specs: Spec[]; pieceLength: number; poolOpts?: object }> = [
    {
      name: "one file, 16 KiB pieces, short last piece",
      specs: [{ size: 3 * MIB + 12345 }],
      pieceLength: 16 * KIB,
    },
    {
      name: "pieces spanning files, zero-length files, padding",
      specs: [
        { size: 0 },
        { size: 10_000 },
        { size: 0 },
        { size: 7 },
        { pad: 16 * KIB - 10_007 },
        { size: 40_000 },
        { size: 0 },
        { pad: 3 },
        { size: 1 },
        { size: 100_000 },
        { size: 0 },
      ],
      pieceLength: 16 * KIB,
    },
    {
      name: "4 MiB pieces larger than the read buffer, many files",
      specs: [
        { size: 5 * MIB + 3 },
        { size: 1 },
        { size: 0 },
        { size: 2 * MIB - 1 },
        { pad: 100 },
        { size: 2 * MIB + 777 },
      ],
      pieceLength: 4 * MIB,
    },
    {
      name: "odd piece length, tiny jobs and odd buffer (many jobs and buffer refills)",
      specs: [{ size: 70_001 }, { size: 3 }, { pad: 5000 }, { size: 123_456 }, { size: 9 }],
      pieceLength: 10_000,
      poolOpts: { jobSize: 25_000, bufferSize: 25_003 },
    },
    {
      name: "piece larger than the whole layout",
      specs: [{ size: 1000 }, { size: 2000 }],
      pieceLength: MIB,
    },
    {
      name: "single byte",
      specs: [{ size: 1 }],
      pieceLength: 16 * KIB,
    },
    {
      name: "exact multiple of the piece length",
      specs: [{ size: 32 * KIB }, { size: 32 * KIB }],
      pieceLength: 16 * KIB,
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const { files, data } = await makeLayout(c.specs);
      const p = c.poolOpts ? new HashPool({ threads: 2, ...c.poolOpts }) : pool;
      try {
        const got = await p.hashFiles(files, c.pieceLength);
        assert.equal(got.length, 20 * pieceCount(data, c.pieceLength));
        assert.deepEqual(Buffer.from(got), referenceHashes(data, c.pieceLength));
      } finally {
        if (p !== pool) await p.close();
      }
    });
  }

  it("sha256 gives 32 bytes per piece", async () => {
    const { files, data } = await makeLayout([{ size: 100_000 }, { pad: 500 }, { size: 50_000 }]);
    const got = await pool.hashFiles(files, 16 * KIB, { algorithm: "sha256" });
    assert.deepEqual(Buffer.from(got), referenceHashes(data, 16 * KIB, "sha256"));
  });

  it("empty layouts give an empty result", async () => {
    assert.equal((await pool.hashFiles([], 16 * KIB)).length, 0);
    const { files } = await makeLayout([{ size: 0 }, { size: 0 }]);
    assert.equal((await pool.hashFiles(files, 16 * KIB)).length, 0);
    // Zero-length files are never opened, so a missing one does not matter.
    assert.equal(
      (await pool.hashFiles([{ path: path.join(dir, "nope"), length: 0 }], 1)).length,
      0,
    );
  });

  it("reports progress up to the total", async () => {
    const { files, data } = await makeLayout([{ size: 2 * MIB + 5 }]);
    const p = new HashPool({ threads: 2, jobSize: 64 * KIB });
    const seen: number[] = [];
    try {
      await p.hashFiles(files, 16 * KIB, { onProgress: (b) => seen.push(b) });
    } finally {
      await p.close();
    }
    assert.ok(seen.length >= 1);
    assert.equal(seen.at(-1), data.length);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!);
  });

  it("runs concurrent calls on one pool", async () => {
    const a = await makeLayout([{ size: 1 * MIB + 1 }, { size: 3000 }]);
    const b = await makeLayout([{ size: 500_000 }]);
    const buf = randomBytes(300_000);
    const [ha, hb, hc] = await Promise.all([
      pool.hashFiles(a.files, 16 * KIB),
      pool.hashFiles(b.files, 32 * KIB, { algorithm: "sha256" }),
      pool.hashBuffer(buf),
    ]);
    assert.deepEqual(Buffer.from(ha), referenceHashes(a.data, 16 * KIB));
    assert.deepEqual(Buffer.from(hb), referenceHashes(b.data, 32 * KIB, "sha256"));
    assert.deepEqual(Buffer.from(hc.digest), createHash("sha1").update(buf).digest());
  });

  it("rejects with HashIoError naming a missing file", async () => {
    const { files } = await makeLayout([{ size: 50_000 }]);
    const missing = path.join(dir, "missing.bin");
    files.push({ path: missing, length: 1000 });
    await assert.rejects(pool.hashFiles(files, 16 * KIB), (err: unknown) => {
      assert.ok(err instanceof HashIoError);
      assert.equal(err.code, "HASH_IO");
      assert.equal(err.path, missing);
      assert.equal(err.reason, "ENOENT");
      assert.match(err.message, /missing\.bin/);
      return true;
    });
  });

  it("rejects with HashIoError for a file shorter than declared", async () => {
    const { files } = await makeLayout([{ size: 50_000 }, { size: 20_000 }]);
    files[1]!.length = 20_001;
    await assert.rejects(pool.hashFiles(files, 16 * KIB), (err: unknown) => {
      assert.ok(err instanceof HashIoError);
      assert.equal(err.path, files[1]!.path);
      assert.equal(err.reason, "SHORT");
      return true;
    });
  });

  it("rejects bad arguments with HashArgumentError", async () => {
    const bad = async (f: () => Promise<unknown>) =>
      assert.rejects(
        f,
        (e: unknown) => e instanceof HashArgumentError && e.code === "HASH_INVALID_ARGUMENT",
      );
    await bad(() => pool.hashFiles([], 0));
    await bad(() => pool.hashFiles([], 1.5));
    await bad(() => pool.hashFiles([{ path: "x", length: -1 }], 16));
    await bad(() => pool.hashFiles([], 16, { algorithm: "md5" as "sha1" }));
    assert.throws(() => new HashPool({ threads: 0 }), HashArgumentError);
  });

  it("handles offsets beyond 4 GiB (sparse file)", async () => {
    const p = path.join(dir, "sparse.bin");
    const length = 5 * 1024 * MIB + 1000;
    const tail = randomBytes(3 * MIB);
    await writeFile(p, "");
    await truncate(p, length);
    const fh = await open(p, "r+");
    try {
      await fh.write(tail, 0, tail.length, length - tail.length);
    } finally {
      await fh.close();
    }
    const pieceLength = MIB;
    const n = Math.ceil(length / pieceLength);
    // Expected hashes of the last 5 pieces, from the known content; the rest stay zero.
    const expected = new Uint8Array(20 * n);
    const lastStart = (n - 5) * pieceLength;
    const region = Buffer.alloc(length - lastStart);
    tail.copy(region, region.length - tail.length);
    const ref = referenceHashes(region, pieceLength);
    expected.set(ref, (n - 5) * 20);
    const want = [n - 5, n - 4, n - 3, n - 2, n - 1];
    const res = await pool.verifyFiles([{ path: p, length }], pieceLength, expected, {
      pieces: want,
    });
    assert.deepEqual(
      want.map((i) => res[i]),
      [1, 1, 1, 1, 1],
    );
    assert.equal(failedPieces(res).length, n - 5);
  });
});

describe("HashPool.verifyFiles", () => {
  const pool = new HashPool({ threads: 2 });
  after(() => pool.close());
  const pl = 16 * KIB;
  const specs: Spec[] = [
    { size: 50_000 },
    { size: 0 },
    { size: 30_000 },
    { pad: 2000 },
    { size: 100_000 },
    { size: 5 },
  ];

  it("accepts intact data", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    const calls: Array<[number, boolean]> = [];
    const res = await pool.verifyFiles(files, pl, expected, {
      onPiece: (i, ok) => calls.push([i, ok]),
    });
    assert.equal(res.length, pieceCount(data, pl));
    assert.deepEqual(failedPieces(res), []);
    assert.equal(calls.length, res.length);
    assert.deepEqual(
      calls.map(([i]) => i).sort((x, y) => x - y),
      [...res.keys()],
    );
  });

  it("fails exactly the pieces touching a missing file", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    await rm(files[2]!.path!);
    const res = await pool.verifyFiles(files, pl, expected);
    const start = fileStart(files, 2);
    assert.deepEqual(failedPieces(res), piecesTouching(start, start + files[2]!.length, pl));
  });

  it("fails exactly the pieces beyond the end of a truncated file", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    const keep = 33_333;
    await truncate(files[4]!.path!, keep);
    const res = await pool.verifyFiles(files, pl, expected);
    const start = fileStart(files, 4);
    assert.deepEqual(failedPieces(res), piecesTouching(start + keep, start + files[4]!.length, pl));
  });

  it("fails exactly the piece holding a corrupted byte", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    const at = 70_000; // inside file 4
    const start = fileStart(files, 4);
    const fh = await open(files[4]!.path!, "r+");
    try {
      await fh.write(Buffer.from([data[start + at]! ^ 0xff]), 0, 1, at);
    } finally {
      await fh.close();
    }
    const res = await pool.verifyFiles(files, pl, expected);
    assert.deepEqual(failedPieces(res), [Math.floor((start + at) / pl)]);
  });

  it("treats an unreadable path (a directory) as missing", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    const res = await pool.verifyFiles(
      [...files, { path: dir, length: 10 }],
      pl,
      Buffer.concat([expected.subarray(0, expected.length - 20), Buffer.alloc(20)]),
    );
    assert.deepEqual(failedPieces(res), [res.length - 1]);
  });

  it("checks only the requested pieces", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    const seen: number[] = [];
    const want = [9, 0, 3, 3, 4, 1];
    const res = await pool.verifyFiles(files, pl, expected, {
      pieces: want,
      onPiece: (i, ok) => {
        assert.ok(ok);
        seen.push(i);
      },
    });
    assert.deepEqual(
      seen.sort((a, b) => a - b),
      [0, 1, 3, 4, 9],
    );
    assert.deepEqual(
      [...res.keys()].filter((i) => res[i] === 1),
      [0, 1, 3, 4, 9],
    );
  });

  it("rejects wrong-sized expected hashes and out-of-range pieces", async () => {
    const { files, data } = await makeLayout(specs);
    const expected = referenceHashes(data, pl);
    await assert.rejects(pool.verifyFiles(files, pl, expected.subarray(1)), HashArgumentError);
    await assert.rejects(
      pool.verifyFiles(files, pl, expected, { pieces: [pieceCount(data, pl)] }),
      HashArgumentError,
    );
  });

  it("fails every piece when all files are missing, without hashing", async () => {
    const files: FileSpan[] = [
      { path: path.join(dir, "gone1"), length: 1000 * MIB },
      { path: path.join(dir, "gone2"), length: 5 },
    ];
    const n = Math.ceil((1000 * MIB + 5) / MIB);
    const t0 = performance.now();
    const res = await pool.verifyFiles(files, MIB, new Uint8Array(20 * n));
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(failedPieces(res).length, n);
  });
});

describe("HashPool.hashBuffer", () => {
  const pool = new HashPool({ threads: 2 });
  after(() => pool.close());

  it("hashes without transfer and leaves the buffer to the caller", async () => {
    const data = new Uint8Array(randomBytes(100_000));
    const res = await pool.hashBuffer(data);
    assert.deepEqual(Buffer.from(res.digest), createHash("sha1").update(data).digest());
    assert.equal(res.data, data);
    assert.equal(data.byteLength, 100_000);
  });

  it("hashes a view inside a larger buffer without transfer", async () => {
    const big = randomBytes(1 * MIB);
    const view = big.subarray(1000, 1000 + 70_000);
    const res = await pool.hashBuffer(view, { algorithm: "sha256" });
    assert.equal(res.digest.length, 32);
    assert.deepEqual(Buffer.from(res.digest), createHash("sha256").update(view).digest());
  });

  it("transfers the buffer and gives it back", async () => {
    const bytes = randomBytes(256 * KIB);
    const data = new Uint8Array(bytes.length);
    data.set(bytes);
    const res = await pool.hashBuffer(data, { transfer: true });
    assert.equal(data.byteLength, 0, "caller's view is detached");
    assert.deepEqual(Buffer.from(res.digest), createHash("sha1").update(bytes).digest());
    assert.ok(res.data instanceof Uint8Array);
    assert.deepEqual(Buffer.from(res.data), bytes);
    // The returned buffer can go round again.
    const again = await pool.hashBuffer(res.data, { transfer: true });
    assert.deepEqual(again.digest, res.digest);
  });

  it("keeps offset, length and Buffer-ness of a transferred view", async () => {
    const ab = new ArrayBuffer(10_000);
    const whole = Buffer.from(ab);
    whole.set(randomBytes(10_000));
    const copy = Buffer.from(whole);
    const view = Buffer.from(ab, 100, 5000);
    const res = await pool.hashBuffer(view, { transfer: true });
    assert.ok(Buffer.isBuffer(res.data));
    assert.equal(res.data.byteOffset, 100);
    assert.equal(res.data.byteLength, 5000);
    assert.deepEqual(Buffer.from(res.data), copy.subarray(100, 5100));
    assert.deepEqual(
      Buffer.from(res.digest),
      createHash("sha1").update(copy.subarray(100, 5100)).digest(),
    );
  });

  it("hashes an empty buffer and a SharedArrayBuffer view", async () => {
    const empty = await pool.hashBuffer(new Uint8Array(0));
    assert.deepEqual(Buffer.from(empty.digest), createHash("sha1").digest());
    const shared = new Uint8Array(new SharedArrayBuffer(4096));
    shared.set(randomBytes(4096));
    const res = await pool.hashBuffer(shared, { transfer: true });
    assert.equal(res.data, shared);
    assert.deepEqual(Buffer.from(res.digest), createHash("sha1").update(shared).digest());
  });
});

describe("HashPool.hashBuffers", () => {
  const pool = new HashPool({ threads: 2 });
  after(() => pool.close());

  it("hashes each buffer of a batch on its own and gives every one back", async () => {
    const sources = [16 * KIB, 1, 0, 300_000, 16 * KIB].map((n) => randomBytes(n));
    const list = sources.map((b) => {
      const own = new Uint8Array(b.length);
      own.set(b);
      return own;
    });
    const res = await pool.hashBuffers(list, { transfer: true });
    assert.equal(res.digests.length, 20 * sources.length);
    for (let i = 0; i < sources.length; i++) {
      assert.equal(list[i]!.byteLength, 0, `buffer ${i} was transferred`);
      assert.deepEqual(
        Buffer.from(res.digests.subarray(20 * i, 20 * i + 20)),
        createHash("sha1").update(sources[i]!).digest(),
        `digest ${i}`,
      );
      assert.deepEqual(Buffer.from(res.data[i]!), sources[i], `buffer ${i} came back`);
    }
  });

  it("refuses to transfer two views of one ArrayBuffer, and copies them without transfer", async () => {
    const whole = randomBytes(64 * KIB);
    const a = new Uint8Array(whole.buffer, whole.byteOffset, 32 * KIB);
    const b = new Uint8Array(whole.buffer, whole.byteOffset + 32 * KIB, 32 * KIB);
    await assert.rejects(pool.hashBuffers([a, b], { transfer: true }), HashArgumentError);
    const res = await pool.hashBuffers([a, b], { algorithm: "sha256" });
    assert.deepEqual(
      Buffer.from(res.digests.subarray(32, 64)),
      createHash("sha256").update(b).digest(),
    );
    assert.equal(res.data[0], a);
    assert.equal(a.byteLength, 32 * KIB, "not transferred");
  });

  it("packs batches without transfer: right digests, callers' buffers untouched, concurrent and oversized batches", async () => {
    // Many 16 KiB batches in flight at once (pack buffers are reused as they come back), and
    // batches larger than one pack buffer (PACK_BYTES) with empty and odd-sized members.
    const batches = Array.from({ length: 12 }, (_, j) =>
      j % 4 === 3
        ? [randomBytes(PACK_BYTES), randomBytes(0), randomBytes(12_345)]
        : Array.from({ length: 64 }, () => randomBytes(16 * KIB)),
    );
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all(batches.map((b) => pool.hashBuffers(b)));
      for (let j = 0; j < batches.length; j++) {
        const batch = batches[j]!;
        const res = results[j]!;
        assert.equal(res.digests.length, 20 * batch.length);
        for (let i = 0; i < batch.length; i++) {
          assert.equal(res.data[i], batch[i], `batch ${j} buffer ${i} is the caller's`);
          assert.equal(batch[i]!.byteLength > 0 || i === 1, true, "not detached");
          assert.deepEqual(
            Buffer.from(res.digests.subarray(20 * i, 20 * i + 20)),
            createHash("sha1").update(batch[i]!).digest(),
            `batch ${j} digest ${i}`,
          );
        }
      }
    }
  });
});

describe("HashPool abort, crash and close", () => {
  it("rejects at once on an already aborted signal", async () => {
    const pool = new HashPool({ threads: 1 });
    try {
      await assert.rejects(
        pool.hashFiles([{ path: "x", length: 1 }], 16, { signal: AbortSignal.abort() }),
        (e: unknown) => e instanceof HashAbortedError && e.code === "HASH_ABORTED",
      );
    } finally {
      await pool.close();
    }
  });

  it("aborts a running call and stays usable", async () => {
    const { files, data } = await makeLayout([{ size: 16 * MIB }]);
    const pool = new HashPool({ threads: 2, jobSize: 256 * KIB });
    try {
      const ac = new AbortController();
      let progressed = 0;
      const run = pool.hashFiles(files, 16 * KIB, {
        signal: ac.signal,
        onProgress: (b) => {
          progressed = b;
        },
      });
      setImmediate(() => ac.abort(new Error("stop")));
      await assert.rejects(run, (e: unknown) => {
        assert.ok(e instanceof HashAbortedError);
        assert.equal(e.name, "AbortError");
        assert.equal((e.cause as Error).message, "stop");
        return true;
      });
      assert.ok(progressed < data.length);
      const again = await pool.hashFiles(files, 16 * KIB);
      assert.deepEqual(Buffer.from(again), referenceHashes(data, 16 * KIB));
    } finally {
      await pool.close();
    }
  });

  it("rejects with HashWorkerError when a worker crashes, then recovers", async () => {
    const crashing = new URL(
      `data:text/javascript,${encodeURIComponent(
        'import { parentPort } from "node:worker_threads"; parentPort.on("message", () => { throw new Error("boom"); });',
      )}`,
    );
    const pool = new HashPool({ threads: 2, workerUrl: crashing });
    try {
      const { files } = await makeLayout([{ size: 1 * MIB }]);
      await assert.rejects(pool.hashFiles(files, 16 * KIB), (e: unknown) => {
        assert.ok(e instanceof HashWorkerError);
        assert.equal(e.code, "HASH_WORKER_FAILED");
        assert.match(e.message, /boom/);
        return true;
      });
      await assert.rejects(pool.hashBuffer(new Uint8Array(10)), HashWorkerError);
    } finally {
      await pool.close();
    }
  });

  it("close() rejects pending and later calls", async () => {
    const { files } = await makeLayout([{ size: 8 * MIB }]);
    const pool = new HashPool({ threads: 1, jobSize: 256 * KIB });
    const run = pool.hashFiles(files, 16 * KIB);
    const closing = pool.close();
    await assert.rejects(run, HashPoolClosedError);
    await closing;
    await pool.close(); // idempotent
    await assert.rejects(pool.hashBuffer(new Uint8Array(1)), HashPoolClosedError);
  });

  const exec = promisify(execFile);
  const poolUrl = pathToFileURL(
    path.join(path.dirname(new URL(import.meta.url).pathname), "../../src/storage/hash-pool.js"),
  ).href;

  async function runChild(body: string) {
    const script = path.join(dir, `child-${fileCounter++}.mjs`);
    const { files, data } = await makeLayout([{ size: 3 * MIB + 7 }, { size: 1000 }]);
    await writeFile(
      script,
      `import { HashPool } from ${JSON.stringify(poolUrl)};
const files = ${JSON.stringify(files)};
const pool = new HashPool();
${body}`,
    );
    const { stdout } = await exec(process.execPath, [script], { timeout: 20_000 });
    return { stdout, data };
  }

  it("the process exits after close()", async () => {
    const { stdout, data } = await runChild(`
const h = await pool.hashFiles(files, 16384);
await pool.hashBuffer(new Uint8Array(10), { transfer: true });
await pool.close();
console.log(Buffer.from(h).toString("hex"));`);
    assert.equal(stdout.trim(), referenceHashes(data, 16 * KIB).toString("hex"));
  });

  it("an idle pool does not keep the process alive, a busy one does", async () => {
    // Top-level await with nothing else keeping the loop alive: exits with code 13 if the busy
    // worker were unref'd; hangs (and times out) if the idle one were not.
    const { stdout, data } = await runChild(`
const h = await pool.hashFiles(files, 16384);
console.log(Buffer.from(h).toString("hex"));`);
    assert.equal(stdout.trim(), referenceHashes(data, 16 * KIB).toString("hex"));
  });
});
