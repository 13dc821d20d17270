/**
 * Scenarios without a network:
 * (f) recheck of a payload already on disk: `tessera verify` against libtorrent's check;
 * (g) making a .torrent: `tessera create` against mktorrent and libtorrent's create_torrent;
 * (h) decoding a 400 000-piece .torrent; and Tessera's CLI start-up (`tessera --help`).
 * Every command runs to completion under /usr/bin/time (wall = spawn → exit, in the harness).
 * @module
 */
import { randomBytes } from "node:crypto";
import { mkdir, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildTorrent } from "../../src/metainfo/index.js";
import { clientScript } from "../../test/interop/clients/index.js";
import { ensurePayload } from "../lib/payload.js";
import type { ScenarioResult } from "../lib/types.js";
import {
  benchScript,
  formatSize,
  log,
  MIB,
  median,
  mib,
  run,
  TESSERA_ALTS,
  TESSERA_BIN,
  type Timed,
  timed,
} from "../lib/util.js";

const PY = "/usr/bin/python3";
const f2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : "–");
const f0 = (x: number) => (Number.isFinite(x) ? x.toFixed(0) : "–");

/** SHA-1 MB/s over all cores (openssl speed -evp sha1 -multi N, 1 MiB blocks), measured now. */
export async function sha1AllCores(): Promise<number> {
  const n = os.availableParallelism();
  const { stdout } = await run("openssl", [
    "speed",
    "-evp",
    "sha1",
    "-bytes",
    String(MIB),
    "-seconds",
    "2",
    "-multi",
    String(n),
  ]);
  const m = /^sha1\s+([\d.]+)k/m.exec(stdout);
  return m ? (Number(m[1]) * 1000) / 1e6 : Number.NaN;
}

/** Read `file` once so every tool starts with it in the page cache. */
const warm = (file: string) => run("sh", ["-c", 'cat "$1" > /dev/null', "sh", file]);

interface Variant {
  name: string;
  command: string;
  go: () => Promise<Timed>;
}

async function timeVariants(id: string, variants: Variant[], runs: number) {
  const all = new Map<string, Timed[]>(variants.map((v) => [v.name, []]));
  for (let r = 0; r < runs; r++) {
    for (let i = 0; i < variants.length; i++) {
      const v = variants[(i + r) % variants.length]!;
      const t = await v.go();
      all.get(v.name)!.push(t);
      log(
        `(${id}) ${v.name}: ${t.seconds.toFixed(2)} s, ${t.cpu.toFixed(2)} CPU-s, RSS ${mib(t.maxRss).toFixed(0)} MiB`,
      );
    }
  }
  return variants.map((v) => {
    const ts = all.get(v.name)!;
    return {
      name: v.name,
      command: v.command,
      runs: ts.map(({ stdout: _, ...t }) => t),
      seconds: median(ts.map((t) => t.seconds)),
      cpu: median(ts.map((t) => t.cpu)),
      maxRss: median(ts.map((t) => t.maxRss)),
    };
  });
}

type Summary = Awaited<ReturnType<typeof timeVariants>>[number];

function hashTable(length: number, rows: Summary[], sha1: number): ScenarioResult["table"] {
  return {
    columns: [
      "tool",
      "median s",
      "MB/s",
      "% of SHA-1 (all cores)",
      "CPU s",
      "peak RSS MiB",
      "runs (s)",
    ],
    rows: rows.map((r) => [
      r.name,
      f2(r.seconds),
      f0(length / r.seconds / 1e6),
      f0((100 * (length / r.seconds / 1e6)) / sha1),
      f2(r.cpu),
      f0(mib(r.maxRss)),
      r.runs.map((x) => x.seconds.toFixed(2)).join(", "),
    ]),
  };
}

function hashTargets(id: string, length: number, rows: Summary[], sha1: number, what: string) {
  const t = rows.find((r) => r.name === "tessera")!;
  const others = rows.filter((r) => r.name.startsWith("libtorrent"));
  const bestLt = others.reduce((a, b) => (b.seconds < a.seconds ? b : a));
  const tMBs = length / t.seconds / 1e6;
  return [
    {
      what: `(${id}) Tessera ${what} ≥ 85% of SHA-1 over all cores`,
      value: `${f0(tMBs)} MB/s = ${f0((100 * tMBs) / sha1)}% of ${f0(sha1)} MB/s`,
      met: tMBs >= 0.85 * sha1,
    },
    {
      what: `(${id}) Tessera ${what} at least as fast as libtorrent (best setting)`,
      value: `${f2(t.seconds)} s vs ${f2(bestLt.seconds)} s (${bestLt.name}) = ${f2(bestLt.seconds / t.seconds)}×`,
      met: t.seconds <= bestLt.seconds,
    },
  ];
}

/** (f) recheck of data already on disk (warm page cache). */
export async function recheckScenario(o: {
  length: number;
  runs: number;
  freshPayload: boolean;
}): Promise<ScenarioResult> {
  const p = await ensurePayload(o.length, MIB, o.freshPayload);
  await warm(p.file);
  const sha1 = await sha1AllCores();
  log(`(f) SHA-1 over all cores now: ${sha1.toFixed(0)} MB/s`);
  const ltCheck = (threads?: number) => async () => {
    const t = await timed(PY, [
      benchScript("lt_bench.py"),
      "check",
      p.torrent,
      p.dir,
      ...(threads ? [String(threads)] : []),
    ]);
    if ((JSON.parse(t.stdout) as { progress: number }).progress !== 1)
      throw new Error("libtorrent: check incomplete");
    return t;
  };
  const n = os.availableParallelism();
  const rows = await timeVariants(
    "f",
    [
      ...[{ name: "tessera", bin: TESSERA_BIN, env: {} }, ...TESSERA_ALTS].map((b) => ({
        name: b.name,
        command: `${b.name === "tessera" ? "tessera" : b.bin} verify <torrent> DIR --json`,
        go: async () => {
          const t = await timed(
            process.execPath,
            [b.bin, "verify", p.torrent, p.dir, "--json"],
            undefined,
            b.env,
          );
          if (!(JSON.parse(t.stdout) as { complete: boolean }).complete)
            throw new Error(`${b.name} verify: incomplete`);
          return t;
        },
      })),
      {
        name: "libtorrent (defaults: hashing_threads=1)",
        command: "bench/clients/lt_bench.py check",
        go: ltCheck(),
      },
      {
        name: `libtorrent (hashing_threads=${n})`,
        command: `bench/clients/lt_bench.py check ... ${n}`,
        go: ltCheck(n),
      },
    ],
    o.runs,
  );
  return {
    id: "f",
    title: `recheck of ${formatSize(o.length)} already on disk (1 MiB pieces, warm page cache)`,
    config: {
      payload: `${formatSize(o.length)} single file, 1 MiB pieces`,
      runs: o.runs,
      ...Object.fromEntries(rows.map((r) => [r.name, r.command])),
      "libtorrent check":
        "session with the torrent added in upload_mode; time includes python start-up and session set-up (wall, spawn → exit)",
    },
    table: hashTable(o.length, rows, sha1),
    targets: hashTargets("f", o.length, rows, sha1, "recheck"),
    notes: [
      `SHA-1 over all cores measured right before: ${f0(sha1)} MB/s (openssl speed -evp sha1 -multi ${n}, 1 MiB blocks).`,
    ],
    chart: {
      unit: "MB/s",
      bars: rows.map((r) => ({ label: r.name, value: o.length / r.seconds / 1e6 })),
    },
    raw: { sha1AllCoresMBs: sha1, rows },
  };
}

/** (g) making a .torrent of the payload. */
export async function createScenario(o: {
  length: number;
  runs: number;
  workDir: string;
  freshPayload: boolean;
}): Promise<ScenarioResult> {
  const p = await ensurePayload(o.length, MIB, o.freshPayload);
  const pieceLength = 2 * MIB; // what `tessera create` picks by default for 4 GiB (libtorrent's rule)
  const dir = path.join(o.workDir, "scenario-g");
  await mkdir(dir, { recursive: true });
  await warm(p.file);
  const sha1 = await sha1AllCores();
  log(`(g) SHA-1 over all cores now: ${sha1.toFixed(0)} MB/s`);
  const out = (name: string) => path.join(dir, `${name}.torrent`);
  const n = os.availableParallelism();
  const rows = await timeVariants(
    "g",
    [
      ...[{ name: "tessera", bin: TESSERA_BIN, env: {} }, ...TESSERA_ALTS].map((b) => ({
        name: b.name,
        command: `${b.name === "tessera" ? "tessera" : b.bin} create FILE -o OUT -l ${formatSize(pieceLength).replace("iB", "")} --no-date`,
        go: () =>
          timed(
            process.execPath,
            [b.bin, "create", p.file, "-o", out(b.name), "-l", String(pieceLength), "--no-date"],
            undefined,
            b.env,
          ),
      })),
      {
        name: "mktorrent",
        command: `mktorrent -l ${Math.log2(pieceLength)} -t ${n} -d -a http://127.0.0.1:1/announce -o OUT FILE`,
        go: async () => {
          await rm(out("mktorrent"), { force: true });
          return timed("mktorrent", [
            "-l",
            String(Math.log2(pieceLength)),
            "-t",
            String(n),
            "-d",
            "-a",
            "http://127.0.0.1:1/announce",
            "-o",
            out("mktorrent"),
            p.file,
          ]);
        },
      },
      {
        name: "libtorrent create_torrent",
        command: "test/interop/clients/lt_create.py (create_torrent v1_only + set_piece_hashes)",
        go: () =>
          timed(PY, [
            clientScript("lt_create.py"),
            JSON.stringify({
              content: p.file,
              out: out("libtorrent"),
              pieceLength,
              kind: "v1",
              trackers: [],
            }),
          ]),
      },
    ],
    o.runs,
  );
  // All three must agree on the pieces.
  const pieces = async (f: string) => {
    const { stdout } = await run(
      PY,
      [
        "-c",
        "import sys,libtorrent as lt;ti=lt.torrent_info(sys.argv[1]);print(''.join(str(ti.hash_for_piece(i)) for i in range(ti.num_pieces())))",
        f,
      ],
      { maxBuffer: 64 << 20 },
    );
    return stdout.trim();
  };
  const ref = await pieces(out("libtorrent"));
  const notes = [
    `SHA-1 over all cores measured right before: ${f0(sha1)} MB/s. Piece length ${formatSize(pieceLength)} for all three.`,
  ];
  for (const name of ["tessera", ...TESSERA_ALTS.map((b) => b.name), "mktorrent"]) {
    if ((await pieces(out(name))) !== ref)
      notes.push(`**${name}'s piece hashes differ from libtorrent's**`);
  }
  return {
    id: "g",
    title: `making a .torrent of ${formatSize(o.length)} (${formatSize(pieceLength)} pieces, warm page cache)`,
    config: {
      payload: `${formatSize(o.length)} single file`,
      runs: o.runs,
      ...Object.fromEntries(rows.map((r) => [r.name, r.command])),
    },
    table: hashTable(o.length, rows, sha1),
    targets: hashTargets("g", o.length, rows, sha1, "create"),
    notes,
    chart: {
      unit: "MB/s",
      bars: rows.map((r) => ({ label: r.name, value: o.length / r.seconds / 1e6 })),
    },
    raw: { sha1AllCoresMBs: sha1, rows },
  };
}

/** (h) decoding a 400 000-piece .torrent, and (startup) `tessera --help`. */
export async function decodeScenario(o: {
  runs: number;
  workDir: string;
}): Promise<ScenarioResult> {
  const pieces = 400_000;
  const pieceLength = 16 * 1024;
  const file = path.join(o.workDir, "400k-pieces.torrent");
  await writeFile(
    file,
    buildTorrent({
      name: "400k-pieces.bin",
      length: pieces * pieceLength,
      pieceLength,
      pieceHashes: randomBytes(pieces * 20),
      trackers: [["http://127.0.0.1:1/announce"]],
    }),
  );
  const decodeJs = fileURLToPath(new URL("../clients/decode.js", import.meta.url));
  const rounds = Math.max(5, o.runs);
  const tFirst: number[] = [];
  const tWarm: number[] = [];
  const ltFirst: number[] = [];
  const ltWarm: number[] = [];
  const info: Timed[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = JSON.parse((await run(process.execPath, [decodeJs, file, "10"])).stdout) as {
      first: number;
      median: number;
    };
    tFirst.push(a.first);
    tWarm.push(a.median);
    const b = JSON.parse(
      (await run(PY, [benchScript("lt_bench.py"), "decode", file, "10"])).stdout,
    ) as { first: number; median: number };
    ltFirst.push(b.first);
    ltWarm.push(b.median);
    info.push(await timed(process.execPath, [TESSERA_BIN, "info", file, "--json"]));
  }
  const ms = (x: number) => `${(x * 1000).toFixed(1)}`;
  const t1 = median(tFirst);
  log(
    `(h) tessera parseTorrent first ${ms(t1)} ms, warm ${ms(median(tWarm))} ms; libtorrent ${ms(median(ltFirst))} ms`,
  );
  return {
    id: "h",
    title: `decoding a ${pieces.toLocaleString("en")}-piece .torrent (${((pieces * 20) / 1e6).toFixed(0)} MB of piece hashes)`,
    config: {
      torrent: `single file, ${formatSize(pieceLength)} pieces × ${pieces}, random hashes, built by buildTorrent`,
      rounds,
      tessera:
        "parseTorrent(bytes) in a fresh node process (first call = cold JIT; warm = median of the next 9)",
      libtorrent: "lt.torrent_info(bytes) in python (same split)",
      "tessera info": "tessera info FILE --json: the whole CLI, spawn → exit",
    },
    table: {
      columns: ["decoder", "first call ms (median of rounds)", "warm ms", "CLI spawn → exit ms"],
      rows: [
        ["tessera parseTorrent", ms(t1), ms(median(tWarm)), ms(median(info.map((x) => x.seconds)))],
        ["libtorrent torrent_info", ms(median(ltFirst)), ms(median(ltWarm)), "–"],
      ],
    },
    targets: [
      {
        what: `(h) decoding a ${pieces.toLocaleString("en")}-piece .torrent < 100 ms`,
        value: `${ms(t1)} ms (first call in a fresh process)`,
        met: t1 < 0.1,
      },
    ],
    notes: [],
    raw: { tFirst, tWarm, ltFirst, ltWarm, info: info.map(({ stdout: _, ...x }) => x) },
  };
}

export async function startupScenario(o: { runs: number }): Promise<ScenarioResult> {
  const rounds = Math.max(10, o.runs);
  const variants: [string, string[]][] = [
    ["tessera --help", ["--help"]],
    ["tessera download --help", ["download", "--help"]],
    ["node -e 0 (Node itself)", []],
  ];
  const rows: (string | number)[][] = [];
  let help = Number.NaN;
  for (const [name, args] of variants) {
    const ts: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const cmd = args.length ? [TESSERA_BIN, ...args] : ["-e", "0"];
      ts.push((await timed(process.execPath, cmd)).seconds);
    }
    const m = median(ts);
    if (name === "tessera --help") help = m;
    rows.push([
      name,
      (m * 1000).toFixed(0),
      (Math.min(...ts) * 1000).toFixed(0),
      (Math.max(...ts) * 1000).toFixed(0),
    ]);
    log(`(startup) ${name}: median ${(m * 1000).toFixed(0)} ms`);
  }
  return {
    id: "startup",
    title: "Tessera CLI start-up",
    config: { rounds, measure: "spawn → exit, wall (under /usr/bin/time)" },
    table: { columns: ["command", "median ms", "min ms", "max ms"], rows },
    targets: [
      { what: "tessera --help < 300 ms", value: `${(help * 1000).toFixed(0)} ms`, met: help < 0.3 },
    ],
    notes: [],
    raw: rows,
  };
}
