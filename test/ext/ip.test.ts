import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ipFromBytes, ipToBytes, isDialableIp } from "../../src/ext/index.js";

describe("IP bytes and text", () => {
  it("formats IPv6 the RFC 5952 way", () => {
    const six = (...w: number[]) => Uint8Array.from(w.flatMap((x) => [x >> 8, x & 0xff]));
    assert.equal(ipFromBytes(six(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), "2001:db8::1");
    assert.equal(ipFromBytes(six(0, 0, 0, 0, 0, 0, 0, 0)), "::");
    assert.equal(ipFromBytes(six(0, 0, 0, 0, 0, 0, 0, 1)), "::1");
    assert.equal(ipFromBytes(six(1, 0, 0, 2, 0, 0, 0, 3)), "1:0:0:2::3", "longest run wins");
    assert.equal(ipFromBytes(six(1, 0, 0, 2, 0, 0, 3, 4)), "1::2:0:0:3:4", "first run on a tie");
    assert.equal(
      ipFromBytes(six(1, 0, 2, 3, 4, 5, 6, 7)),
      "1:0:2:3:4:5:6:7",
      "a single zero stays",
    );
    assert.equal(ipFromBytes(new Uint8Array(5)), undefined);
  });

  it("parses literals, mapped forms and zones", () => {
    assert.deepEqual(ipToBytes("1.2.3.4"), Uint8Array.of(1, 2, 3, 4));
    assert.deepEqual(
      ipToBytes("::ffff:1.2.3.4")?.subarray(10),
      Uint8Array.of(0xff, 0xff, 1, 2, 3, 4),
    );
    assert.equal(ipToBytes("fe80::1%eth0")?.length, 16);
    assert.equal(ipToBytes("example.org"), undefined);
    assert.equal(ipToBytes("1.2.3"), undefined);
  });

  it("round-trips every address (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ minLength: 4, maxLength: 4 }),
          fc.uint8Array({ minLength: 16, maxLength: 16 }),
        ),
        (bytes) => {
          assert.deepEqual(ipToBytes(ipFromBytes(bytes)!), bytes);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("tells dialable addresses", () => {
    const ok = [
      "1.2.3.4",
      "127.0.0.1",
      "192.168.1.1",
      "223.255.255.255",
      "::1",
      "2001:db8::1",
      "::ffff:8.8.8.8",
    ];
    const bad = [
      "0.0.0.0",
      "0.1.2.3",
      "224.0.0.1",
      "239.255.255.250",
      "240.0.0.1",
      "255.255.255.255",
      "::",
      "ff02::1",
      "::ffff:0.0.0.0",
      "::ffff:224.0.0.1",
    ];
    for (const a of ok) assert.equal(isDialableIp(ipToBytes(a)!), true, a);
    for (const a of bad) assert.equal(isDialableIp(ipToBytes(a)!), false, a);
    assert.equal(isDialableIp(new Uint8Array(5)), false);
  });
});
