import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeUploadOnly, encodeUploadOnly } from "../../src/ext/index.js";
import { onlyExtErrors, throwsExt } from "./helpers.js";

describe("upload_only message (BEP 21, libtorrent)", () => {
  it("is one byte, non-zero meaning upload only", () => {
    assert.deepEqual(encodeUploadOnly(true), Uint8Array.of(1));
    assert.deepEqual(encodeUploadOnly(false), Uint8Array.of(0));
    assert.equal(decodeUploadOnly(Uint8Array.of(0)), false);
    assert.equal(decodeUploadOnly(Uint8Array.of(7)), true);
    assert.equal(decodeUploadOnly(Uint8Array.of(1, 0, 0)), true, "extra bytes are ignored");
    throwsExt(() => decodeUploadOnly(new Uint8Array(0)), "UPLOAD_ONLY_BAD_LENGTH");
  });

  it("round-trips and never throws anything but ExtError (property)", () => {
    fc.assert(
      fc.property(fc.boolean(), (v) => assert.equal(decodeUploadOnly(encodeUploadOnly(v)), v)),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4 }), (p) => onlyExtErrors(() => decodeUploadOnly(p))),
    );
  });
});
