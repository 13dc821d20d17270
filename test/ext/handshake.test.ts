import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "../../src/bencode/index.js";
import {
  decodeExtHandshake,
  encodeExtHandshake,
  MAX_CLIENT_NAME_LENGTH,
  MAX_EXT_HANDSHAKE_LENGTH,
  MAX_REQQ,
} from "../../src/ext/index.js";
import { b, onlyExtErrors, throwsExt } from "./helpers.js";

describe("extension handshake: decode", () => {
  it("parses the BEP 10 example", () => {
    const h = decodeExtHandshake(
      b("d1:md11:LT_metadatai1e6:\xb5T_PEXi2ee1:pi6881e1:v13:\xc2\xb5Torrent 1.2e"),
    );
    assert.deepEqual(
      [...h.m],
      [
        ["LT_metadata", 1],
        ["\xb5T_PEX", 2],
      ],
    );
    assert.equal(h.port, 6881);
    assert.equal(h.client, "µTorrent 1.2");
    assert.deepEqual(h.ignored, []);
  });

  it("parses every field we know", () => {
    const h = decodeExtHandshake(
      encode({
        m: { ut_metadata: 3, ut_pex: 1, lt_donthave: 0 },
        p: 51413,
        reqq: 250,
        yourip: Uint8Array.of(10, 0, 0, 1),
        ipv4: Uint8Array.of(192, 168, 1, 2),
        ipv6: Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
        metadata_size: 31235,
        upload_only: 1,
        e: 1,
        complete_ago: 5,
        unknown_key: "x",
      }),
    );
    assert.deepEqual(
      [...h.m],
      [
        ["lt_donthave", 0],
        ["ut_metadata", 3],
        ["ut_pex", 1],
      ],
    );
    assert.equal(h.port, 51413);
    assert.equal(h.reqq, 250);
    assert.equal(h.yourIp, "10.0.0.1");
    assert.equal(h.ipv4, "192.168.1.2");
    assert.equal(h.ipv6, "2001:db8::1");
    assert.equal(h.metadataSize, 31235);
    assert.equal(h.uploadOnly, true);
    assert.equal(h.encryption, true);
    assert.deepEqual(h.ignored, []);
  });

  it("gives an IPv4-mapped yourip as IPv4, and a 16-byte one as IPv6", () => {
    const mapped = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4);
    assert.equal(decodeExtHandshake(encode({ yourip: mapped })).yourIp, "1.2.3.4");
    const v6 = new Uint8Array(16);
    v6[15] = 1;
    assert.equal(decodeExtHandshake(encode({ yourip: v6 })).yourIp, "::1");
  });

  it("ignores fields of the wrong type or range and names them", () => {
    const h = decodeExtHandshake(
      encode({
        m: { a: -1, b: 256, c: "x", d: 7, e: 2n ** 70n },
        p: 0,
        reqq: -5,
        v: 5,
        yourip: Uint8Array.of(1, 2, 3, 4, 5, 6),
        ipv4: Uint8Array.of(1, 2, 3),
        ipv6: Uint8Array.of(1, 2, 3, 4),
        metadata_size: 0,
        upload_only: "yes",
        e: "no",
      }),
    );
    assert.deepEqual([...h.m], [["d", 7]]);
    assert.deepEqual(
      [...h.ignored].sort(),
      [
        "e",
        "ipv4",
        "ipv6",
        "m.a",
        "m.b",
        "m.c",
        "m.e",
        "metadata_size",
        "p",
        "reqq",
        "upload_only",
        "v",
        "yourip",
      ].sort(),
    );
    assert.equal(h.port, undefined);
    assert.equal(h.reqq, undefined);
    assert.equal(h.client, undefined);
    assert.equal(h.yourIp, undefined);
    assert.equal(h.metadataSize, undefined);
    assert.equal(h.uploadOnly, undefined);
  });

  it("ignores an m that is not a dictionary", () => {
    const h = decodeExtHandshake(encode({ m: [1, 2], p: 1 }));
    assert.equal(h.m.size, 0);
    assert.deepEqual(h.ignored, ["m"]);
    assert.equal(h.port, 1);
  });

  it("clamps reqq, cuts a long client name, ignores huge metadata_size integers", () => {
    const h = decodeExtHandshake(
      encode({ reqq: 10_000_000, v: "x".repeat(1000), metadata_size: 2n ** 64n }),
    );
    assert.equal(h.reqq, MAX_REQQ);
    assert.equal(h.client?.length, MAX_CLIENT_NAME_LENGTH);
    assert.equal(h.metadataSize, undefined);
    assert.deepEqual(h.ignored, ["metadata_size"]);
  });

  it("treats upload_only 0 as false", () => {
    assert.equal(decodeExtHandshake(encode({ upload_only: 0 })).uploadOnly, false);
  });

  it("keeps a __proto__ name as a plain map key", () => {
    const h = decodeExtHandshake(b("d1:md9:__proto__i5eee"));
    assert.equal(h.m.get("__proto__"), 5);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it("refuses non-dictionaries, junk, trailing bytes and oversize payloads", () => {
    throwsExt(() => decodeExtHandshake(b("li1ee")), "EXT_BAD_HANDSHAKE");
    throwsExt(() => decodeExtHandshake(b("i1e")), "EXT_BAD_HANDSHAKE");
    throwsExt(() => decodeExtHandshake(b("")), "EXT_BAD_HANDSHAKE");
    throwsExt(() => decodeExtHandshake(b("d1:pi1e")), "EXT_BAD_HANDSHAKE");
    throwsExt(() => decodeExtHandshake(b("de ")), "EXT_BAD_HANDSHAKE");
    throwsExt(() => decodeExtHandshake(b("d1:pi01ee")), "EXT_BAD_HANDSHAKE");
    const big = encode({ v: "x".repeat(MAX_EXT_HANDSHAKE_LENGTH) });
    throwsExt(() => decodeExtHandshake(big), "EXT_HANDSHAKE_TOO_LONG");
  });

  it("refuses a handshake with too many tokens", () => {
    const list = `l${"i1e".repeat(5000)}e`;
    throwsExt(() => decodeExtHandshake(b(`d1:x${list}e`)), "EXT_BAD_HANDSHAKE");
  });
});

describe("extension handshake: encode", () => {
  it("writes every field canonically", () => {
    const bytes = encodeExtHandshake({
      m: new Map([
        ["ut_pex", 1],
        ["ut_metadata", 2],
      ]),
      client: "Tessera 0.1.0",
      port: 6881,
      reqq: 500,
      yourIp: "::ffff:10.1.2.3",
      ipv4: "1.2.3.4",
      ipv6: "2001:db8::2",
      metadataSize: 1234,
      uploadOnly: true,
    });
    const h = decodeExtHandshake(bytes);
    assert.equal(h.yourIp, "10.1.2.3");
    assert.equal(h.client, "Tessera 0.1.0");
    assert.equal(h.ipv6, "2001:db8::2");
    assert.equal(h.ipv4, "1.2.3.4");
    assert.equal(h.metadataSize, 1234);
    assert.equal(h.reqq, 500);
    assert.equal(h.uploadOnly, true);
    assert.deepEqual(h.ignored, []);
    assert.ok(
      new TextDecoder().decode(bytes).startsWith("d4:ipv44:"),
      "keys are sorted (canonical bencode)",
    );
  });

  it("encodes an empty handshake as an empty dictionary", () => {
    assert.deepEqual(encodeExtHandshake({}), b("de"));
  });

  it("throws RangeError on our own bad arguments", () => {
    assert.throws(() => encodeExtHandshake({ m: new Map([["x", 256]]) }), RangeError);
    assert.throws(() => encodeExtHandshake({ port: 0 }), RangeError);
    assert.throws(() => encodeExtHandshake({ yourIp: "example.org" }), RangeError);
    assert.throws(() => encodeExtHandshake({ ipv4: "::1" }), RangeError);
    assert.throws(() => encodeExtHandshake({ ipv6: "1.2.3.4" }), RangeError);
    assert.throws(() => encodeExtHandshake({ reqq: 0 }), RangeError);
  });

  it("round-trips (property)", () => {
    const ipv4 = fc
      .tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255))
      .map((o) => o.join("."));
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^[\x20-\x7e]+$/.test(s)),
          fc.nat(255),
          { maxKeys: 6 },
        ),
        fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: MAX_REQQ }), { nil: undefined }),
        fc.option(ipv4, { nil: undefined }),
        fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
        fc.option(fc.boolean(), { nil: undefined }),
        (m, client, port, reqq, yourIp, metadataSize, uploadOnly) => {
          const map = new Map(Object.entries(m));
          const h = decodeExtHandshake(
            encodeExtHandshake({ m: map, client, port, reqq, yourIp, metadataSize, uploadOnly }),
          );
          assert.deepEqual(new Map([...h.m].sort()), new Map([...map].sort()));
          assert.equal(h.client, client?.slice(0, MAX_CLIENT_NAME_LENGTH));
          assert.equal(h.port, port);
          assert.equal(h.reqq, reqq);
          assert.equal(h.yourIp, yourIp);
          assert.equal(h.metadataSize, metadataSize);
          assert.equal(h.uploadOnly, uploadOnly);
        },
      ),
    );
  });

  it("never throws anything but ExtError on random bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        onlyExtErrors(() => decodeExtHandshake(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws anything but ExtError on random bencoded dictionaries (property)", () => {
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        fc.integer(),
        fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
        fc.uint8Array({ maxLength: 20 }),
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 5 }), tie("v"), { maxKeys: 3 }),
      ),
    })).v;
    const keys = fc.constantFrom(
      "m",
      "p",
      "v",
      "reqq",
      "yourip",
      "ipv4",
      "ipv6",
      "metadata_size",
      "upload_only",
      "e",
    );
    fc.assert(
      fc.property(fc.dictionary(keys, value, { maxKeys: 6 }), (d) => {
        // biome-ignore lint/suspicious/noExplicitAny: arbitrary bencodable values
        onlyExtErrors(() => decodeExtHandshake(encode(d as any)));
      }),
      { numRuns: 1000 },
    );
  });
});
