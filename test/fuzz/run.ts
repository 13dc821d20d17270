/**
 * `npm run fuzz`: the long fuzz mode. Each target runs in a worker thread for a time budget with a
 * watchdog: an input that stops making progress (a hang) or exhausts the worker's heap (out of
 * memory) is regenerated from its seed and reported like any other finding. Findings are saved
 * as regression fixtures under test/fixtures/fuzz/<target>/ (replayed by regression.test.ts).
 *
 *   node dist/test/fuzz/run.js [--target NAME]... [--generator NAME] [--seconds N] [--seed N]
 *                              [--hang-seconds N] [--heap-mb N] [--no-save]
 *
 * Environment: FUZZ_SECONDS, FUZZ_SEED (flags win). Exit code 1 when anything was found.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { type AnyTarget, fixtureName, regenerate } from "./engine.js";
import { TARGETS, targetNamed } from "./targets/index.js";
import type { WorkerJob, WorkerResult } from "./worker.js";

const FIXTURES = fileURLToPath(new URL("../../../test/fixtures/fuzz/", import.meta.url));
const WORKER = new URL("./worker.js", import.meta.url);

interface Found {
  generator: string;
  kind: string;
  message: string;
  input: Uint8Array;
}

async function fuzzOne(
  target: AnyTarget,
  o: { seed: number; timeMs: number; hangMs: number; heapMb: number; generator?: string },
): Promise<{ inputs: number; codes: [string, number][]; findings: Found[] }> {
  const progress = new SharedArrayBuffer(16);
  const p = new Int32Array(progress);
  const job: WorkerJob = {
    fuzz: true,
    target: target.name,
    seed: o.seed,
    timeMs: o.timeMs,
    progress,
    ...(o.generator !== undefined ? { generator: o.generator } : {}),
  };
  const worker = new Worker(WORKER, {
    workerData: job,
    resourceLimits: { maxOldGenerationSizeMb: o.heapMb },
  });
  const stuck = (kind: string, message: string): Found => {
    const gen = target.generators[p[0]!]!;
    const input = regenerate(target, o.seed, p[0]!, p[1]!, p[2]!);
    return {
      generator: gen.name,
      kind,
      message: `${message} (batch ${p[1]}, input ${p[2]})`,
      input: target.codec.save(input),
    };
  };
  return new Promise((resolve) => {
    let last = -1;
    let still = 0;
    const tick = 1000;
    const timer = setInterval(() => {
      const beat = Atomics.load(p, 3);
      still = beat === last ? still + tick : 0;
      last = beat;
      if (still >= o.hangMs) {
        clearInterval(timer);
        const found = stuck("hang", `no progress for ${still / 1000} s`);
        void worker.terminate();
        resolve({ inputs: beat, codes: [], findings: [found] });
      }
    }, tick);
    worker.once("message", (r: WorkerResult) => {
      clearInterval(timer);
      resolve({
        inputs: r.inputs,
        codes: r.codes,
        findings: r.findings.map((f) => ({ ...f, input: new Uint8Array(f.input) })),
      });
    });
    worker.once("error", (e: Error & { code?: string }) => {
      clearInterval(timer);
      const kind = e.code === "ERR_WORKER_OUT_OF_MEMORY" ? "oom" : "crash";
      resolve({ inputs: Atomics.load(p, 3), codes: [], findings: [stuck(kind, e.message)] });
    });
  });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      target: { type: "string", multiple: true },
      generator: { type: "string" },
      seconds: { type: "string" },
      seed: { type: "string" },
      "hang-seconds": { type: "string", default: "10" },
      "heap-mb": { type: "string", default: "1024" },
      "no-save": { type: "boolean", default: false },
      long: { type: "boolean", default: true },
    },
  });
  const seconds = Number(values.seconds ?? process.env.FUZZ_SECONDS ?? 60);
  const seed = Number(values.seed ?? process.env.FUZZ_SEED ?? (Math.random() * 2 ** 31) | 0);
  const targets = values.target?.map(targetNamed) ?? [...TARGETS];
  console.log(
    `fuzz: seed ${seed}, ${seconds} s per target, targets ${targets.map((t) => t.name).join(", ")}`,
  );
  let failed = 0;
  for (const target of targets) {
    const r = await fuzzOne(target, {
      seed,
      timeMs: seconds * 1000,
      hangMs: Number(values["hang-seconds"]) * 1000,
      heapMb: Number(values["heap-mb"]),
      ...(values.generator !== undefined ? { generator: values.generator } : {}),
    });
    const codes = r.codes.sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c}:${n}`);
    console.log(`${target.name}: ${r.inputs} inputs; errors seen ${codes.join(" ") || "-"}`);
    for (const f of r.findings) {
      failed++;
      console.log(
        `  FOUND ${f.kind} in ${target.name}/${f.generator} (seed ${seed}): ${f.message}`,
      );
      if (!values["no-save"]) {
        const dir = `${FIXTURES}${target.name}`;
        mkdirSync(dir, { recursive: true });
        const file = `${dir}/${fixtureName(target, f.kind, target.codec.load(f.input))}`;
        writeFileSync(file, f.input);
        console.log(`  saved ${file}`);
      }
    }
  }
  if (failed > 0) console.log(`fuzz: ${failed} finding(s); rerun with --seed ${seed}`);
  return failed > 0 ? 1 : 0;
}

// node --test runs every file under dist/test: only do something when started as the runner.
const isMain =
  process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain && process.env.NODE_TEST_CONTEXT === undefined) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      console.error(e);
      process.exit(70);
    },
  );
}
