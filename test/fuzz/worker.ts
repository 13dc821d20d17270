/**
 * Worker side of the long fuzz runner (run.ts): runs one target for a time budget, reporting the
 * input in progress through shared memory so the main thread can name an input that hangs or
 * runs out of memory. Does nothing when loaded any other way (node --test runs every file).
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { runTarget } from "./engine.js";
import { targetNamed } from "./targets/index.js";

export interface WorkerJob {
  fuzz: true;
  target: string;
  seed: number;
  timeMs: number;
  generator?: string;
  /** [generator, batch, index, heartbeat] */
  progress: SharedArrayBuffer;
}

export interface WorkerResult {
  inputs: number;
  codes: [string, number][];
  findings: {
    generator: string;
    kind: string;
    message: string;
    input: Uint8Array;
    batch: number;
    index: number;
  }[];
}

const job = workerData as WorkerJob | undefined;
if (!isMainThread && job?.fuzz === true) {
  const target = targetNamed(job.target);
  const p = new Int32Array(job.progress);
  const report = runTarget(target, {
    seed: job.seed,
    timeMs: job.timeMs,
    ...(job.generator !== undefined ? { generator: job.generator } : {}),
    onInput(g, batch, index) {
      p[0] = g;
      p[1] = batch;
      p[2] = index;
      Atomics.add(p, 3, 1);
    },
  });
  const result: WorkerResult = {
    inputs: report.inputs,
    codes: [...report.codes],
    findings: report.findings.map((f) => ({
      generator: f.generator,
      kind: f.kind,
      message: f.message,
      input: target.codec.save(f.input),
      batch: f.batch,
      index: f.index,
    })),
  };
  parentPort!.postMessage(result);
}
