/** Fuzz target: the bencode decoder (decode, decodePrefix) and its canonical round-trip. */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BDict,
  BencodeError,
  type BValue,
  compareBytes,
  decode,
  decodePrefix,
  encode,
  keyBytes,
  MAX_DEPTH,
  rawSpan,
} from "../../../src/bencode/index.js";
import { bytesCodec, type FuzzTarget } from "../engine.js";
import { arbEncodable, mutatedBytes } from "../mutate.js";

/** Structural equality of decoded values (BDict's `raw` span is not compared). */
export function sameValue(a: BValue, b: BValue): boolean {
  if (typeof a === "number" || typeof a === "bigint") return a === b;
  if (a instanceof Uint8Array) return b instanceof Uint8Array && compareBytes(a, b) === 0;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameValue(x, b[i]!));
  }
  if (!(b instanceof BDict) || a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (w === undefined || !sameValue(v, w)) return false;
  }
  return true;
}

/** Whether every dictionary in `v` lists its keys in canonical (raw byte) order. */
function sortedKeys(v: BValue): boolean {
  if (Array.isArray(v)) return v.every(sortedKeys);
  if (!(v instanceof BDict)) return true;
  let prev: Uint8Array | undefined;
  for (const [k, item] of v) {
    const kb = keyBytes(k);
    if (prev !== undefined && compareBytes(prev, kb) >= 0) return false;
    prev = kb;
    if (!sortedKeys(item)) return false;
  }
  return true;
}

/** Each container's raw span lies in `input` and decodes to the same value on its own. */
function checkSpans(v: BValue, input: Uint8Array): void {
  if (!(v instanceof BDict) && !Array.isArray(v)) return;
  const span = rawSpan(v);
  assert.ok(span !== undefined, "decoded container without a raw span");
  assert.equal(span.buffer, input.buffer, "raw span is not a view into the input");
  assert.ok(sameValue(decode(span), v), "raw span decodes to another value");
  for (const item of v instanceof BDict ? v.values() : v) checkSpans(item, input);
}

function run(input: Uint8Array): void {
  let prefix: { value: BValue; end: number } | undefined;
  let prefixError: unknown;
  try {
    prefix = decodePrefix(input);
  } catch (e) {
    prefixError = e;
  }
  let value: BValue;
  try {
    value = decode(input);
  } catch (e) {
    // A whole-input failure is either the prefix's failure or bytes after a good prefix.
    if (e instanceof BencodeError && prefix !== undefined) {
      assert.equal(
        e.code,
        "BENCODE_TRAILING_BYTES",
        `decodePrefix succeeded but decode: ${e.message}`,
      );
      assert.ok(prefix.end < input.length);
      assert.ok(sameValue(decode(input.subarray(0, prefix.end)), prefix.value));
    }
    throw e;
  }
  if (prefixError !== undefined)
    throw new Error(`decode succeeded where decodePrefix threw ${String(prefixError)}`);
  assert.equal(prefix!.end, input.length);
  // The decoder accepts exactly one non-canonical form (unsorted keys), which keeps lengths.
  const again = encode(value);
  assert.equal(again.length, input.length, "re-encoding changed the length");
  if (sortedKeys(value))
    assert.equal(compareBytes(again, input), 0, "canonical input did not round-trip");
  assert.ok(sameValue(decode(again), value), "decode(encode(v)) differs from v");
  checkSpans(value, input);
}

/** `depth` nested lists or dictionaries around an integer, around the depth limit. */
const deep = fc
  .tuple(fc.integer({ min: MAX_DEPTH - 5, max: MAX_DEPTH + 5 }), fc.boolean(), fc.boolean())
  .map(([depth, dicts, close]) => {
    const open = dicts ? "d1:k".repeat(depth) : "l".repeat(depth);
    return new TextEncoder().encode(`${open}i1e${close ? "e".repeat(depth) : ""}`);
  });

const valid = arbEncodable.map((v) => encode(v));

export const bencodeTarget: FuzzTarget<Uint8Array> = {
  name: "bencode",
  errors: [BencodeError],
  codec: bytesCodec,
  quickRuns: 400,
  generators: [
    { name: "valid", arb: valid },
    { name: "mutated", arb: mutatedBytes(valid), weight: 3 },
    { name: "deep", arb: fc.oneof(deep, mutatedBytes(deep, 2)) },
    { name: "random", arb: fc.uint8Array({ maxLength: 256 }) },
    {
      name: "alphabet",
      arb: fc
        .array(fc.constantFrom(..."ield0123456789:-"), { maxLength: 64 })
        .map((cs) => new TextEncoder().encode(cs.join(""))),
    },
  ],
  run,
};
