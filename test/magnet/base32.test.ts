import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decodeBase32, encodeBase32 } from "../../src/magnet/index.js";
import { fromHex } from "../../src/types.js";
import { B32, HEX } from "./helpers.js";

describe("base32", () => {
  it("matches RFC 4648 test vectors (unpadded)", () => {
    const vectors: Array<[string, string]> = [
      ["", ""],
      ["f", "MY"],
      ["fo", "MZXQ"],
      ["foo", "MZXW6"],
      ["foob", "MZXW6YQ"],
      ["fooba", "MZXW6YTB"],
      ["foobar", "MZXW6YTBOI"],
    ];
    for (const [plain, enc] of vectors) {
      const bytes = new TextEncoder().encode(plain);
      assert.equal(encodeBase32(bytes), enc);
      assert.deepEqual(decodeBase32(enc), bytes);
      assert.deepEqual(decodeBase32(enc.toLowerCase()), bytes);
    }
  });

  it("decodes a 20-byte info-hash", () => {
    assert.deepEqual(decodeBase32(B32), fromHex(HEX));
  });

  it("rejects bad characters, bad lengths and non-zero spare bits", () => {
    assert.equal(decodeBase32("MZXW6YT1"), undefined);
    assert.equal(decodeBase32("MZXW6YT="), undefined);
    assert.equal(decodeBase32("M"), undefined);
    assert.equal(decodeBase32("MZX"), undefined);
    assert.equal(decodeBase32("MZ"), undefined);
  });

  it("round-trips arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (b) => {
        assert.deepEqual(decodeBase32(encodeBase32(b)), b);
      }),
    );
  });
});
