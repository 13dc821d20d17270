/** Fuzz target: magnet URIs and torrent ids (parseMagnet, parseTorrentId, formatMagnet). */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeBase32,
  formatMagnet,
  MAX_MAGNET_LENGTH,
  MagnetError,
  type MagnetLink,
  parseMagnet,
  parseTorrentId,
} from "../../../src/magnet/index.js";
import { type FuzzTarget, jsonCodec } from "../engine.js";

/** Any UTF-16 code units, lone surrogates included (fc.string's "binary" unit takes 1 s to build). */
const codeUnits = (maxLength: number) =>
  fc
    .array(fc.integer({ min: 0, max: 0xffff }), { maxLength, size: "medium" })
    .map((cs) => String.fromCharCode(...cs));

const hex = (n: number) =>
  fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString("hex"));

const hash = fc.oneof(
  hex(20),
  hex(20).map((h) => h.toUpperCase()),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map(encodeBase32),
  fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => encodeBase32(b).toLowerCase()),
  hex(19),
  hex(21),
  fc.string({ maxLength: 42 }),
);

const xt = fc.oneof(
  { weight: 4, arbitrary: hash.map((h) => `urn:btih:${h}`) },
  { weight: 2, arbitrary: hex(32).map((h) => `urn:btmh:1220${h}`) },
  { weight: 1, arbitrary: fc.tuple(hex(2), hex(33)).map(([p, h]) => `urn:btmh:${p}${h}`) },
  {
    weight: 1,
    arbitrary: fc.constantFrom("urn:sha1:ABC", "urn:ed2k:x", "", "urn:btih:", "URN:BTIH:"),
  },
);

const address = fc.oneof(
  fc.constantFrom(
    "1.2.3.4:6881",
    "[::1]:51413",
    "host.example:1",
    "[fe80::1%eth0]:1",
    ":1",
    "a:0",
    "a:99999",
    "1.2.3.256:5",
    "[::1]",
  ),
  fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 70000 })).map(([h, p]) => `${h}:${p}`),
  fc.tuple(fc.ipV6(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `[${h}]:${p}`),
  fc.tuple(fc.domain(), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}:${p}`),
);

const selectOnly = fc.oneof(
  fc
    .array(fc.tuple(fc.nat(50), fc.nat(5)), { minLength: 1, maxLength: 5 })
    .map((rs) => rs.map(([a, n]) => (n === 0 ? `${a}` : `${a}-${a + n}`)).join(",")),
  fc.constantFrom(
    "",
    ",",
    "1,",
    "5-3",
    "a",
    "1-",
    "-1",
    "99999999999999999999",
    "0-9007199254740992",
  ),
);

/** Tracker and web-seed URLs (fc.webUrl costs most of a second just to construct). */
const url = fc.oneof(
  fc.constantFrom(
    "udp://tracker.example:1337/announce",
    "http://t.example/announce?passkey=a&b=c",
    "https://[::1]:8080/a b",
    "wss://t/+plus",
    "",
  ),
  fc
    .tuple(fc.constantFrom("http", "udp", "ws"), fc.string({ maxLength: 10 }))
    .map(([s, p]) => `${s}://${p}`),
);

const param = fc.oneof(
  { weight: 5, arbitrary: xt.map((v) => ["xt", v] as const) },
  { weight: 2, arbitrary: fc.string({ maxLength: 12 }).map((v) => ["dn", v] as const) },
  { weight: 2, arbitrary: url.map((v) => ["tr", v] as const) },
  { weight: 1, arbitrary: url.map((v) => ["ws", v] as const) },
  { weight: 2, arbitrary: address.map((v) => ["x.pe", v] as const) },
  { weight: 1, arbitrary: selectOnly.map((v) => ["so", v] as const) },
  {
    weight: 1,
    arbitrary: fc
      .oneof(fc.nat().map(String), fc.constantFrom("-1", "1.5", "9007199254740992", "", "0x10"))
      .map((v) => ["xl", v] as const),
  },
  { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 4 }), fc.string({ maxLength: 8 })) },
);

/** How a value is written: raw, percent-encoded (any case), with `+`, or with broken escapes. */
const encoding = fc.constantFrom("raw", "encode", "encode-all", "lower", "plus", "broken", "lone");

function encodeValue(v: string, how: string): string {
  switch (how) {
    case "raw":
      return v;
    case "encode":
      return safeEncode(v);
    case "encode-all":
      return [...Buffer.from(v)]
        .map((b) => `%${b.toString(16).padStart(2, "0").toUpperCase()}`)
        .join("");
    case "lower":
      return safeEncode(v).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
    case "plus":
      return safeEncode(v).replaceAll("%20", "+");
    case "broken":
      return `${safeEncode(v)}%${v.length % 2 === 0 ? "G1" : ""}`;
    default:
      // A UTF-8 lead byte without its continuation: not UTF-8 once decoded.
      return `${safeEncode(v)}%C3`;
  }
}

function safeEncode(v: string): string {
  try {
    return encodeURIComponent(v);
  } catch {
    return v;
  }
}

const structured = fc
  .tuple(
    fc.constantFrom("magnet:?", "MAGNET:?", "Magnet:?", "magnet:", "magnet:?&"),
    fc.array(fc.tuple(param, encoding, fc.option(fc.nat(3), { nil: undefined }), fc.boolean()), {
      minLength: 1,
      maxLength: 8,
    }),
  )
  .map(
    ([scheme, ps]) =>
      scheme +
      ps
        .map(([[k, v], how, num, upper]) => {
          const key = `${upper ? k.toUpperCase() : k}${num !== undefined ? `.${num}` : ""}`;
          return `${key}=${encodeValue(v, how)}`;
        })
        .join("&"),
  );

/** Character-level edits of a magnet URI. */
const mutated = fc
  .tuple(
    structured,
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.oneof(
          fc.constantFrom(
            "%",
            "&",
            "=",
            "+",
            "#",
            "%%",
            "%C3%",
            "&&",
            "=&=",
            ".1",
            "\u0000",
            "\ud800",
          ),
          fc.string({ unit: "grapheme", maxLength: 3 }),
        ),
        fc.constantFrom("insert", "replace", "delete"),
      ),
      { minLength: 1, maxLength: 4 },
    ),
  )
  .map(([s, edits]) =>
    edits.reduce((acc, [at, text, op]) => {
      const i = at % (acc.length + 1);
      if (op === "insert") return acc.slice(0, i) + text + acc.slice(i);
      if (op === "replace") return acc.slice(0, i) + text + acc.slice(i + text.length);
      return acc.slice(0, i) + acc.slice(i + text.length);
    }, s),
  );

const torrentId = fc.oneof(
  hash.map((h) => h),
  fc
    .tuple(fc.constantFrom(" ", "\t", "\n", ""), hash, fc.constantFrom(" ", "\r\n", ""))
    .map((p) => p.join("")),
  hex(32),
  fc.string({ maxLength: 70 }),
);

/** Around the length cap: the check must come before any work. */
const long = fc
  .tuple(
    fc.integer({ min: MAX_MAGNET_LENGTH - 50, max: MAX_MAGNET_LENGTH + 50 }),
    fc.constantFrom("tr=x&", "%", "&", "a"),
  )
  .map(([n, unit]) => `magnet:?xt=urn:btih:${"a".repeat(40)}&${unit.repeat(n)}`.slice(0, n));

function checkLink(link: MagnetLink): void {
  assert.ok(link.infoHashV1 !== undefined || link.infoHashV2 !== undefined, "no info-hash");
  if (link.infoHashV1 !== undefined) assert.equal(link.infoHashV1.length, 20);
  if (link.infoHashV2 !== undefined) assert.equal(link.infoHashV2.length, 32);
  let text: string;
  try {
    text = formatMagnet(link);
  } catch (e) {
    // A lone surrogate taken raw from the input cannot be percent-encoded: a typed refusal.
    assert.ok(e instanceof MagnetError && e.code === "MAGNET_BAD_ENCODING", String(e));
    return;
  }
  assert.deepEqual(norm(parseMagnet(text)), norm(link), `format/parse round-trip: ${text}`);
}

const norm = (l: MagnetLink) =>
  JSON.parse(
    JSON.stringify(l, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString("hex") : v)),
  );

export const magnetTarget: FuzzTarget<string> = {
  name: "magnet",
  errors: [MagnetError],
  codec: jsonCodec<string>(),
  quickRuns: 400,
  size: (s) => s.length,
  generators: [
    { name: "structured", arb: structured, weight: 2 },
    { name: "mutated", arb: mutated, weight: 2 },
    { name: "torrent-id", arb: torrentId },
    {
      name: "random",
      arb: fc.oneof(
        codeUnits(200),
        fc.string({ maxLength: 200 }).map((s) => `magnet:?${s}`),
      ),
    },
    { name: "long", arb: long, weight: 0.2 },
  ],
  run(input) {
    checkLink(parseTorrentId(input));
    if (/^magnet:/i.test(input)) checkLink(parseMagnet(input));
  },
};
