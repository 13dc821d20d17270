import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_MAGNET_LENGTH, MagnetError, parseMagnet } from "../../src/magnet/index.js";
import { fromHex } from "../../src/types.js";
import { B32, HEX, HEX64, throwsMagnet } from "./helpers.js";

const XT = `xt=urn:btih:${HEX}`;

describe("parseMagnet: BEP examples", () => {
  it("parses the BEP 9 v1 form", () => {
    const m = parseMagnet(
      `magnet:?${XT}&dn=NAME&tr=http%3A%2F%2Ftracker.example%2Fannounce&x.pe=10.0.0.1:6881`,
    );
    assert.deepEqual(m, {
      infoHashV1: fromHex(HEX),
      name: "NAME",
      trackers: ["http://tracker.example/announce"],
      webSeeds: [],
      peers: [{ host: "10.0.0.1", port: 6881 }],
    });
  });

  it("parses the BEP 9 v2 form", () => {
    const m = parseMagnet(`magnet:?xt=urn:btmh:1220${HEX64}&dn=NAME&x.pe=[::1]:6881`);
    assert.deepEqual(m, {
      infoHashV2: fromHex(HEX64),
      name: "NAME",
      trackers: [],
      webSeeds: [],
      peers: [{ host: "::1", port: 6881 }],
    });
  });

  it("parses the BEP 53 select-only example", () => {
    const m = parseMagnet(`magnet:?${XT}&dn=NAME&tr=TRACKER&so=0,2,4,6-8`);
    assert.deepEqual(m.selectOnly, [
      [0, 0],
      [2, 2],
      [4, 4],
      [6, 8],
    ]);
    assert.deepEqual(m.trackers, ["TRACKER"]);
  });
});

describe("parseMagnet: info-hashes", () => {
  it("gives equal bytes for hex, upper-case hex and base32 (either case)", () => {
    const a = parseMagnet(`magnet:?xt=urn:btih:${HEX}`).infoHashV1;
    const b = parseMagnet(`magnet:?xt=urn:btih:${HEX.toUpperCase()}`).infoHashV1;
    const c = parseMagnet(`magnet:?xt=urn:btih:${B32}`).infoHashV1;
    const d = parseMagnet(`magnet:?xt=urn:btih:${B32.toLowerCase()}`).infoHashV1;
    assert.equal(a?.length, 20);
    assert.deepEqual(a, b);
    assert.deepEqual(a, c);
    assert.deepEqual(a, d);
  });

  it("keeps both hashes of a hybrid magnet", () => {
    const m = parseMagnet(`magnet:?${XT}&xt=urn:btmh:1220${HEX64}`);
    assert.deepEqual(m.infoHashV1, fromHex(HEX));
    assert.deepEqual(m.infoHashV2, fromHex(HEX64));
    const reversed = parseMagnet(`magnet:?xt=urn:btmh:1220${HEX64}&${XT}`);
    assert.deepEqual(reversed, m);
  });

  it("accepts numbered xt.1 / xt.2 keys and a case-insensitive scheme and urn", () => {
    const m = parseMagnet(`MAGNET:?xt.1=URN:BTIH:${HEX}&xt.2=urn:BTMH:1220${HEX64}`);
    assert.deepEqual(m.infoHashV1, fromHex(HEX));
    assert.deepEqual(m.infoHashV2, fromHex(HEX64));
  });

  it("accepts the same btih twice, in hex and base32", () => {
    const m = parseMagnet(`magnet:?${XT}&xt=urn:btih:${B32}`);
    assert.deepEqual(m.infoHashV1, fromHex(HEX));
  });

  it("accepts a percent-encoded xt", () => {
    const m = parseMagnet(`magnet:?xt=urn%3Abtih%3A${HEX}`);
    assert.deepEqual(m.infoHashV1, fromHex(HEX));
  });

  it("ignores other exact topics next to a btih", () => {
    const m = parseMagnet(`magnet:?xt=urn:sha1:ABCDEF&${XT}&xt=urn:ed2k:1234`);
    assert.deepEqual(m.infoHashV1, fromHex(HEX));
  });
});

describe("parseMagnet: values", () => {
  it("decodes percent-encoded trackers holding & and =", () => {
    const url = "http://t.example/announce?a=1&b=2&passkey=x+y";
    const m = parseMagnet(`magnet:?${XT}&tr=${encodeURIComponent(url)}`);
    assert.deepEqual(m.trackers, [url]);
  });

  it("keeps every tr in order and drops duplicates (also after decoding)", () => {
    const m = parseMagnet(
      `magnet:?${XT}&tr=udp%3A%2F%2Fa%3A1&tr=udp://b:2&tr=udp://a:1&tr.1=udp://c:3&tr=`,
    );
    assert.deepEqual(m.trackers, ["udp://a:1", "udp://b:2", "udp://c:3"]);
  });

  it("keeps a literal + in tracker URLs but reads + as a space in dn", () => {
    const m = parseMagnet(`magnet:?${XT}&dn=Big+Buck%20Bunny%2B1&tr=http://t/a+b`);
    assert.equal(m.name, "Big Buck Bunny+1");
    assert.deepEqual(m.trackers, ["http://t/a+b"]);
  });

  it("decodes UTF-8 names", () => {
    const m = parseMagnet(`magnet:?${XT}&dn=${encodeURIComponent("日本語 ü 🎉")}`);
    assert.equal(m.name, "日本語 ü 🎉");
  });

  it("collects web seeds", () => {
    const m = parseMagnet(`magnet:?${XT}&ws=http%3A%2F%2Fw%2Ff&ws=http://w/f&ws=http://x/`);
    assert.deepEqual(m.webSeeds, ["http://w/f", "http://x/"]);
  });

  it("skips malformed x.pe and keeps good ones, deduplicated", () => {
    const m = parseMagnet(
      `magnet:?${XT}&x.pe=1.2.3.4:1&x.pe=junk&x.pe=::1:5&x.pe=%5B::1%5D:5&x.pe=h:0&x.pe=1.2.3.4:1&x.pe=`,
    );
    assert.deepEqual(m.peers, [
      { host: "1.2.3.4", port: 1 },
      { host: "::1", port: 5 },
    ]);
  });

  it("parses xl", () => {
    assert.equal(parseMagnet(`magnet:?${XT}&xl=0`).exactLength, 0);
    assert.equal(parseMagnet(`magnet:?${XT}&xl=123456789`).exactLength, 123456789);
    assert.equal(
      parseMagnet(`magnet:?${XT}&xl=${Number.MAX_SAFE_INTEGER}`).exactLength,
      Number.MAX_SAFE_INTEGER,
    );
  });

  it("lets the first dn, xl and so win", () => {
    const m = parseMagnet(`magnet:?${XT}&dn=a&dn=b&xl=1&xl=2&so=1&so=2`);
    assert.equal(m.name, "a");
    assert.equal(m.exactLength, 1);
    assert.deepEqual(m.selectOnly, [[1, 1]]);
  });

  it("treats an empty dn as absent", () => {
    assert.equal("name" in parseMagnet(`magnet:?${XT}&dn=`), false);
  });

  it("ignores unknown parameters, even with bad escapes, and empty segments", () => {
    const m = parseMagnet(`magnet:?&&${XT}&kt=a+b&x.foo=%zz&as=%&xs=1&novalue&`);
    assert.deepEqual(m, { infoHashV1: fromHex(HEX), trackers: [], webSeeds: [], peers: [] });
  });

  it("accepts a magnet of exactly the maximum length", () => {
    const base = `magnet:?${XT}&x=`;
    const uri = base + "a".repeat(MAX_MAGNET_LENGTH - base.length);
    assert.equal(uri.length, MAX_MAGNET_LENGTH);
    assert.deepEqual(parseMagnet(uri).infoHashV1, fromHex(HEX));
  });
});

describe("parseMagnet: errors", () => {
  it("rejects input over the length cap before parsing", () => {
    throwsMagnet(
      () => parseMagnet(`magnet:?${XT}&x=${"a".repeat(MAX_MAGNET_LENGTH)}`),
      "MAGNET_TOO_LONG",
    );
    throwsMagnet(() => parseMagnet("x".repeat(MAX_MAGNET_LENGTH + 1)), "MAGNET_TOO_LONG");
  });

  it("rejects a wrong scheme", () => {
    for (const s of ["", "magnet:", `magnet:${XT}`, `http://x/?${XT}`, ` magnet:?${XT}`, HEX]) {
      throwsMagnet(() => parseMagnet(s), "MAGNET_BAD_SCHEME", "magnet:?");
    }
    throwsMagnet(() => parseMagnet(42 as unknown as string), "MAGNET_BAD_SCHEME");
  });

  it("rejects malformed percent-escapes with a MagnetError naming the parameter", () => {
    const cases: Array<[string, string]> = [
      ["tr=%zz", "tr"],
      ["tr=%", "tr"],
      ["dn=%E", "dn"],
      ["dn=%FF", "dn"],
      ["ws=%ED%A0%80", "ws"],
      ["x.pe=%G0", "x.pe"],
      ["so=%", "so"],
      ["xl=1%", "xl"],
    ];
    for (const [param, name] of cases) {
      assert.throws(
        () => parseMagnet(`magnet:?${XT}&${param}`),
        (e: unknown) =>
          e instanceof MagnetError &&
          e.code === "MAGNET_BAD_ENCODING" &&
          e.param === name &&
          e.message.startsWith(`${name}:`) &&
          !(e instanceof URIError),
      );
    }
    throwsMagnet(() => parseMagnet(`magnet:?xt=urn:btih:%${HEX}`), "MAGNET_BAD_ENCODING", "xt");
  });

  it("requires an xt with a btih or btmh hash", () => {
    throwsMagnet(() => parseMagnet("magnet:?"), "MAGNET_NO_INFOHASH", "no xt");
    throwsMagnet(() => parseMagnet("magnet:?dn=x&tr=udp://a:1"), "MAGNET_NO_INFOHASH", "no xt");
    throwsMagnet(
      () => parseMagnet("magnet:?xt=urn:sha1:ABC&xt=urn:ed2k:DEF"),
      "MAGNET_NO_INFOHASH",
      "urn:sha1:, urn:ed2k:",
    );
    throwsMagnet(() => parseMagnet("magnet:?xt="), "MAGNET_NO_INFOHASH", "xt");
  });

  it("rejects malformed btih hashes", () => {
    for (const h of [
      "",
      HEX.slice(1),
      `${HEX}0`,
      `${HEX.slice(1)}g`,
      B32.slice(1),
      `${B32.slice(1)}1`,
    ]) {
      throwsMagnet(
        () => parseMagnet(`magnet:?xt=urn:btih:${h}`),
        "MAGNET_BAD_INFOHASH",
        "xt: urn:btih",
      );
    }
    throwsMagnet(() => parseMagnet(`magnet:?xt.3=urn:btih:abc`), "MAGNET_BAD_INFOHASH", "xt.3");
  });

  it("rejects malformed btmh hashes and other multihash codes", () => {
    for (const h of [
      "",
      "12",
      "1220",
      `1220${HEX64.slice(2)}`,
      `1220${HEX64}00`,
      `1220${HEX64.slice(1)}x`,
      "xyz",
    ]) {
      throwsMagnet(
        () => parseMagnet(`magnet:?xt=urn:btmh:${h}`),
        "MAGNET_BAD_INFOHASH",
        "urn:btmh",
      );
    }
    // sha1 (0x11), sha2-512 (0x13), blake2b-256 (0xb220), and sha2-256 with a wrong length byte.
    for (const h of [`1114${HEX}`, `1340${HEX64}${HEX64}`, `b220${HEX64}`, `1214${HEX}`]) {
      throwsMagnet(
        () => parseMagnet(`magnet:?xt=urn:btmh:${h}`),
        "MAGNET_UNSUPPORTED_MULTIHASH",
        "not sha2-256",
      );
    }
  });

  it("rejects two different hashes of the same kind", () => {
    const other = "0".repeat(40);
    throwsMagnet(
      () => parseMagnet(`magnet:?${XT}&xt=urn:btih:${other}`),
      "MAGNET_CONFLICTING_INFOHASH",
      "btih",
    );
    throwsMagnet(
      () => parseMagnet(`magnet:?xt.1=urn:btmh:1220${HEX64}&xt.2=urn:btmh:1220${"0".repeat(64)}`),
      "MAGNET_CONFLICTING_INFOHASH",
      "xt.2",
    );
  });

  it("rejects bad so ranges", () => {
    for (const so of [
      "",
      "6-4",
      "a",
      "1,,2",
      "1,",
      ",1",
      "1-",
      "-1",
      "1-2-3",
      " 1",
      "1.5",
      "99999999999999999999",
      "0x1",
    ]) {
      throwsMagnet(() => parseMagnet(`magnet:?${XT}&so=${so}`), "MAGNET_BAD_SELECT_ONLY", "so:");
    }
    throwsMagnet(
      () => parseMagnet(`magnet:?${XT}&so=6-4`),
      "MAGNET_BAD_SELECT_ONLY",
      "reversed range 6-4",
    );
  });

  it("rejects a bad xl", () => {
    for (const xl of ["", "-1", "1.5", "1e3", "abc", " 1", "9007199254740992"]) {
      throwsMagnet(() => parseMagnet(`magnet:?${XT}&xl=${xl}`), "MAGNET_BAD_EXACT_LENGTH", "xl:");
    }
  });
});
