import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeDontHave, encodeDontHave } from "../../src/ext/index.js";
import { onlyExtErrors, throwsExt } from "./helpers.js";

describe("lt_donthave (BEP 54)", () => {
  it("is the 4-byte big-endian index", () => {
    assert.deepEqual(encodeDontHave(0x01020304), Uint8Array.of(1, 2, 3, 4));
    assert.equal(decodeDontHave(Uint8Array.of(0, 0, 1, 0)), 256);
    assert.equal(decodeDontHave(Uint8Array.of(0xff, 0xff, 0xff, 0xff)), 0xffffffff);
  });

  it("checks length and range", () => {
    throwsExt(() => decodeDontHave(new Uint8Array(3)), "DONTHAVE_BAD_LENGTH");
    throwsExt(() => decodeDontHave(new Uint8Array(5)), "DONTHAVE_BAD_LENGTH");
    throwsExt(() => decodeDontHave(new Uint8Array(0)), "DONTHAVE_BAD_LENGTH");
    throwsExt(() => decodeDontHave(encodeDontHave(10), 10), "DONTHAVE_PIECE_OUT_OF_RANGE");
    assert.equal(decodeDontHave(encodeDontHave(9), 10), 9);
    assert.throws(() => encodeDontHave(-1), RangeError);
    assert.throws(() => encodeDontHave(2 ** 32), RangeError);
  });

  it("reads a view at any offset", () => {
    const buf = Uint8Array.of(9, 0, 0, 0, 7);
    assert.equal(decodeDontHave(buf.subarray(1)), 7);
  });

  it("round-trips and never throws anything but ExtError (property)", () => {
    fc.assert(
      fc.property(fc.nat({ max: 0xffffffff }), (i) => {
        assert.equal(decodeDontHave(encodeDontHave(i)), i);
      }),
    );
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 8 }),
        fc.option(fc.nat(), { nil: undefined }),
        (p, n) => {
          onlyExtErrors(() => decodeDontHave(p, n));
        },
      ),
    );
  });
});
