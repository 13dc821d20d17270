/**
 * The fuzz engine: runs a {@link FuzzTarget} over seeded, deterministic inputs and checks the
 * invariants every decoder promises:
 *
 * - only the target's typed error is ever thrown (anything else, including a failed assertion
 *   of the target's own round-trip checks, is a finding);
 * - every call finishes within a time bound that grows with the input's size, measured in CPU
 *   time (a slow input is re-timed twice and judged by its fastest run, so neither a GC pause
 *   nor a busy machine fails the test);
 * - the heap does not grow across a run (checked after a forced GC).
 *
 * Inputs come from `fc.check` in batches: batch `b` of generator `g` uses seed
 * `batchSeed(seed, g, b)`, so any input is identified by (seed, generator, batch, index) and can
 * be regenerated alone (the long runner does that after a hang or an out-of-memory kill).
 */
import { createHash } from "node:crypto";
import v8 from "node:v8";
import vm from "node:vm";
import fc from "fast-check";

/** An error class a target may throw (e.g. `BencodeError`). */
// biome-ignore lint/suspicious/noExplicitAny: any constructor signature
export type ErrorClass = abstract new (...args: any[]) => Error;

/** One way of producing inputs for a target. */
export interface FuzzGenerator<T> {
  name: string;
  arb: fc.Arbitrary<T>;
  /** Share of the target's budget (default 1). */
  weight?: number;
}

/** Turns an input into fixture bytes and back. */
export interface InputCodec<T> {
  /** File extension of fixtures, without the dot. */
  ext: string;
  save(input: T): Uint8Array;
  load(bytes: Uint8Array): T;
}

/** A decoder under fuzz. See test/fuzz/README.md for how to add one. */
export interface FuzzTarget<T> {
  name: string;
  /** The typed errors the function under test may throw; anything else is a bug. */
  errors: readonly ErrorClass[];
  generators: readonly FuzzGenerator<T>[];
  /**
   * Call the function under test. Let its typed errors escape; check any further invariant
   * (round-trip, output well-formed) with `assert`, whose AssertionError counts as a finding.
   */
  run(input: T): void;
  codec: InputCodec<T>;
  /** Runs per generator in `npm test` (default 300). */
  quickRuns?: number;
  /** Distinct error codes the quick run must reach (default 4; fewer if the decoder has fewer). */
  minCodes?: number;
  /** Time bound per input in ms for a small input (default 50), plus {@link msPerKiB}. */
  maxMs?: number;
  /** Extra time allowed per KiB of input (default 1). */
  msPerKiB?: number;
  /** Input size in bytes, for the time bound (default: the codec's output length). */
  size?(input: T): number;
}

/** Any target, whatever its input type. */
// biome-ignore lint/suspicious/noExplicitAny: registry of heterogeneous targets
export type AnyTarget = FuzzTarget<any>;

export type FindingKind = "error" | "slow";

/** One failing input. */
export interface Finding {
  target: string;
  generator: string;
  kind: FindingKind | "hang" | "oom";
  message: string;
  /** The (shrunk, for `error`) input. */
  input: unknown;
  seed: number;
  batch: number;
  index: number;
}

export interface RunOptions {
  seed: number;
  /** Inputs per generator; default the target's `quickRuns`. Ignored with `timeMs`. */
  runs?: number;
  /** Run for this long instead (split between generators by weight). */
  timeMs?: number;
  /** Inputs per fc.check batch (default 200). */
  batchSize?: number;
  /** Only this generator. */
  generator?: string;
  /** Called before each input (the long runner's hang watchdog reads it). */
  onInput?: (generator: number, batch: number, index: number) => void;
  /** Stop at the first finding (default true). */
  stopOnFinding?: boolean;
}

export interface RunReport {
  target: string;
  inputs: number;
  findings: Finding[];
  /** Typed errors seen, by code: shows which checks the generators reach. */
  codes: Map<string, number>;
  ms: number;
}

/** Seed of one batch: distinct per (seed, generator, batch), stable across runs. */
export function batchSeed(seed: number, generator: number, batch: number): number {
  return (Math.imul(seed ^ (generator * 0x85ebca6b), 0x9e3779b1) + batch * 0xc2b2ae35) | 0;
}

/** Outcome of one input: undefined when fine. */
export function checkOne(
  target: AnyTarget,
  input: unknown,
  codes?: Map<string, number>,
): { kind: FindingKind; message: string } | undefined {
  const limit = timeLimit(target, input);
  let ms = timeRun(target, input, codes);
  if (typeof ms !== "number") return ms;
  // A slow input is re-timed: GC pauses or a busy machine must not fail the test.
  for (let retry = 0; retry < 2 && ms > limit; retry++) {
    const again = timeRun(target, input);
    if (typeof again !== "number") return again;
    ms = Math.min(ms, again);
  }
  if (ms > limit) {
    return { kind: "slow", message: `took ${ms.toFixed(1)} ms, over the ${limit} ms bound` };
  }
  return undefined;
}

function timeLimit(target: AnyTarget, input: unknown): number {
  const size = target.size?.(input) ?? target.codec.save(input).length;
  return (target.maxMs ?? 50) + (target.msPerKiB ?? 1) * (size / 1024);
}

function timeRun(
  target: AnyTarget,
  input: unknown,
  codes?: Map<string, number>,
): number | { kind: FindingKind; message: string } {
  const t0 = cpuMs();
  try {
    target.run(input);
  } catch (e) {
    if (!target.errors.some((cls) => e instanceof cls)) {
      const what = e instanceof Error ? (e.stack ?? e.message) : String(e);
      return { kind: "error", message: `threw an untyped error: ${what}` };
    }
    if (codes !== undefined) {
      const code = String((e as { code?: unknown }).code ?? (e as Error).name);
      codes.set(code, (codes.get(code) ?? 0) + 1);
    }
  }
  return cpuMs() - t0;
}

/**
 * CPU time of this process in ms: unlike wall time it does not grow when other processes load
 * the machine (tests share it), so the time bound stays meaningful under `--test-concurrency`.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Run `target`; returns the findings (shrunk inputs for errors). */
export function runTarget(target: AnyTarget, opts: RunOptions): RunReport {
  const start = performance.now();
  const batchSize = opts.batchSize ?? 200;
  const stop = opts.stopOnFinding ?? true;
  const findings: Finding[] = [];
  const codes = new Map<string, number>();
  let inputs = 0;
  const gens = target.generators
    .map((g, i) => ({ g, i }))
    .filter(({ g }) => opts.generator === undefined || g.name === opts.generator);
  if (gens.length === 0) throw new Error(`${target.name} has no generator ${opts.generator}`);
  const totalWeight = gens.reduce((s, { g }) => s + (g.weight ?? 1), 0);

  for (const { g, i: gi } of gens) {
    const share = (g.weight ?? 1) / totalWeight;
    const runs =
      opts.timeMs !== undefined ? Number.POSITIVE_INFINITY : (opts.runs ?? target.quickRuns ?? 300);
    const deadline = opts.timeMs !== undefined ? performance.now() + opts.timeMs * share : Infinity;
    let done = 0;
    for (let batch = 0; done < runs && performance.now() < deadline; batch++) {
      const n = Math.min(batchSize, runs - done);
      const seed = batchSeed(opts.seed, gi, batch);
      let index = -1;
      let first: { kind: FindingKind; message: string } | undefined;
      let firstInput: unknown;
      let firstIndex = -1;
      const result = fc.check(
        fc.property(g.arb, (input) => {
          // fc.check calls the predicate again while shrinking: only count the first pass.
          if (first === undefined) {
            index++;
            opts.onInput?.(gi, batch, index);
          }
          const bad = checkOne(target, input, first === undefined ? codes : undefined);
          if (bad === undefined) return true;
          if (first === undefined) {
            first = bad;
            firstInput = input;
            firstIndex = index;
          }
          // Shrink towards inputs that fail the same way; a slow input is kept as found.
          return !(bad.kind === "error" && first.kind === "error");
        }),
        { seed, numRuns: n },
      );
      inputs += first === undefined ? n : firstIndex + 1;
      done += n;
      if (first !== undefined) {
        const shrunk =
          first.kind === "error" && result.failed ? result.counterexample![0] : firstInput;
        const again = checkOne(target, shrunk) ?? first;
        findings.push({
          target: target.name,
          generator: g.name,
          kind: again.kind,
          message: again.message,
          input: shrunk,
          seed: opts.seed,
          batch,
          index: firstIndex,
        });
        if (stop)
          return { target: target.name, inputs, findings, codes, ms: performance.now() - start };
      }
    }
  }
  return { target: target.name, inputs, findings, codes, ms: performance.now() - start };
}

/** The input that (seed, generator, batch, index) names, regenerated. */
export function regenerate(
  target: AnyTarget,
  seed: number,
  generator: number,
  batch: number,
  index: number,
): unknown {
  const arb = target.generators[generator]!.arb;
  return fc.sample(arb, { seed: batchSeed(seed, generator, batch), numRuns: index + 1 })[index];
}

/** Fixture file name of an input: kind and a content hash, so saving twice is harmless. */
export function fixtureName(target: AnyTarget, kind: string, input: unknown): string {
  const bytes = target.codec.save(input);
  const hash = createHash("sha1").update(bytes).digest("hex").slice(0, 12);
  return `${kind}-${hash}.${target.codec.ext}`;
}

// ---- codecs ------------------------------------------------------------------------------------

/** Inputs that are byte arrays: fixtures are the raw bytes. */
export const bytesCodec: InputCodec<Uint8Array> = {
  ext: "bin",
  save: (b) => b,
  load: (b) => Uint8Array.from(b),
};

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/**
 * Inputs that are JSON-like values, possibly holding byte arrays (written `{"$bytes": base64}`).
 * Lone surrogates survive: JSON.stringify escapes them.
 */
export function jsonCodec<T>(): InputCodec<T> {
  return {
    ext: "json",
    save: (v) =>
      utf8.encode(
        `${JSON.stringify(
          v,
          (_k, x) => (x instanceof Uint8Array ? { $bytes: Buffer.from(x).toString("base64") } : x),
          1,
        )}\n`,
      ),
    load: (b) =>
      JSON.parse(utf8d.decode(b), (_k, x) =>
        x !== null && typeof x === "object" && typeof x.$bytes === "string"
          ? new Uint8Array(Buffer.from(x.$bytes, "base64"))
          : x,
      ) as T,
  };
}

// ---- memory ------------------------------------------------------------------------------------

let gcFn: (() => void) | undefined;
/** A full GC, available without `--expose-gc` on the command line. */
export function collectGarbage(): void {
  if (gcFn === undefined) {
    v8.setFlagsFromString("--expose-gc");
    gcFn = vm.runInNewContext("gc") as () => void;
  }
  gcFn();
}

/** Heap in use after a full GC, in bytes. */
export function settledHeap(): number {
  collectGarbage();
  return process.memoryUsage().heapUsed;
}
