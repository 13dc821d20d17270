/** Small helpers shared by the benchmark harness. @module */
import { execFile } from "node:child_process";
import { closeSync, openSync, readFileSync, readSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "../../test/interop/clients/index.js";

export const run = promisify(execFile);

export const KIB = 1024;
export const MIB = 1024 * KIB;
export const GIB = 1024 * MIB;

/** The Tessera CLI as users run it. */
export const TESSERA_BIN = path.join(REPO_ROOT, "bin", "tessera.js");
/** Another Tessera build measured side by side with `tessera` (`--tessera-alt`). */
export interface TesseraBuild {
  /** "tessera-alt", "tessera-alt2", ... */
  name: string;
  /** Its bin/tessera.js. */
  bin: string;
  /** Extra environment for its processes (`--tessera-alt-env`). */
  env: Record<string, string>;
}
/** The `--tessera-alt` builds of this run (filled in by run.ts); (d), (f) and (g) measure them too. */
export const TESSERA_ALTS: TesseraBuild[] = [];
/** Files shipped in bench/clients (python and .mjs drivers). */
export const benchScript = (name: string) => path.join(REPO_ROOT, "bench", "clients", name);

/** "1GiB", "256MiB", "16KiB", "4G", "1048576" → bytes. */
export function parseSize(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(i?B)?$/i.exec(s.trim());
  if (!m) throw new Error(`not a size: ${s}`);
  const mult = { "": 1, K: KIB, M: MIB, G: GIB, T: GIB * 1024 }[m[2]!.toUpperCase()]!;
  return Math.round(Number(m[1]) * mult);
}

export function formatSize(n: number): string {
  for (const [unit, v] of [
    ["GiB", GIB],
    ["MiB", MIB],
    ["KiB", KIB],
  ] as const) {
    if (n >= v && n % (v / 4) === 0) return `${n / v}${unit}`;
  }
  return `${n}B`;
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export const mib = (bytes: number) => bytes / MIB;

/** `ms` of sleep. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Log a line on stderr with the elapsed time of the whole run. */
const T0 = performance.now();
export function log(msg: string): void {
  process.stderr.write(`[${((performance.now() - T0) / 1000).toFixed(1).padStart(6)}s] ${msg}\n`);
}

/**
 * Whether `file` holds the bytes of `reference`: same size, and the same bytes at the start, the
 * end and `samples` pseudo-random 64 KiB ranges (a full compare would cost more than a download).
 */
export function sameContent(file: string, reference: string, samples = 64): boolean {
  const a = statSync(file);
  const b = statSync(reference);
  if (a.size !== b.size) return false;
  const fa = openSync(file, "r");
  const fb = openSync(reference, "r");
  try {
    const n = 64 * KIB;
    const ba = Buffer.alloc(n);
    const bb = Buffer.alloc(n);
    let x = 0x9e3779b9;
    const offsets = [0, Math.max(0, a.size - n)];
    for (let i = 0; i < samples; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      offsets.push(Math.floor((x / 2 ** 32) * Math.max(1, a.size - n)));
    }
    for (const off of offsets) {
      const ra = readSync(fa, ba, 0, n, off);
      const rb = readSync(fb, bb, 0, n, off);
      if (ra !== rb || !ba.subarray(0, ra).equals(bb.subarray(0, rb))) return false;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

export interface Timed {
  /** Wall seconds from spawn to exit. */
  seconds: number;
  user: number;
  sys: number;
  cpu: number;
  /** Peak RSS (bytes). */
  maxRss: number;
  stdout: string;
}

/** Run a command to completion under /usr/bin/time: wall time, CPU (children too) and peak RSS. */
export async function timed(
  cmd: string,
  args: readonly string[],
  timeoutMs = 600_000,
  env: Record<string, string> = {},
): Promise<Timed> {
  const tf = path.join(
    tmpdir(),
    `tessera-bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`,
  );
  const t0 = performance.now();
  const { stdout } = await run("/usr/bin/time", ["-f", "%U %S %M", "-o", tf, cmd, ...args], {
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
    env: { ...process.env, ...env },
  });
  const seconds = (performance.now() - t0) / 1000;
  const [u, s, m] = readFileSync(tf, "utf8").trim().split("\n").pop()!.split(" ").map(Number);
  rmSync(tf, { force: true });
  return { seconds, user: u!, sys: s!, cpu: u! + s!, maxRss: m! * 1024, stdout };
}
