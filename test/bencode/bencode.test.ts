import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  BDict,
  BencodeError,
  type BValue,
  decode,
  decodePrefix,
  encode,
  keyOf,
  MAX_DEPTH,
  rawSpan,
} from "../../src/bencode/index.js";

const te = new TextEncoder();
const b = (s: string) => te.encode(s);
const latin = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function rejects(input: string | Uint8Array, code: string, offset?: number) {
  const bytes = typeof input === "string" ? b(input) : input;
  assert.throws(
    () => decode(bytes),
    (e: unknown) => {
      assert.ok(e instanceof BencodeError, `expected BencodeError, got ${e}`);
      assert.equal(e.code, code, `${JSON.stringify(String(input).slice(0, 40))}: ${e.message}`);
      if (offset !== undefined) assert.equal(e.offset, offset);
      assert.match(e.message, /at byte \d+/);
      return true;
    },
  );
}

describe("bencode decode", () => {
  it("decodes every type", () => {
    assert.equal(decode(b("i42e")), 42);
    assert.equal(decode(b("i-42e")), -42);
    assert.equal(decode(b("i0e")), 0);
    assert.deepEqual(decode(b("4:spam")), b("spam"));
    assert.deepEqual(decode(b("0:")), new Uint8Array(0));
    assert.deepEqual(decode(b("l4:spami1ee")), [b("spam"), 1]);
    const d = decode(b("d3:cow3:moo4:spam4:eggse"));
    assert.ok(d instanceof BDict);
    assert.deepEqual([...d.keys()], ["cow", "spam"]);
    assert.deepEqual(d.get("cow"), b("moo"));
  });

  it("returns byte strings as views into the input, not copies", () => {
    const input = b("l5:helloe");
    const list = decode(input) as BValue[];
    const s = list[0] as Uint8Array;
    assert.equal(s.buffer, input.buffer);
    assert.equal(s.byteOffset, 3);
  });

  it("keeps integers beyond 2^53 exact as bigint", () => {
    assert.equal(decode(b("i9007199254740991e")), 9007199254740991);
    assert.equal(decode(b("i9007199254740992e")), 9007199254740992n);
    assert.equal(decode(b("i-9007199254740993e")), -9007199254740993n);
    assert.equal(decode(b("i18446744073709551616e")), 18446744073709551616n);
  });

  it("rejects malformed integers", () => {
    rejects("i01e", "BENCODE_LEADING_ZERO", 0);
    rejects("i-01e", "BENCODE_LEADING_ZERO");
    rejects("i-0e", "BENCODE_NEGATIVE_ZERO", 0);
    rejects("ie", "BENCODE_INVALID_INTEGER");
    rejects("i-e", "BENCODE_INVALID_INTEGER");
    rejects("i1.5e", "BENCODE_INVALID_BYTE", 2);
    rejects("i+1e", "BENCODE_INVALID_BYTE", 1);
    rejects("i12", "BENCODE_UNEXPECTED_END", 3);
    rejects(`i${"9".repeat(100)}e`, "BENCODE_INTEGER_TOO_LONG");
  });

  it("rejects malformed strings before allocating", () => {
    rejects("05:hello", "BENCODE_LEADING_ZERO");
    rejects("5:hell", "BENCODE_STRING_LENGTH", 0);
    rejects("4294967296:x", "BENCODE_STRING_LENGTH", 0);
    rejects(`${"9".repeat(400)}:x`, "BENCODE_STRING_LENGTH", 0);
    rejects("-1:x", "BENCODE_INVALID_BYTE", 0);
    rejects("3", "BENCODE_STRING_LENGTH");
    rejects("1", "BENCODE_UNEXPECTED_END", 1);
    rejects("1x2", "BENCODE_INVALID_BYTE", 1);
  });

  it("rejects unterminated containers, bad keys, duplicates and trailing bytes", () => {
    rejects("l", "BENCODE_UNEXPECTED_END", 1);
    rejects("l4:spam", "BENCODE_UNEXPECTED_END");
    rejects("d3:foo", "BENCODE_UNEXPECTED_END");
    rejects("d3:fooe", "BENCODE_MISSING_VALUE");
    rejects("di1e3:fooe", "BENCODE_KEY_NOT_STRING", 1);
    rejects("dle3:fooe", "BENCODE_KEY_NOT_STRING", 1);
    rejects("d1:ai1e1:ai2ee", "BENCODE_DUPLICATE_KEY");
    rejects("i1ei2e", "BENCODE_TRAILING_BYTES", 3);
    rejects("e", "BENCODE_INVALID_BYTE", 0);
    rejects("", "BENCODE_UNEXPECTED_END", 0);
    rejects("x", "BENCODE_INVALID_BYTE", 0);
  });

  it("limits nesting depth without touching the JS stack", () => {
    assert.doesNotThrow(() => decode(b(`${"l".repeat(MAX_DEPTH)}${"e".repeat(MAX_DEPTH)}`)));
    rejects(
      `${"l".repeat(MAX_DEPTH + 1)}${"e".repeat(MAX_DEPTH + 1)}`,
      "BENCODE_DEPTH_LIMIT",
      MAX_DEPTH,
    );
    rejects("l".repeat(1_000_000), "BENCODE_DEPTH_LIMIT");
  });

  it("limits the token count", () => {
    assert.throws(
      () => decode(b(`l${"i1e".repeat(11)}e`), { maxTokens: 10 }),
      (e: unknown) => e instanceof BencodeError && e.code === "BENCODE_TOKEN_LIMIT",
    );
  });

  it("makes __proto__ an ordinary key", () => {
    const d = decode(b("d9:__proto__d5:admini1eee")) as BDict;
    assert.ok(d.get("__proto__") instanceof BDict);
    assert.equal(({} as Record<string, unknown>).admin, undefined);
    assert.equal(Object.getPrototypeOf(d), BDict.prototype);
  });

  it("keeps distinct binary keys distinct", () => {
    const d = decode(latin("d1:\x801:a1:\x811:be")) as BDict;
    assert.equal(d.size, 2);
    assert.deepEqual(d.get(keyOf(Uint8Array.of(0x80))), b("a"));
  });

  it("keeps raw spans so an unsorted info dictionary hashes over its original bytes", () => {
    const info = "d6:lengthi5e4:name1:a12:piece lengthi16384e6:pieces0:e"; // unsorted: length < name, ok; swap
    const unsorted = "d4:name1:a6:lengthi5e12:piece lengthi16384e6:pieces0:e";
    for (const infoText of [info, unsorted]) {
      const input = b(`d8:announce3:foo4:info${infoText}e`);
      const top = decode(input) as BDict;
      const dict = top.get("info") as BDict;
      assert.equal(Buffer.from(dict.raw).toString(), infoText);
      const expected = createHash("sha1").update(infoText).digest("hex");
      assert.equal(createHash("sha1").update(dict.raw).digest("hex"), expected);
      assert.equal(rawSpan(dict), dict.raw);
    }
    const list = (decode(b("d1:ll1:xee")) as BDict).get("l") as BValue[];
    assert.equal(Buffer.from(rawSpan(list)!).toString(), "l1:xe");
  });

  it("decodes half a million lists in linear time, also with earlier results alive", () => {
    // Spans used to live in a WeakMap: 5.5 s per million lists, 55 s once results piled up.
    const input = b(`l${"le".repeat(500_000)}e`);
    const kept: BValue[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      kept.push(decode(input));
      const ms = performance.now() - t0;
      assert.ok(ms < 10_000, `decode ${i} took ${ms.toFixed(0)} ms`);
    }
    const inner = (kept[2] as BValue[][])[7]!;
    assert.equal(Buffer.from(rawSpan(inner)!).toString(), "le");
    assert.deepEqual(inner, []);
  });

  it("decodePrefix reports where the value ends", () => {
    const { value, end } = decodePrefix(b("d1:ai1ee" + "rawdata"));
    assert.ok(value instanceof BDict);
    assert.equal(end, 8);
  });
});

describe("bencode encode", () => {
  it("encodes canonically with keys sorted by bytes", () => {
    assert.equal(
      Buffer.from(encode({ z: 1, a: "x", m: [1, "y"] })).toString(),
      "d1:a1:x1:mli1e1:ye1:zi1ee",
    );
    assert.equal(
      Buffer.from(
        encode(
          new Map([
            ["b", 1],
            ["a", 2],
          ]),
        ),
      ).toString(),
      "d1:ai2e1:bi1ee",
    );
    assert.equal(Buffer.from(encode(-3)).toString(), "i-3e");
    assert.equal(Buffer.from(encode(2n ** 64n)).toString(), "i18446744073709551616e");
    assert.equal(Buffer.from(encode({ a: undefined, b: 1 })).toString(), "d1:bi1ee");
  });

  it("refuses what bencode cannot carry", () => {
    for (const bad of [1.5, Number.NaN, 2 ** 60]) {
      assert.throws(
        () => encode(bad),
        (e: unknown) => e instanceof BencodeError && e.code === "BENCODE_UNENCODABLE",
      );
    }
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    assert.throws(() => encode(cyclic as never), BencodeError);
  });
});

/** Arbitrary bencode values in the decoder's own model. */
const bvalue: fc.Arbitrary<BValue> = fc.letrec<{ v: BValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.oneof(fc.integer({ min: -1e15, max: 1e15 }), fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n })),
    fc.uint8Array({ maxLength: 20 }),
    fc.array(tie("v"), { maxLength: 5 }),
    fc
      .uniqueArray(fc.tuple(fc.uint8Array({ maxLength: 6 }), tie("v")), {
        maxLength: 5,
        selector: ([k]) => keyOf(k),
      })
      .map((entries) => {
        const d = new BDict();
        for (const [k, v] of entries) d.set(keyOf(k), v);
        return d;
      }),
  ),
})).v;

function normalise(v: BValue): unknown {
  if (v instanceof BDict)
    return [...v.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, x]) => [k, normalise(x)]);
  if (Array.isArray(v)) return v.map(normalise);
  if (v instanceof Uint8Array) return ["bytes", [...v]];
  return v;
}

describe("bencode properties", () => {
  it("decode(encode(x)) equals x", () => {
    fc.assert(
      fc.property(bvalue, (v) => {
        const encoded = encode(v);
        const back = decode(encoded);
        assert.deepEqual(normalise(back), normalise(v));
        assert.deepEqual(encode(back), encoded);
      }),
      { numRuns: 2000, seed: 42 },
    );
  });

  it("random bytes only ever throw BencodeError", () => {
    const alphabet = fc.constantFrom(...b("ilde0123456789:-x"));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 64 }),
          fc.array(alphabet, { maxLength: 64 }).map((a) => Uint8Array.from(a)),
        ),
        (bytes) => {
          try {
            decode(bytes);
          } catch (e) {
            if (!(e instanceof BencodeError)) throw e;
          }
        },
      ),
      { numRuns: 20000, seed: 7 },
    );
  });

  it("mutations of valid encodings only ever throw BencodeError", () => {
    fc.assert(
      fc.property(bvalue, fc.nat(), fc.integer({ min: 0, max: 255 }), (v, at, byte) => {
        const enc = encode(v).slice();
        if (enc.length > 0) enc[at % enc.length] = byte;
        try {
          decode(enc);
        } catch (e) {
          if (!(e instanceof BencodeError)) throw e;
        }
      }),
      { numRuns: 5000, seed: 9 },
    );
  });
});
