import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  deriveKeys,
  KEY_BYTES,
  MAX_PAD,
  MSE_PRIME,
  MseError,
  MseInitiator,
  MseResponder,
  publicKey,
  RC4_DISCARD,
  Rc4,
  req2Hash,
  sha1,
  sharedSecret,
} from "../../src/mse/index.js";
import { cat, lookupOf, runPair, seeded } from "./helpers.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const IH = new Uint8Array(20).fill(7);
const OTHER = new Uint8Array(20).fill(9);
const BOTH = CRYPTO_PLAINTEXT | CRYPTO_RC4;

function code(c: string) {
  return (e: unknown) => e instanceof MseError && e.code === c;
}

describe("MSE key derivation", () => {
  it("hashes req1, req2, keyA and keyB as the specification says (known answers)", () => {
    const s = Uint8Array.from({ length: 96 }, (_, i) => i);
    const skey = Uint8Array.from({ length: 20 }, (_, i) => 100 + i);
    const { keyA, keyB } = deriveKeys(s, skey);
    assert.equal(hex(keyA), "440a1bb8b1b33dbc78ea810aa9372179da90a5be");
    assert.equal(hex(keyB), "c409a3d1b427f3d1dc43eb9141b49cbf70254941");
    assert.equal(hex(sha1("req1", s)), "ed37476cccf63496894d66db14b9806c8c9efe3e");
    assert.equal(hex(req2Hash(skey)), "fe8811640d96d350501a13baa0553941fef6faf0");
  });

  it("computes Y = 2^X mod P and S (known answers from Python's pow)", () => {
    const xa = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
    const xb = Uint8Array.from({ length: 20 }, (_, i) => i + 21);
    const ya = publicKey(xa);
    assert.equal(ya.length, KEY_BYTES);
    assert.equal(
      hex(ya),
      "96e112dab29e8c5272accb9b17b26887ce54a144a4e3b697c7d159b7a817e556b0918db2b4c658e02a87f7e5fb14b18a553e084cbf3dad2d30f16596ccb982d406258c61b30c5c1dae2ddc60bdbd48d79896312aad63238c39e1a633821eb693",
    );
    const s1 = sharedSecret(xa, publicKey(xb));
    const s2 = sharedSecret(xb, ya);
    assert.deepEqual(s1, s2);
    assert.equal(
      createHash("sha1").update(s1).digest("hex"),
      "12ba167261b1d285979464feaaf403c26052c6b8",
    );
  });

  it("refuses degenerate public keys", () => {
    const x = new Uint8Array(20).fill(3);
    const pMinus1 = new Uint8Array(MSE_PRIME);
    pMinus1[95]! -= 1;
    for (const y of [
      new Uint8Array(96),
      Uint8Array.from({ length: 96 }, (_, i) => (i === 95 ? 1 : 0)),
      pMinus1,
      new Uint8Array(MSE_PRIME),
      new Uint8Array(96).fill(0xff),
    ])
      assert.throws(() => sharedSecret(x, y), code("MSE_BAD_KEY"));
  });
});

describe("MSE handshake, both sides", () => {
  it("negotiates RC4 and carries the payload both ways, however the bytes are chunked", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 300 }),
        fc.integer({ min: 0, max: MAX_PAD }),
        (seed, cuts, ia, afterA, afterB, padCD) => {
          const r = runPair(
            { infoHash: IH, provide: BOTH, initialPayload: ia, random: seeded(seed), padCD },
            { lookup: lookupOf(OTHER, IH), allow: BOTH, random: seeded(seed + 1), padCD },
            cuts,
            afterA,
            afterB,
          );
          assert.equal(r.a.method, CRYPTO_RC4);
          assert.equal(r.b.method, CRYPTO_RC4);
          assert.deepEqual(r.b.infoHash, IH);
          assert.deepEqual(r.payloadAtB, cat([ia, afterA]));
          assert.deepEqual(r.payloadAtA, afterB);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("takes a 64 KiB initial payload (and maximal pads) a byte at a time", () => {
    // Each byte is appended to what is buffered: this exercises the growing store, whose
    // copying stays linear however the peer trickles its bytes.
    const ia = Uint8Array.from({ length: 65_535 }, (_, i) => (i * 7) & 0xff);
    const after = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
    const r = runPair(
      { infoHash: IH, provide: BOTH, initialPayload: ia, padCD: MAX_PAD, random: seeded(5) },
      { lookup: lookupOf(IH), allow: BOTH, padCD: MAX_PAD, random: seeded(6) },
      [1],
      after,
      after,
    );
    assert.equal(r.b.method, CRYPTO_RC4);
    assert.deepEqual(r.payloadAtB, cat([ia, after]));
    assert.deepEqual(r.payloadAtA, after);
  });

  it("selects the one method both sides have", () => {
    const cases: [number, number, boolean, number][] = [
      [BOTH, BOTH, false, CRYPTO_RC4],
      [BOTH, BOTH, true, CRYPTO_PLAINTEXT],
      [CRYPTO_PLAINTEXT, BOTH, false, CRYPTO_PLAINTEXT],
      [BOTH, CRYPTO_PLAINTEXT, false, CRYPTO_PLAINTEXT],
      [CRYPTO_RC4, BOTH, true, CRYPTO_RC4],
      [BOTH, CRYPTO_RC4, false, CRYPTO_RC4],
    ];
    for (const [provide, allow, preferPlaintext, want] of cases) {
      const after = Uint8Array.from({ length: 100 }, (_, i) => i);
      const r = runPair(
        { infoHash: IH, provide, initialPayload: Uint8Array.of(1, 2, 3) },
        { lookup: lookupOf(IH), allow, preferPlaintext },
        [37],
        after,
        after,
      );
      assert.equal(r.a.method, want);
      assert.equal(r.b.method, want);
      assert.equal(r.a.encrypt === undefined, want === CRYPTO_PLAINTEXT);
      assert.deepEqual(r.payloadAtB, cat([Uint8Array.of(1, 2, 3), after]));
      assert.deepEqual(r.payloadAtA, after);
    }
  });

  it("fails with MSE_NO_COMMON_METHOD when nothing matches", () => {
    assert.throws(
      () =>
        runPair(
          { infoHash: IH, provide: CRYPTO_PLAINTEXT },
          { lookup: lookupOf(IH), allow: CRYPTO_RC4 },
        ),
      code("MSE_NO_COMMON_METHOD"),
    );
  });

  it("fails with MSE_UNKNOWN_INFOHASH for a torrent the responder does not have", () => {
    assert.throws(
      () => runPair({ infoHash: IH, provide: BOTH }, { lookup: lookupOf(OTHER), allow: BOTH }),
      code("MSE_UNKNOWN_INFOHASH"),
    );
  });
});

describe("MSE hostile input", () => {
  it("responder: garbage after a key finds no req1 within 532 bytes, buffering no more", () => {
    const b = new MseResponder({ lookup: lookupOf(IH), allow: BOTH });
    const ya = publicKey(new Uint8Array(20).fill(5));
    b.receive(ya);
    const junk = seeded(3)(2000);
    let fed = 0;
    assert.throws(() => {
      for (; fed < junk.length; fed++) b.receive(junk.subarray(fed, fed + 1));
    }, code("MSE_NO_REQ1_SYNC"));
    assert.equal(fed, MAX_PAD + 20 - 1);
    // Failed for good.
    assert.throws(() => b.receive(Uint8Array.of(1)), code("MSE_NO_REQ1_SYNC"));
  });

  it("responder: a whole chunk of garbage fails at once", () => {
    const b = new MseResponder({ lookup: lookupOf(IH), allow: BOTH });
    assert.throws(() => b.receive(seeded(9)(96 + 4096)), code("MSE_NO_REQ1_SYNC"));
  });

  it("initiator: no VC within 520 bytes of Yb", () => {
    const a = new MseInitiator({ infoHash: IH, provide: BOTH });
    a.start();
    const yb = publicKey(new Uint8Array(20).fill(6));
    a.receive(yb);
    assert.throws(() => a.receive(seeded(4)(MAX_PAD + 8)), code("MSE_NO_VC_SYNC"));
  });

  /** A hand-built step 3 from a real step 1/2, to send what an honest initiator never would. */
  function craftedStep3(plain: Uint8Array) {
    const b = new MseResponder({ lookup: lookupOf(IH), allow: BOTH, maxPad: 0 });
    const xa = new Uint8Array(20).fill(11);
    const yb = b.receive(publicKey(xa)).send[0]!.subarray(0, 96);
    const s = sharedSecret(xa, yb);
    const req3 = sha1("req3", s);
    const x = req2Hash(IH);
    for (let i = 0; i < 20; i++) x[i]! ^= req3[i]!;
    const enc = new Rc4(deriveKeys(s, IH).keyA, RC4_DISCARD).process(plain.slice());
    return { b, msg: cat([sha1("req1", s), x, enc]) };
  }

  it("responder: PadC over 512 bytes → MSE_PAD_TOO_LONG", () => {
    const plain = new Uint8Array(14);
    plain[11] = BOTH;
    plain[12] = 0x02;
    plain[13] = 0x01; // 513
    const { b, msg } = craftedStep3(plain);
    assert.throws(() => b.receive(msg), code("MSE_PAD_TOO_LONG"));
  });

  it("responder: a wrong VC → MSE_BAD_VC", () => {
    const plain = new Uint8Array(14);
    plain[0] = 1;
    plain[11] = BOTH;
    const { b, msg } = craftedStep3(plain);
    assert.throws(() => b.receive(msg), code("MSE_BAD_VC"));
  });

  it("initiator: PadD over 512 bytes, or a method it did not offer", () => {
    for (const [sel, padD, want] of [
      [CRYPTO_RC4, 513, "MSE_PAD_TOO_LONG"],
      [BOTH, 0, "MSE_BAD_SELECT"],
      [CRYPTO_PLAINTEXT, 0, "MSE_BAD_SELECT"],
      [0x10, 0, "MSE_BAD_SELECT"],
    ] as const) {
      const a = new MseInitiator({ infoHash: IH, provide: CRYPTO_RC4 });
      const ya = a.start().subarray(0, 96);
      const xb = new Uint8Array(20).fill(12);
      a.receive(publicKey(xb));
      const s = sharedSecret(xb, ya);
      const reply = new Uint8Array(14);
      reply[11] = sel;
      reply[12] = padD >> 8;
      reply[13] = padD & 0xff;
      new Rc4(deriveKeys(s, IH).keyB, RC4_DISCARD).process(reply);
      assert.throws(() => a.receive(reply), code(want));
    }
  });

  it("a DH key of junk or zeros → MSE_BAD_KEY", () => {
    const b = new MseResponder({ lookup: lookupOf(IH), allow: BOTH });
    assert.throws(() => b.receive(new Uint8Array(96)), code("MSE_BAD_KEY"));
  });

  it("random input never throws anything but MseError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1500 }), fc.boolean(), (input, responder) => {
        const side = responder
          ? new MseResponder({ lookup: lookupOf(IH), allow: BOTH })
          : new MseInitiator({ infoHash: IH, provide: BOTH });
        if (side instanceof MseInitiator) side.start();
        try {
          side.receive(input);
        } catch (e) {
          assert.ok(e instanceof MseError, String(e));
        }
      }),
      { numRuns: 200 },
    );
  });
});
