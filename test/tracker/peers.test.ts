import assert from "node:assert/strict";
import { isIP } from "node:net";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  formatIp,
  ipBytes,
  isDialable,
  MAX_PEERS_PER_REPLY,
  parseCompactPeers,
} from "../../src/tracker/peers.js";

const bytes = (...b: number[]) => Uint8Array.from(b);

/** 16 bytes from eight 16-bit groups. */
function v6(...groups: number[]): Uint8Array {
  assert.equal(groups.length, 8);
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function isMapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** An IPv6 compact entry: 16 address bytes then the port, big-endian. */
function entry6(ip: Uint8Array, port: number): number[] {
  return [...ip, port >> 8, port & 0xff];
}

describe("formatIp", () => {
  it("formats IPv4 dotted-quad", () => {
    assert.equal(formatIp(bytes(1, 2, 3, 4)), "1.2.3.4");
    assert.equal(formatIp(bytes(255, 0, 10, 0)), "255.0.10.0");
  });

  it("compresses IPv6 as RFC 5952 asks", () => {
    assert.equal(formatIp(v6(0, 0, 0, 0, 0, 0, 0, 0)), "::");
    assert.equal(formatIp(v6(0, 0, 0, 0, 0, 0, 0, 1)), "::1");
    assert.equal(formatIp(v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)), "2001:db8::1");
    assert.equal(formatIp(v6(0xfe80, 0, 0, 0, 0, 0, 0, 0)), "fe80::");
    // A single zero group is not compressed.
    assert.equal(formatIp(v6(0x2001, 0xdb8, 0, 1, 1, 1, 1, 1)), "2001:db8:0:1:1:1:1:1");
    // The longest run wins; on a tie, the first.
    assert.equal(formatIp(v6(1, 0, 0, 2, 0, 0, 0, 3)), "1:0:0:2::3");
    assert.equal(formatIp(v6(1, 0, 0, 2, 3, 0, 0, 4)), "1::2:3:0:0:4");
    // Lower-case hex without leading zeros.
    assert.equal(formatIp(v6(0xabcd, 0x00ef, 1, 2, 3, 4, 5, 6)), "abcd:ef:1:2:3:4:5:6");
  });

  it("formats IPv4-mapped addresses as IPv4", () => {
    assert.equal(formatIp(v6(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304)), "1.2.3.4");
    // Not mapped: ::fffe:… and ::1:ffff:… stay IPv6.
    assert.equal(formatIp(v6(0, 0, 0, 0, 0, 0xfffe, 0x0102, 0x0304)), "::fffe:102:304");
    assert.equal(formatIp(v6(0, 0, 0, 0, 1, 0xffff, 0x0102, 0x0304)), "::1:ffff:102:304");
  });

  it("agrees with the WHATWG URL serializer for every non-mapped IPv6 address", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        fc.pre(!isMapped(b));
        const s = formatIp(b);
        assert.equal(isIP(s), 6);
        // The URL parser canonicalises IPv6 hosts the same way (RFC 5952, lower case).
        assert.equal(new URL(`http://[${s}]/`).hostname, `[${s}]`);
      }),
      { numRuns: 300 },
    );
  });

  it("also compresses sparse addresses (runs of zero groups) canonically", () => {
    const group = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (groups) => {
        const b = v6(...groups);
        fc.pre(!isMapped(b));
        const s = formatIp(b);
        assert.equal(new URL(`http://[${s}]/`).hostname, `[${s}]`);
        assert.deepEqual(ipBytes(s), b);
      }),
      { numRuns: 300 },
    );
  });
});

describe("ipBytes", () => {
  it("parses IPv4 and IPv6 literals", () => {
    assert.deepEqual(ipBytes("1.2.3.4"), bytes(1, 2, 3, 4));
    assert.deepEqual(ipBytes("::"), new Uint8Array(16));
    assert.deepEqual(ipBytes("::1"), v6(0, 0, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(ipBytes("1::"), v6(1, 0, 0, 0, 0, 0, 0, 0));
    assert.deepEqual(ipBytes("2001:DB8::1"), v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1));
    assert.deepEqual(ipBytes("1:2:3:4:5:6:7:8"), v6(1, 2, 3, 4, 5, 6, 7, 8));
    assert.deepEqual(ipBytes("1:0:0:2::3"), v6(1, 0, 0, 2, 0, 0, 0, 3));
  });

  it("parses IPv6 with an embedded IPv4 tail", () => {
    assert.deepEqual(ipBytes("::ffff:1.2.3.4"), v6(0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304));
    assert.deepEqual(ipBytes("1:2:3:4:5:6:7.8.9.10"), v6(1, 2, 3, 4, 5, 6, 0x0708, 0x090a));
    assert.deepEqual(ipBytes("64:ff9b::192.0.2.33"), v6(0x64, 0xff9b, 0, 0, 0, 0, 0xc000, 0x0221));
  });

  it("refuses what is not an IP literal", () => {
    for (const s of ["", "example.com", "1.2.3", "1.2.3.256", "01.2.3.4", "[::1]", "1:2", "::g"])
      assert.equal(ipBytes(s), undefined, s);
  });

  it("round-trips random 16 bytes through formatIp (IPv4-mapped ones come back as 4 bytes)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        const back = ipBytes(formatIp(b));
        if (isMapped(b)) assert.deepEqual(back, b.subarray(12));
        else assert.deepEqual(back, b);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips random IPv4-mapped addresses to their IPv4 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (four) => {
        const b = new Uint8Array(16);
        b[10] = 0xff;
        b[11] = 0xff;
        b.set(four, 12);
        assert.deepEqual(ipBytes(formatIp(b)), four);
      }),
    );
  });

  it("round-trips random 4 bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (b) => {
        assert.deepEqual(ipBytes(formatIp(b)), b);
      }),
    );
  });
});

describe("isDialable", () => {
  it("accepts ordinary unicast addresses", () => {
    assert.equal(isDialable(bytes(1, 2, 3, 4), 6881), true);
    assert.equal(isDialable(bytes(223, 255, 255, 255), 1), true);
    assert.equal(isDialable(ipBytes("2001:db8::1")!, 65535), true);
    assert.equal(isDialable(ipBytes("::1")!, 6881), true);
  });

  it("refuses port 0", () => {
    assert.equal(isDialable(bytes(1, 2, 3, 4), 0), false);
    assert.equal(isDialable(ipBytes("2001:db8::1")!, 0), false);
  });

  it("refuses unspecified, multicast and broadcast IPv4", () => {
    for (const ip of ["0.0.0.0", "0.1.2.3", "224.0.0.1", "239.255.255.250", "240.0.0.1"])
      assert.equal(isDialable(ipBytes(ip)!, 6881), false, ip);
    assert.equal(isDialable(bytes(255, 255, 255, 255), 6881), false);
  });

  it("refuses :: and IPv6 multicast", () => {
    assert.equal(isDialable(ipBytes("::")!, 6881), false);
    assert.equal(isDialable(ipBytes("ff02::1")!, 6881), false);
    assert.equal(isDialable(ipBytes("ff05::2")!, 6881), false);
  });

  it("refuses addresses of other lengths", () => {
    assert.equal(isDialable(new Uint8Array(0), 6881), false);
    assert.equal(isDialable(bytes(1, 2, 3), 6881), false);
    assert.equal(isDialable(new Uint8Array(5).fill(1), 6881), false);
  });

  it("judges an IPv4-mapped IPv6 address as the IPv4 address it is", () => {
    for (const ip of ["::ffff:0.0.0.0", "::ffff:224.0.0.1", "::ffff:255.255.255.255"])
      assert.equal(isDialable(ipBytes(ip)!, 6881), false, ip);
  });
});

describe("parseCompactPeers", () => {
  it("parses IPv4 entries (6 bytes, port big-endian)", () => {
    const b = bytes(10, 0, 0, 1, 0x1a, 0xe1, 192, 168, 1, 2, 0xff, 0xff);
    assert.deepEqual(parseCompactPeers(b, 6), [
      { host: "10.0.0.1", port: 6881 },
      { host: "192.168.1.2", port: 65535 },
    ]);
  });

  it("parses IPv6 entries (18 bytes)", () => {
    const b = Uint8Array.from([
      ...entry6(ipBytes("2001:db8::1")!, 6881),
      ...entry6(ipBytes("fe80::abcd")!, 1),
    ]);
    assert.deepEqual(parseCompactPeers(b, 18), [
      { host: "2001:db8::1", port: 6881 },
      { host: "fe80::abcd", port: 1 },
    ]);
  });

  it("ignores a trailing partial entry", () => {
    const b = bytes(10, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0x1a);
    assert.deepEqual(parseCompactPeers(b, 6), [{ host: "10.0.0.1", port: 6881 }]);
    const b6 = Uint8Array.from([...entry6(ipBytes("2001:db8::1")!, 6881), 1, 2, 3, 4, 5]);
    assert.deepEqual(parseCompactPeers(b6, 18), [{ host: "2001:db8::1", port: 6881 }]);
    assert.deepEqual(parseCompactPeers(bytes(1, 2, 3, 4, 5), 6), []);
    assert.deepEqual(parseCompactPeers(new Uint8Array(17), 18), []);
  });

  it("drops undialable entries but keeps the rest", () => {
    const b = bytes(
      ...[0, 0, 0, 0, 0x1a, 0xe1],
      ...[1, 2, 3, 4, 0, 0],
      ...[224, 0, 0, 1, 0x1a, 0xe1],
      ...[255, 255, 255, 255, 0x1a, 0xe1],
      ...[5, 6, 7, 8, 0, 80],
    );
    assert.deepEqual(parseCompactPeers(b, 6), [{ host: "5.6.7.8", port: 80 }]);
    const b6 = Uint8Array.from([
      ...entry6(new Uint8Array(16), 6881),
      ...entry6(ipBytes("ff02::1")!, 6881),
      ...entry6(ipBytes("2001:db8::2")!, 0),
      ...entry6(ipBytes("2001:db8::3")!, 7),
    ]);
    assert.deepEqual(parseCompactPeers(b6, 18), [{ host: "2001:db8::3", port: 7 }]);
  });

  it("appends to `out` and stops at the cap, counting what is already there", () => {
    const n = MAX_PEERS_PER_REPLY + 50;
    const b = new Uint8Array(6 * n);
    for (let i = 0; i < n; i++) b.set([10, 0, i >> 8, i & 0xff, 0x1a, 0xe1], 6 * i);
    assert.equal(parseCompactPeers(b, 6).length, MAX_PEERS_PER_REPLY);
    const out = [{ host: "9.9.9.9", port: 1 }];
    parseCompactPeers(b, 6, out, 10);
    assert.equal(out.length, 10);
    assert.deepEqual(out[0], { host: "9.9.9.9", port: 1 });
    assert.deepEqual(out[9], { host: "10.0.0.8", port: 6881 });
  });

  it("never returns a peer with port 0 or an unparsable host, for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), fc.constantFrom(6, 18), (b, w) => {
        const peers = parseCompactPeers(b, w as 6 | 18);
        assert.ok(peers.length <= Math.floor(b.length / w));
        for (const p of peers) {
          assert.ok(p.port >= 1 && p.port <= 65535);
          assert.notEqual(isIP(p.host), 0);
        }
      }),
    );
  });

  it("only returns hosts that isDialable accepts (IPv4-mapped entries in peers6 included)", () => {
    const b6 = Uint8Array.from([
      ...entry6(ipBytes("::ffff:0.0.0.0")!, 6881),
      ...entry6(ipBytes("::ffff:224.0.0.1")!, 6881),
      ...entry6(ipBytes("::ffff:255.255.255.255")!, 6881),
    ]);
    assert.deepEqual(parseCompactPeers(b6, 18), []);
  });
});
