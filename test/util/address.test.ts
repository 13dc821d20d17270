import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  AddressError,
  formatHostPort,
  isHostname,
  isIPv4Literal,
  isIPv6Literal,
  MAX_ADDRESS_LENGTH,
  parseHostPort,
} from "../../src/util/address.js";

function rejects(s: string, pattern?: RegExp): void {
  assert.throws(
    () => parseHostPort(s),
    (e: unknown) =>
      e instanceof AddressError &&
      e.code === "ADDRESS_INVALID" &&
      (pattern === undefined || pattern.test(e.message)),
    `expected AddressError for ${JSON.stringify(s)}`,
  );
}

describe("parseHostPort", () => {
  it("parses IPv4, bracketed IPv6 and hostnames", () => {
    assert.deepEqual(parseHostPort("1.2.3.4:6881"), { host: "1.2.3.4", port: 6881 });
    assert.deepEqual(parseHostPort("[::1]:6881"), { host: "::1", port: 6881 });
    assert.deepEqual(parseHostPort("[2001:db8::7]:1"), { host: "2001:db8::7", port: 1 });
    assert.deepEqual(parseHostPort("[::ffff:10.0.0.1]:65535"), {
      host: "::ffff:10.0.0.1",
      port: 65535,
    });
    assert.deepEqual(parseHostPort("host.name:6881"), { host: "host.name", port: 6881 });
    assert.deepEqual(parseHostPort("localhost:80"), { host: "localhost", port: 80 });
    assert.deepEqual(parseHostPort("my-peer_1.example.org:443"), {
      host: "my-peer_1.example.org",
      port: 443,
    });
  });

  it("rejects an empty host", () => {
    rejects(":6881", /empty host/);
    rejects("[]:6881", /IPv6/);
  });

  it("rejects a missing or non-numeric port", () => {
    rejects("1.2.3.4", /no port/);
    rejects("1.2.3.4:", /no port/);
    rejects("[::1]", /no port/);
    rejects("[::1]6881", /no port/);
    rejects("host:abc", /non-numeric/);
    rejects("host:+1", /non-numeric/);
    rejects("host:-1", /non-numeric/);
    rejects("host:1.5", /non-numeric/);
    rejects("host: 80", /non-numeric/);
    rejects("host:123456", /non-numeric/);
  });

  it("rejects port 0 and ports above 65535", () => {
    rejects("1.2.3.4:0", /outside/);
    rejects("1.2.3.4:00000", /outside/);
    rejects("1.2.3.4:65536", /outside/);
    rejects("[::1]:99999", /outside/);
  });

  it("rejects unbracketed IPv6", () => {
    rejects("::1:6881", /brackets/);
    rejects("2001:db8::7:80", /brackets/);
  });

  it("rejects junk", () => {
    for (const s of [
      "",
      "junk",
      "[::1",
      "[1.2.3.4]:80",
      "[::1%eth0]:80",
      "[:::]:80",
      "[1:2:3:4:5:6:7:8:9]:80",
      "[1:2:3:4:5:6:7]:80",
      "[g::1]:80",
      "1.2.3.256:80",
      "01.2.3.4:80",
      "123:80",
      "a..b:80",
      "-a.b:80",
      "a b:80",
      "a/b:80",
      "ex\u00e4mple.org:80",
      `${"a".repeat(64)}.org:80`,
      "x".repeat(MAX_ADDRESS_LENGTH + 1),
    ]) {
      rejects(s);
    }
  });

  it("only ever throws AddressError on random input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary-ascii", maxLength: 80 }), (s) => {
        try {
          parseHostPort(s);
        } catch (e) {
          assert.ok(e instanceof AddressError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe("formatHostPort", () => {
  it("brackets IPv6 hosts only", () => {
    assert.equal(formatHostPort({ host: "::1", port: 6881 }), "[::1]:6881");
    assert.equal(formatHostPort({ host: "1.2.3.4", port: 6881 }), "1.2.3.4:6881");
    assert.equal(formatHostPort({ host: "host.name", port: 1 }), "host.name:1");
  });

  it("round-trips through parseHostPort", () => {
    for (const s of ["1.2.3.4:6881", "[::1]:6881", "[fe80::1:2]:80", "peer.example:51413"]) {
      assert.equal(formatHostPort(parseHostPort(s)), s);
    }
    fc.assert(
      fc.property(
        fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()),
        fc.integer({ min: 1, max: 65535 }),
        (host, port) => {
          const a = { host, port };
          assert.deepEqual(parseHostPort(formatHostPort(a)), a);
        },
      ),
    );
  });
});

describe("literal checks", () => {
  it("classifies IPv4, IPv6 and hostnames", () => {
    assert.ok(isIPv4Literal("255.255.255.255"));
    assert.ok(!isIPv4Literal("1.2.3"));
    assert.ok(isIPv6Literal("::"));
    assert.ok(isIPv6Literal("1:2:3:4:5:6:7:8"));
    assert.ok(isIPv6Literal("1::8"));
    assert.ok(!isIPv6Literal("1:2:3:4:5:6:7:8::"));
    assert.ok(!isIPv6Literal("1::2::3"));
    assert.ok(!isIPv6Literal("1.2.3.4"));
    assert.ok(!isIPv6Literal("::1.2.3.4:5"));
    assert.ok(isHostname("a.b.c"));
    assert.ok(!isHostname("a.b."));
    assert.ok(!isHostname("1.2.3.4"));
  });
});
