import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Rc4 } from "../../src/mse/rc4.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const keystream = (key: string, offset: number, n: number) =>
  hex(new Rc4(Buffer.from(key, "hex"), offset).process(new Uint8Array(n)));

describe("RC4", () => {
  it("matches RFC 6229 (40-bit key 0x0102030405)", () => {
    assert.equal(
      keystream("0102030405", 0, 32),
      "b2396305f03dc027ccc3524a0a1118a86982944f18fc82d589c403a47a0d0919",
    );
  });

  it("matches RFC 6229 (128-bit key 0x0102..10) at offsets 0, 240, 1520, 3056, 4080", () => {
    const key = "0102030405060708090a0b0c0d0e0f10";
    const want: [number, string][] = [
      [0, "9ac7cc9a609d1ef7b2932899cde41b975248c4959014126a6e8a84f11d1a9e1c"],
      [240, "065902e4b620f6cc36c8589f66432f2bd39d566bc6bce3010768151549f3873f"],
      [1520, "b40110c4190b5622a96116b0017ed297ffa0b514647ec04f6306b892ae661181"],
      [3056, "fabeb76028ade2d0e48722e46c4615a3c05d88abd50357f935a63c59ee537623"],
      [4080, "ff38265c1642c1abe8d3c2fe5e572bf8a36a4c301ae8ac13610ccbc12256cacc"],
    ];
    for (const [offset, ks] of want)
      assert.equal(keystream(key, offset, 32), ks, `offset ${offset}`);
  });

  it("matches the classic test vectors", () => {
    const enc = (k: string, p: string) =>
      hex(new Rc4(Buffer.from(k)).process(new Uint8Array(Buffer.from(p))));
    assert.equal(enc("Key", "Plaintext"), "bbf316e8d940af0ad3");
    assert.equal(enc("Wiki", "pedia"), "1021bf0420");
    assert.equal(enc("Secret", "Attack at dawn"), "45a01f645fc35b383552544b9bf5");
  });

  it("gives the same stream however the input is split, in place or into a buffer", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }),
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 10 }),
        (key, data, cuts) => {
          const whole = new Rc4(key, 1024).process(data.slice());
          const r = new Rc4(key, 1024);
          const out = new Uint8Array(data.length);
          let at = 0;
          for (const c of cuts) {
            const n = Math.min(c, data.length - at);
            r.process(data.subarray(at, at + n), out, at);
            at += n;
          }
          r.process(data.subarray(at), out, at);
          assert.deepEqual(out, whole);
          // Decrypting with a fresh stream gives the input back.
          assert.deepEqual(new Rc4(key, 1024).process(out), data);
        },
      ),
    );
  });

  it("refuses an empty key", () => {
    assert.throws(() => new Rc4(new Uint8Array(0)), RangeError);
  });
});
