import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { type Encodable, encode } from "../../src/bencode/index.js";
import { MAX_TRACKER_TEXT, TrackerError } from "../../src/tracker/errors.js";
import {
  buildAnnounceUrl,
  buildScrapeUrl,
  parseAnnounceBody,
  parseScrapeBody,
  percentEncodeBytes,
  scrapeUrlOf,
} from "../../src/tracker/http-codec.js";
import { ipBytes, isDialable, MAX_PEERS_PER_REPLY } from "../../src/tracker/peers.js";
import {
  compact4,
  INFO_HASH,
  PEER_ID,
  param,
  percentDecode,
  rawParams,
  request,
  throwsTracker,
} from "./helpers.js";

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~";
const b = (s: string) => Buffer.from(s, "latin1");
const key = (u: Uint8Array) => Buffer.from(u).toString("latin1");

describe("percentEncodeBytes", () => {
  it("keeps exactly the RFC 3986 unreserved bytes and escapes all others as %XX", () => {
    for (let v = 0; v < 256; v++) {
      const ch = String.fromCharCode(v);
      const expected = UNRESERVED.includes(ch)
        ? ch
        : `%${v.toString(16).toUpperCase().padStart(2, "0")}`;
      assert.equal(percentEncodeBytes(Uint8Array.of(v)), expected, `byte ${v}`);
    }
  });

  it("round-trips all 256 byte values in one string", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const s = percentEncodeBytes(all);
    assert.match(s, /^[A-Za-z0-9\-._~%]*$/);
    assert.deepEqual(percentDecode(s), all);
  });
});

describe("buildAnnounceUrl", () => {
  it("carries every parameter, the info-hash and peer id byte for byte", () => {
    const url = buildAnnounceUrl("http://t.example:8080/announce", request());
    assert.ok(url.startsWith("http://t.example:8080/announce?info_hash="), url);
    assert.deepEqual(percentDecode(param(url, "info_hash")!), INFO_HASH);
    assert.deepEqual(percentDecode(param(url, "peer_id")!), PEER_ID);
    assert.equal(param(url, "port"), "6881");
    assert.equal(param(url, "uploaded"), "1000");
    assert.equal(param(url, "downloaded"), "2000");
    assert.equal(param(url, "left"), "3000");
    assert.equal(param(url, "event"), "started");
    assert.equal(param(url, "numwant"), "50");
    assert.equal(param(url, "compact"), "1");
    assert.equal(param(url, "key"), "1234ABCD");
    assert.equal(param(url, "trackerid"), undefined);
    // Each parameter once.
    const keys = rawParams(url).map(([k]) => k);
    assert.equal(new Set(keys).size, keys.length);
  });

  it("formats the key as 8 hex digits, and clamps negative or fractional counters", () => {
    const url = buildAnnounceUrl(
      "http://t/announce",
      request({ key: 0xab, uploaded: -5, downloaded: 1.9, left: 2 ** 40 }),
    );
    assert.equal(param(url, "key"), "000000AB");
    assert.equal(param(url, "uploaded"), "0");
    assert.equal(param(url, "downloaded"), "1");
    assert.equal(param(url, "left"), String(2 ** 40));
    assert.equal(param(buildAnnounceUrl("http://t/a", request({ key: -1 })), "key"), "FFFFFFFF");
  });

  it("sends each event name, and no event at all for a regular announce", () => {
    for (const event of ["started", "completed", "stopped"] as const)
      assert.equal(param(buildAnnounceUrl("http://t/a", request({ event })), "event"), event);
    const url = buildAnnounceUrl("http://t/a", request({ event: "none" }));
    assert.equal(param(url, "event"), undefined);
    assert.doesNotMatch(url, /event/);
  });

  it("keeps an existing query (a passkey) first", () => {
    const url = buildAnnounceUrl("http://t/announce?passkey=x", request());
    assert.ok(url.startsWith("http://t/announce?passkey=x&info_hash="), url);
    assert.equal(rawParams(url)[0]![0], "passkey");
    const url2 = buildAnnounceUrl("http://t/announce?a=1&b=2", request());
    assert.deepEqual(
      rawParams(url2)
        .slice(0, 3)
        .map(([k]) => k),
      ["a", "b", "info_hash"],
    );
    // A URL ending in "?" or "&" gets no extra separator.
    assert.ok(buildAnnounceUrl("http://t/a?", request()).startsWith("http://t/a?info_hash="));
    assert.ok(
      buildAnnounceUrl("http://t/a?k=v&", request()).startsWith("http://t/a?k=v&info_hash="),
    );
  });

  it("drops a fragment", () => {
    const url = buildAnnounceUrl("http://t/announce#frag", request());
    assert.ok(!url.includes("#"), url);
    assert.ok(url.startsWith("http://t/announce?info_hash="));
    const url2 = buildAnnounceUrl("http://t/announce?passkey=x#frag", request());
    assert.ok(!url2.includes("#") && !url2.includes("frag"), url2);
    assert.ok(url2.startsWith("http://t/announce?passkey=x&info_hash="), url2);
  });

  it("sends a tracker id back percent-encoded, byte for byte", () => {
    const id = "ab c&d=\u00ff";
    const url = buildAnnounceUrl("http://t/a", request({ trackerId: id }));
    assert.deepEqual(percentDecode(param(url, "trackerid")!), Uint8Array.from(b(id)));
  });
});

describe("scrapeUrlOf (BEP 48 examples)", () => {
  const cases: [string, string | undefined][] = [
    ["http://example.com/announce", "http://example.com/scrape"],
    ["http://example.com/x/announce", "http://example.com/x/scrape"],
    ["http://example.com/announce.php", "http://example.com/scrape.php"],
    ["http://example.com/a", undefined],
    ["http://example.com/announce?x2%0644", "http://example.com/scrape?x2%0644"],
    ["http://example.com/x/announce?x2%0644", "http://example.com/x/scrape?x2%0644"],
    ["http://example.com/announce?x=2/4", "http://example.com/scrape?x=2/4"],
    ["http://example.com/x%064announce", undefined],
    ["http://example.com/announce/x", undefined],
    [
      "https://example.com:8443/p/announce?passkey=abc",
      "https://example.com:8443/p/scrape?passkey=abc",
    ],
  ];
  for (const [a, s] of cases)
    it(`${a} → ${s}`, () => {
      assert.equal(scrapeUrlOf(a), s);
    });

  it("builds a scrape URL with each info-hash encoded", () => {
    const h2 = new Uint8Array(20).fill(0xee);
    const url = buildScrapeUrl("http://t/scrape?k=v", [INFO_HASH, h2]);
    const ps = rawParams(url);
    assert.deepEqual(ps[0], ["k", "v"]);
    assert.deepEqual(percentDecode(ps[1]![1]), INFO_HASH);
    assert.deepEqual(percentDecode(ps[2]![1]), h2);
  });
});

describe("parseAnnounceBody", () => {
  it("reads compact IPv4 and IPv6 peers, counts, intervals and tracker id", () => {
    const v6 = Buffer.concat([Buffer.from(ipBytes("2001:db8::1")!), Buffer.from([0x1a, 0xe1])]);
    const r = parseAnnounceBody(
      encode({
        interval: 1800,
        "min interval": 60,
        complete: 5,
        incomplete: 7,
        peers: compact4(["10.0.0.1", 6881], ["10.0.0.2", 6882]),
        peers6: v6,
        "tracker id": "tid-1",
        "warning message": "be nice",
      }),
    );
    assert.deepEqual(r, {
      interval: 1800,
      minInterval: 60,
      complete: 5,
      incomplete: 7,
      peers: [
        { host: "10.0.0.1", port: 6881 },
        { host: "10.0.0.2", port: 6882 },
        { host: "2001:db8::1", port: 6881 },
      ],
      trackerId: "tid-1",
      warning: "be nice",
    });
  });

  it("reads dictionary-form peers, refusing hostnames, bad ports and junk entries", () => {
    const r = parseAnnounceBody(
      encode({
        interval: 900,
        peers: [
          { ip: "10.0.0.1", port: 6881, "peer id": "x".repeat(20) },
          { ip: "2001:DB8::A", port: 1 },
          { ip: "tracker.evil.example", port: 6881 },
          { ip: "localhost", port: 6881 },
          { ip: "10.0.0.2", port: 0 },
          { ip: "10.0.0.3", port: 65536 },
          { ip: "10.0.0.4", port: -1 },
          { ip: "10.0.0.5", port: "6881" },
          { ip: "10.0.0.6" },
          { port: 6881 },
          { ip: 167772167, port: 6881 },
          { ip: "0.0.0.0", port: 6881 },
          { ip: "239.1.1.1", port: 6881 },
          { ip: "ff02::1", port: 6881 },
          { ip: "01.2.3.4", port: 6881 },
          "10.0.0.7:6881",
          42,
          [],
          { ip: "10.0.0.8", port: 65535 },
        ],
      }),
    );
    assert.deepEqual(r.peers, [
      { host: "10.0.0.1", port: 6881 },
      { host: "2001:db8::a", port: 1 },
      { host: "10.0.0.8", port: 65535 },
    ]);
  });

  it("caps the peers of one reply, across peers and peers6", () => {
    const n = MAX_PEERS_PER_REPLY - 10;
    const peers = new Uint8Array(6 * n);
    for (let i = 0; i < n; i++) peers.set([10, 1, i >> 8, i & 0xff, 0, 80], 6 * i);
    const peers6 = new Uint8Array(18 * 50);
    for (let i = 0; i < 50; i++)
      peers6.set([0x20, 0x01, ...new Array(13).fill(0), i + 1, 0, 80], 18 * i);
    const r = parseAnnounceBody(encode({ interval: 60, peers, peers6 }));
    assert.equal(r.peers.length, MAX_PEERS_PER_REPLY);
    const list = Array.from({ length: MAX_PEERS_PER_REPLY + 5 }, (_, i) => ({
      ip: `10.2.${i >> 8}.${i & 0xff}`,
      port: 80,
    }));
    assert.equal(parseAnnounceBody(encode({ peers: list })).peers.length, MAX_PEERS_PER_REPLY);
  });

  it("turns a failure reason into TRACKER_FAILURE with its text", () => {
    const e = throwsTracker(
      () => parseAnnounceBody(encode({ "failure reason": "torrent not registered" })),
      "TRACKER_FAILURE",
    );
    assert.match(e.message, /torrent not registered/);
    // Even with peers next to it.
    throwsTracker(
      () =>
        parseAnnounceBody(
          encode({ "failure reason": "no", interval: 5, peers: compact4(["1.2.3.4", 1]) }),
        ),
      "TRACKER_FAILURE",
    );
    // A failure reason that is not a string is still a failure.
    throwsTracker(() => parseAnnounceBody(encode({ "failure reason": 3 })), "TRACKER_FAILURE");
  });

  it("escapes control characters in the failure reason and caps its length", () => {
    const e = throwsTracker(
      () =>
        parseAnnounceBody(
          encode({ "failure reason": "\x1b[31mred\x1b[0m\nnext\rline\x00\x7f\u009b" }),
        ),
      "TRACKER_FAILURE",
    );
    assert.doesNotMatch(e.message, /[\u0000-\u001f\u007f-\u009f]/);
    assert.match(e.message, /\\x1b\[31mred/);
    assert.match(e.message, /\\x0anext/);
    const long = throwsTracker(
      () => parseAnnounceBody(encode({ "failure reason": "A".repeat(100_000) })),
      "TRACKER_FAILURE",
    );
    assert.ok(long.message.length < MAX_TRACKER_TEXT + 40, `${long.message.length}`);
    const longCtl = throwsTracker(
      () => parseAnnounceBody(encode({ "failure reason": "\n".repeat(100_000) })),
      "TRACKER_FAILURE",
    );
    assert.ok(longCtl.message.length < 4 * MAX_TRACKER_TEXT + 40, `${longCtl.message.length}`);
    assert.doesNotMatch(longCtl.message, /\n/);
  });

  it("decodes invalid UTF-8 in a failure reason without passing raw bytes through", () => {
    const e = throwsTracker(
      () => parseAnnounceBody(encode({ "failure reason": Uint8Array.of(0xff, 0xfe, 0x41, 0x1b) })),
      "TRACKER_FAILURE",
    );
    assert.match(e.message, /\uFFFD\uFFFDA\\x1b/);
  });

  it("makes the warning message printable too", () => {
    const r = parseAnnounceBody(encode({ interval: 60, "warning message": "a\x1b]0;pwned\x07b" }));
    assert.equal(r.warning, "a\\x1b]0;pwned\\x07b");
  });

  it("accepts a reply with only peers, only peers6 or only an interval", () => {
    assert.deepEqual(parseAnnounceBody(encode({ peers: "" })), { peers: [] });
    assert.deepEqual(parseAnnounceBody(encode({ peers6: "" })), { peers: [] });
    assert.deepEqual(parseAnnounceBody(encode({ interval: 0 })), { interval: 0, peers: [] });
  });

  it("refuses negative or mistyped counts, naming the key", () => {
    for (const key of ["interval", "min interval", "complete", "incomplete"]) {
      for (const v of [-1, -(2n ** 70n), "1800", [1800]] as Encodable[]) {
        const e = throwsTracker(
          () => parseAnnounceBody(encode({ interval: 1800, [key]: v })),
          "TRACKER_BAD_RESPONSE",
        );
        assert.ok(e.message.includes(`"${key}"`), e.message);
      }
    }
  });

  it("keeps huge counts as a finite number (the announcer clamps intervals)", () => {
    const r = parseAnnounceBody(encode({ interval: 10n ** 30n, complete: 2 ** 40, peers: "" }));
    assert.equal(r.interval, Number.MAX_SAFE_INTEGER);
    assert.equal(r.complete, 2 ** 40);
  });

  it("refuses peers of the wrong type", () => {
    for (const key of ["peers", "peers6"]) {
      const e = throwsTracker(
        () => parseAnnounceBody(encode({ interval: 60, [key]: 5 })),
        "TRACKER_BAD_RESPONSE",
      );
      assert.ok(e.message.includes(`"${key}"`), e.message);
    }
    throwsTracker(
      () => parseAnnounceBody(encode({ interval: 60, peers: { a: 1 } })),
      "TRACKER_BAD_RESPONSE",
    );
  });

  it("ignores a tracker id over 256 bytes and keeps binary ones byte for byte", () => {
    assert.equal(
      parseAnnounceBody(encode({ interval: 60, "tracker id": "x".repeat(257) })).trackerId,
      undefined,
    );
    const id = Uint8Array.of(0, 0x80, 0xff, 0x26);
    const r = parseAnnounceBody(encode({ interval: 60, "tracker id": id }));
    assert.deepEqual(b(r.trackerId!), Buffer.from(id));
  });

  it("refuses non-dictionaries, garbage and dictionaries with nothing useful", () => {
    for (const body of [
      encode([1, 2]),
      encode("peers"),
      encode(5),
      b(""),
      b("<html>502 Bad Gateway</html>"),
      b("d8:intervali1800e"),
      b("d8:intervali1800ee trailing"),
      b("d8:intervali01800ee"),
      b("i-0e"),
      b(`${"l".repeat(100)}${"e".repeat(100)}`),
      encode({}),
      encode({ "min interval": 60, complete: 1, incomplete: 2 }),
    ]) {
      throwsTracker(() => parseAnnounceBody(body), "TRACKER_BAD_RESPONSE");
    }
  });

  it("shows the start of a non-bencoded reply, made printable", () => {
    const e = throwsTracker(
      () => parseAnnounceBody(b("\x1b[2J<html>\n<body>oops</body></html>")),
      "TRACKER_BAD_RESPONSE",
    );
    assert.match(e.message, /\\x1b\[2J<html>\\x0a<body>/);
    assert.doesNotMatch(e.message, /[\u0000-\u001f]/);
  });

  it("throws only TrackerError for random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseAnnounceBody(bytes);
        } catch (e) {
          assert.ok(e instanceof TrackerError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("for random well-formed replies, returns only valid dialable peers or throws TrackerError", () => {
    const value: fc.Arbitrary<Encodable> = fc.oneof(
      fc.integer({ min: -5, max: 70000 }),
      fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
      fc.uint8Array({ maxLength: 60 }),
      fc.constantFrom("1.2.3.4", "::1", "::ffff:1.2.3.4", "host.example", "0.0.0.0", "ff02::1"),
    );
    const peerDict = fc.record({ ip: value, port: value, "peer id": value }, { requiredKeys: [] });
    const peersValue = fc.oneof(value, fc.array(fc.oneof(peerDict, value), { maxLength: 8 }));
    const reply = fc.record(
      {
        interval: value,
        "min interval": value,
        complete: value,
        incomplete: value,
        peers: peersValue,
        peers6: peersValue,
        "tracker id": value,
        "warning message": value,
        "failure reason": value,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(reply, (r) => {
        let out: ReturnType<typeof parseAnnounceBody>;
        try {
          out = parseAnnounceBody(encode(r));
        } catch (e) {
          assert.ok(e instanceof TrackerError, String(e));
          if ("failure reason" in r) assert.equal(e.code, "TRACKER_FAILURE");
          return;
        }
        assert.ok(!("failure reason" in r));
        for (const n of [out.interval, out.minInterval, out.complete, out.incomplete])
          if (n !== undefined) assert.ok(Number.isSafeInteger(n) && n >= 0, String(n));
        for (const p of out.peers) {
          assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535);
          const ip = ipBytes(p.host);
          assert.ok(ip, `not an IP literal: ${p.host}`);
        }
        if (out.warning !== undefined) assert.doesNotMatch(out.warning, /[\u0000-\u001f]/);
      }),
      { numRuns: 1000 },
    );
  });

  it("a dictionary peer with an IPv4-mapped address is judged as the IPv4 address it is", () => {
    const r = parseAnnounceBody(
      encode({
        peers: [
          { ip: "::ffff:0.0.0.0", port: 6881 },
          { ip: "::ffff:224.0.0.1", port: 6881 },
        ],
      }),
    );
    for (const p of r.peers) assert.ok(isDialable(ipBytes(p.host)!, p.port), p.host);
    assert.deepEqual(r.peers, []);
  });
});

describe("parseScrapeBody", () => {
  const other = new Uint8Array(20).fill(7);

  it("picks this torrent's counts out of files", () => {
    const files = new Map<string, Encodable>([
      [key(INFO_HASH), { complete: 3, incomplete: 4, downloaded: 50 }],
      [key(other), { complete: 9, incomplete: 9, downloaded: 9 }],
    ]);
    assert.deepEqual(parseScrapeBody(encode({ files }), INFO_HASH), {
      complete: 3,
      incomplete: 4,
      downloaded: 50,
    });
    assert.deepEqual(parseScrapeBody(encode({ files }), other), {
      complete: 9,
      incomplete: 9,
      downloaded: 9,
    });
  });

  it("defaults missing counts to 0", () => {
    const files = new Map<string, Encodable>([[key(INFO_HASH), { complete: 1 }]]);
    assert.deepEqual(parseScrapeBody(encode({ files }), INFO_HASH), {
      complete: 1,
      incomplete: 0,
      downloaded: 0,
    });
  });

  it("refuses replies without this torrent, without files, or with bad entries", () => {
    const k = key(INFO_HASH);
    const cases: Encodable[] = [
      { files: new Map([[key(other), { complete: 1 }]]) },
      {},
      { files: "x" },
      { files: [] },
      { files: new Map([[k, 5]]) },
      { files: new Map([[k, { complete: -1 }]]) },
      { files: new Map([[k, { downloaded: "7" }]]) },
    ];
    for (const c of cases)
      throwsTracker(() => parseScrapeBody(encode(c), INFO_HASH), "TRACKER_BAD_RESPONSE");
    throwsTracker(() => parseScrapeBody(b("garbage"), INFO_HASH), "TRACKER_BAD_RESPONSE");
    const e = throwsTracker(
      () => parseScrapeBody(encode({ "failure reason": "scrape disabled" }), INFO_HASH),
      "TRACKER_FAILURE",
    );
    assert.match(e.message, /scrape disabled/);
  });

  it("throws only TrackerError for random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseScrapeBody(bytes, INFO_HASH);
        } catch (e) {
          assert.ok(e instanceof TrackerError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
