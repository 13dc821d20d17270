import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { formatMagnet, MagnetError, type MagnetLink, parseMagnet } from "../../src/magnet/index.js";
import { fromHex, type InfoHashV1, type InfoHashV2 } from "../../src/types.js";
import { B32, HEX, HEX64, throwsMagnet } from "./helpers.js";

const v1 = fromHex(HEX) as InfoHashV1;
const v2 = fromHex(HEX64) as InfoHashV2;

describe("formatMagnet", () => {
  it("writes v1 as 40 lower-case hex and v2 as a 1220 multihash", () => {
    const s = formatMagnet({
      infoHashV1: v1,
      infoHashV2: v2,
      trackers: [],
      webSeeds: [],
      peers: [],
    });
    assert.equal(s, `magnet:?xt=urn:btih:${HEX}&xt=urn:btmh:1220${HEX64}`);
  });

  it("normalises a base32 magnet to hex", () => {
    assert.equal(
      formatMagnet(parseMagnet(`magnet:?xt=urn:btih:${B32}`)),
      `magnet:?xt=urn:btih:${HEX}`,
    );
  });

  it("encodes every field and round-trips", () => {
    const m: MagnetLink = {
      infoHashV1: v1,
      name: "a b+c&d=e%f 日本",
      trackers: ["http://t.example/ann?a=1&b=2", "udp://u:80"],
      webSeeds: ["https://w.example/f+g"],
      peers: [
        { host: "1.2.3.4", port: 6881 },
        { host: "::1", port: 1 },
        { host: "peer.example", port: 65535 },
      ],
      selectOnly: [
        [4, 6],
        [0, 0],
      ],
      exactLength: 1234,
    };
    const s = formatMagnet(m);
    assert.equal(
      s,
      `magnet:?xt=urn:btih:${HEX}&dn=a%20b%2Bc%26d%3De%25f%20%E6%97%A5%E6%9C%AC&xl=1234` +
        "&tr=http%3A%2F%2Ft.example%2Fann%3Fa%3D1%26b%3D2&tr=udp%3A%2F%2Fu%3A80" +
        "&ws=https%3A%2F%2Fw.example%2Ff%2Bg" +
        "&x.pe=1.2.3.4%3A6881&x.pe=%5B%3A%3A1%5D%3A1&x.pe=peer.example%3A65535&so=4-6,0",
    );
    assert.deepEqual(parseMagnet(s), m);
  });

  it("omits an empty name", () => {
    const s = formatMagnet({ infoHashV1: v1, name: "", trackers: [], webSeeds: [], peers: [] });
    assert.equal(s, `magnet:?xt=urn:btih:${HEX}`);
  });

  it("refuses links that would not parse back", () => {
    const base = { trackers: [], webSeeds: [], peers: [] };
    throwsMagnet(() => formatMagnet(base), "MAGNET_NO_INFOHASH", "xt");
    throwsMagnet(
      () => formatMagnet({ ...base, infoHashV1: new Uint8Array(19) as InfoHashV1 }),
      "MAGNET_BAD_INFOHASH",
    );
    throwsMagnet(
      () => formatMagnet({ ...base, infoHashV2: new Uint8Array(20) as InfoHashV2 }),
      "MAGNET_BAD_INFOHASH",
    );
    for (const exactLength of [-1, 1.5, Number.NaN, 2 ** 53]) {
      throwsMagnet(
        () => formatMagnet({ ...base, infoHashV1: v1, exactLength }),
        "MAGNET_BAD_EXACT_LENGTH",
        "xl",
      );
    }
    for (const selectOnly of [[], [[3, 2]], [[-1, 0]], [[0, 0.5]]] as Array<
      Array<[number, number]>
    >) {
      throwsMagnet(
        () => formatMagnet({ ...base, infoHashV1: v1, selectOnly }),
        "MAGNET_BAD_SELECT_ONLY",
        "so",
      );
    }
    throwsMagnet(
      () => formatMagnet({ ...base, infoHashV1: v1, name: "\ud800" }),
      "MAGNET_BAD_ENCODING",
      "dn",
    );
  });
});

const nonEmpty = fc.string({ unit: "binary", minLength: 1, maxLength: 30 });
const uniqueStrings = fc.uniqueArray(nonEmpty, { maxLength: 4 });
const peer = fc
  .tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()), fc.integer({ min: 1, max: 65535 }))
  .map(([host, port]) => ({ host, port }));
const range = fc
  .tuple(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 1000 }))
  .map(([a, len]): [number, number] => [a, a + len]);

/** Arbitrary well-formed links: what parseMagnet can produce. */
const magnetLink: fc.Arbitrary<MagnetLink> = fc
  .record(
    {
      infoHashV1: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => b as InfoHashV1),
      infoHashV2: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => b as InfoHashV2),
      name: nonEmpty,
      trackers: uniqueStrings,
      webSeeds: uniqueStrings,
      // Deduplicate on the formatted form, as parsing does.
      peers: fc.uniqueArray(peer, {
        maxLength: 4,
        selector: (p) => (p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`),
      }),
      selectOnly: fc.array(range, { minLength: 1, maxLength: 5 }),
      exactLength: fc.maxSafeNat(),
    },
    { requiredKeys: ["trackers", "webSeeds", "peers"] },
  )
  .filter((m) => m.infoHashV1 !== undefined || m.infoHashV2 !== undefined)
  // fc.record builds null-prototype objects; deepStrictEqual would see that as a difference.
  .map((m) => ({ ...m }));

/** Random strings shaped like magnets, so the property reaches deep into the parser. */
const keys = ["xt", "xt.1", "dn", "tr", "tr.2", "ws", "x.pe", "so", "xl", "kt", "XT", ""];
const values = fc.oneof(
  fc.string({ unit: "binary-ascii", maxLength: 20 }),
  fc.constantFrom(
    `urn:btih:${HEX}`,
    `urn:btih:${B32}`,
    `urn:btmh:1220${HEX64}`,
    "urn:btmh:1114",
    "%",
    "%zz",
    "%FF",
    "0,2,4-6",
    "6-4",
    "[::1]:1",
  ),
  fc.stringMatching(/^[0-9a-fA-F%:,\-[\]]{0,70}$/),
);
const magnetish = fc
  .array(fc.tuple(fc.constantFrom(...keys), values), { maxLength: 8 })
  .map((pairs) => `magnet:?${pairs.map(([k, v]) => `${k}=${v}`).join("&")}`);

describe("formatMagnet / parseMagnet properties", () => {
  it("parseMagnet(formatMagnet(m)) deep-equals m", () => {
    fc.assert(
      fc.property(magnetLink, (m) => {
        assert.deepEqual(parseMagnet(formatMagnet(m)), m);
      }),
      { numRuns: 500 },
    );
  });

  it("formatMagnet(parseMagnet(s)) is a fixed point", () => {
    fc.assert(
      fc.property(magnetLink, (m) => {
        const s = formatMagnet(m);
        assert.equal(formatMagnet(parseMagnet(s)), s);
      }),
      { numRuns: 200 },
    );
  });

  it("random strings only ever throw MagnetError", () => {
    const onlyMagnetErrors = (s: string) => {
      try {
        parseMagnet(s);
      } catch (e) {
        assert.ok(e instanceof MagnetError, `${String(e)} for ${JSON.stringify(s)}`);
      }
    };
    fc.assert(fc.property(fc.string({ unit: "binary" }), onlyMagnetErrors), { numRuns: 1000 });
    fc.assert(
      fc.property(
        fc.string({ unit: "binary-ascii" }).map((s) => `magnet:?${s}`),
        onlyMagnetErrors,
      ),
      { numRuns: 1000 },
    );
    fc.assert(fc.property(magnetish, onlyMagnetErrors), { numRuns: 3000 });
  });
});
