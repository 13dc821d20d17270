/**
 * The fixed, seeded fuzz budget of `npm test`: every registered target, every generator, a few
 * hundred inputs each (seconds in all). `npm run fuzz` runs the same targets for longer.
 * On a failure the message gives the seed and the input; save it as a regression fixture with
 * `node dist/test/fuzz/run.js --target NAME --seed SEED --save` (see README.md).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Finding, runTarget, settledHeap } from "./engine.js";
import { TARGETS } from "./targets/index.js";

/** Change it to explore; a failure prints it. */
const SEED = 0x7e55e7a;
/** Heap growth a run may leave behind (after a full GC) before it counts as a leak. */
const MAX_HEAP_GROWTH = 32 * 1024 * 1024;

function describeFinding(f: Finding, save: (x: unknown) => Uint8Array): string {
  const input = Buffer.from(save(f.input));
  const shown =
    input.length > 2000
      ? `${input.subarray(0, 2000).toString("latin1")}...`
      : input.toString("latin1");
  return (
    `${f.target}/${f.generator} (seed ${f.seed}, batch ${f.batch}, input ${f.index}): ${f.kind}: ` +
    `${f.message}\ninput (${input.length} bytes): ${JSON.stringify(shown)}`
  );
}

describe("fuzz (fixed seed, small budget)", () => {
  for (const target of TARGETS) {
    it(`${target.name}: only ${target.errors.map((e) => e.name).join("/")} is thrown, fast, no leak`, () => {
      const before = settledHeap();
      const report = runTarget(target, { seed: SEED });
      const grown = settledHeap() - before;
      assert.deepEqual(
        report.findings.map((f) => describeFinding(f, target.codec.save)),
        [],
      );
      assert.ok(grown < MAX_HEAP_GROWTH, `heap grew by ${grown} bytes over the run`);
      // The generators must reach past the first checks, or the run proves little.
      assert.ok(
        report.codes.size >= (target.minCodes ?? 4),
        `only ${[...report.codes.keys()].join(", ")} reached`,
      );
    });
  }
});
