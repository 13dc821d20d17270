import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  ALLOWED_FAST_COUNT,
  allowedFastSet,
  answerWhileChoked,
  FastState,
  MAX_ALLOWED_FAST_RECEIVED,
  splitOnChoke,
} from "../../src/ext/index.js";
import type { PieceIndex } from "../../src/types.js";

const AA = new Uint8Array(20).fill(0xaa);

describe("allowedFastSet (BEP 6)", () => {
  it("matches the BEP's k=7 vector", () => {
    assert.deepEqual(
      allowedFastSet("80.4.4.200", AA, 1313, 7),
      [1059, 431, 808, 1217, 287, 376, 1188],
    );
  });

  it("matches the BEP's k=9 vector (k+1 extends k)", () => {
    assert.deepEqual(
      allowedFastSet("80.4.4.200", AA, 1313, 9),
      [1059, 431, 808, 1217, 287, 376, 1188, 353, 508],
    );
  });

  it("masks the last octet: the whole /24 gets one set", () => {
    assert.deepEqual(
      allowedFastSet("80.4.4.1", AA, 1313, 7),
      allowedFastSet("80.4.4.200", AA, 1313, 7),
    );
    assert.notDeepEqual(
      allowedFastSet("80.4.5.1", AA, 1313, 7),
      allowedFastSet("80.4.4.1", AA, 1313, 7),
    );
  });

  it("treats an IPv4-mapped address as IPv4", () => {
    assert.deepEqual(
      allowedFastSet("::ffff:80.4.4.200", AA, 1313, 7),
      allowedFastSet("80.4.4.200", AA, 1313, 7),
    );
  });

  it("offers nothing to IPv6 peers, hostnames, or empty torrents", () => {
    assert.deepEqual(allowedFastSet("2001:db8::1", AA, 1313), []);
    assert.deepEqual(allowedFastSet("example.org", AA, 1313), []);
    assert.deepEqual(allowedFastSet("1.2.3.4", AA, 0), []);
    assert.deepEqual(allowedFastSet("1.2.3.4", AA, 100, 0), []);
  });

  it("caps k at the piece count (every piece, no endless loop)", () => {
    const s = allowedFastSet("1.2.3.4", AA, 3, 10);
    assert.deepEqual([...s].sort(), [0, 1, 2]);
  });

  it("gives k distinct in-range pieces, prefix-stable in k (property)", () => {
    fc.assert(
      fc.property(
        fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join(".")),
        fc.uint8Array({ minLength: 20, maxLength: 20 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.integer({ min: 1, max: 20 }),
        (ip, hash, count, k) => {
          const s = allowedFastSet(ip, hash, count, k);
          assert.equal(s.length, Math.min(k, count));
          assert.equal(new Set(s).size, s.length);
          assert.ok(s.every((i) => i >= 0 && i < count));
          assert.deepEqual(allowedFastSet(ip, hash, count, k + 1).slice(0, s.length), s);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("uses k = 10 by default", () => {
    assert.equal(allowedFastSet("1.2.3.4", AA, 1000).length, ALLOWED_FAST_COUNT);
  });
});

describe("Fast extension helpers", () => {
  const req = (index: number) => ({ index: index as PieceIndex, begin: 0, length: 16384 });

  it("splitOnChoke keeps allowed-fast requests and rejects the rest", () => {
    const { keep, reject } = splitOnChoke([req(1), req(2), req(3)], new Set([2]));
    assert.deepEqual(keep, [req(2)]);
    assert.deepEqual(reject, [req(1), req(3)]);
  });

  it("answerWhileChoked serves allowed-fast pieces to starting peers only", () => {
    const set = new Set([5]);
    assert.equal(answerWhileChoked(5, set, 0), "serve");
    assert.equal(answerWhileChoked(5, set, 10), "serve");
    assert.equal(answerWhileChoked(5, set, 11), "reject");
    assert.equal(answerWhileChoked(6, set, 0), "reject");
  });

  it("FastState bounds what a peer can make us remember", () => {
    const f = new FastState();
    for (let i = 0; i < 1000; i++) f.onAllowedFast(i);
    assert.equal(f.allowedFromPeer.size, MAX_ALLOWED_FAST_RECEIVED);
    assert.equal(f.onAllowedFast(0), false);
    assert.equal(f.mayRequestWhileChoked(0), true);
    assert.equal(f.mayRequestWhileChoked(999), false);
    for (let i = 0; i < 1000; i++) f.onSuggest(i % 200);
    assert.equal(f.suggested.length, MAX_ALLOWED_FAST_RECEIVED);
    f.onSuggest(199);
    assert.equal(f.suggested.at(-1), 199);
    assert.equal(new Set(f.suggested).size, f.suggested.length);
  });
});
