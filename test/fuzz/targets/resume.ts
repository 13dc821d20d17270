/** Fuzz target: resume data (decodeResume) — only ResumeError, and a round-trip for valid input. */
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeResume, encodeResume, ResumeError } from "../../../src/storage/resume.js";
import { Bitfield } from "../../../src/util/bitfield.js";
import { bytesCodec, type FuzzTarget } from "../engine.js";
import { mutatedBytes } from "../mutate.js";

const TARGET = { infoHash: new Uint8Array(20).fill(9), pieceCount: 37, fileCount: 3 };

const valid: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.uint8Array({ minLength: 5, maxLength: 5 }),
    fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: -1, max: 2 ** 40 }),
        fc.integer({ min: -1, max: 2 ** 52 }),
      ),
      { minLength: 3, maxLength: 3 },
    ),
    fc.option(fc.tuple(fc.integer({ min: -1, max: 2 ** 40 }), fc.nat()), { nil: undefined }),
  )
  .map(([bits, files, parts]) => {
    bits[4] = bits[4]! & 0xe0; // 37 pieces: the last 3 bits are spare
    return encodeResume({
      infoHash: TARGET.infoHash,
      pieceCount: TARGET.pieceCount,
      have: new Bitfield(TARGET.pieceCount, bits),
      files: files.map(([kind, size, mtimeUs]) => ({ kind, size, mtimeUs })),
      ...(parts ? { parts: { size: parts[0], mtimeUs: parts[1] } } : {}),
      savedAt: 1,
    });
  });

function run(input: Uint8Array): void {
  const r = decodeResume(input, TARGET);
  assert.equal(r.have.length, TARGET.pieceCount);
  assert.equal(r.files.length, TARGET.fileCount);
  const again = decodeResume(encodeResume(r), TARGET);
  assert.deepEqual(again.have.bytes, r.have.bytes);
  assert.deepEqual(again.files, r.files);
}

export const resumeTarget: FuzzTarget<Uint8Array> = {
  name: "resume",
  errors: [ResumeError],
  generators: [
    { name: "valid", arb: valid, weight: 1 },
    { name: "mutated", arb: mutatedBytes(valid), weight: 3 },
    { name: "random", arb: fc.uint8Array({ maxLength: 400 }), weight: 1 },
  ],
  run,
  codec: bytesCodec,
  minCodes: 1,
};
