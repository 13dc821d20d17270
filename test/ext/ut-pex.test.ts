import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { decode, encode } from "../../src/bencode/index.js";
import {
  decodePex,
  encodePex,
  MAX_PEX_RECEIVE,
  PexFlag,
  type PexPeer,
  PexState,
} from "../../src/ext/index.js";
import { b, onlyExtErrors, throwsExt } from "./helpers.js";

const v4 = (a: number, b_: number, c: number, d: number, port: number) =>
  Uint8Array.of(a, b_, c, d, port >> 8, port & 0xff);
const cat = (...xs: Uint8Array[]) => Uint8Array.from(xs.flatMap((x) => [...x]));

describe("ut_pex codec", () => {
  it("encodes both families with flags, in libtorrent's shape", () => {
    const bytes = encodePex({
      added: [
        { host: "1.2.3.4", port: 6881, flags: PexFlag.seed | PexFlag.reachable },
        { host: "2001:db8::1", port: 51413, flags: PexFlag.utp },
      ],
      dropped: [
        { host: "5.6.7.8", port: 1 },
        { host: "::1", port: 2 },
      ],
    });
    const d = decode(bytes) as Map<string, Uint8Array>;
    assert.deepEqual(d.get("added"), v4(1, 2, 3, 4, 6881));
    assert.deepEqual(d.get("added.f"), Uint8Array.of(0x12));
    assert.equal(d.get("added6")?.length, 18);
    assert.deepEqual(d.get("added6.f"), Uint8Array.of(0x04));
    assert.deepEqual(d.get("dropped"), v4(5, 6, 7, 8, 1));
    assert.equal(d.get("dropped6")?.length, 18);
    assert.deepEqual(decodePex(bytes), {
      added: [
        { host: "1.2.3.4", port: 6881, flags: 0x12 },
        { host: "2001:db8::1", port: 51413, flags: 0x04 },
      ],
      dropped: [
        { host: "5.6.7.8", port: 1 },
        { host: "::1", port: 2 },
      ],
      skipped: 0,
    });
  });

  it("sends an IPv4-mapped host as IPv4", () => {
    const d = decode(
      encodePex({ added: [{ host: "::ffff:1.2.3.4", port: 1, flags: 0 }], dropped: [] }),
    );
    assert.deepEqual((d as Map<string, Uint8Array>).get("added"), v4(1, 2, 3, 4, 1));
  });

  it("skips port 0, unspecified, multicast, broadcast and duplicate IPs", () => {
    const added = cat(
      v4(1, 1, 1, 1, 0),
      v4(0, 0, 0, 0, 80),
      v4(0, 1, 2, 3, 80),
      v4(224, 0, 0, 1, 80),
      v4(239, 1, 1, 1, 80),
      v4(255, 255, 255, 255, 80),
      v4(240, 0, 0, 1, 80),
      v4(9, 9, 9, 9, 80),
      v4(9, 9, 9, 9, 81),
      v4(127, 0, 0, 1, 80),
    );
    const ff = new Uint8Array(18);
    ff[0] = 0xff;
    ff[17] = 80;
    const unspecified6 = new Uint8Array(18);
    unspecified6[17] = 80;
    const m = decodePex(
      encode({
        added,
        added6: cat(ff, unspecified6),
        dropped: cat(v4(2, 2, 2, 2, 5), v4(2, 2, 2, 2, 5)),
      }),
    );
    assert.deepEqual(m.added, [
      { host: "9.9.9.9", port: 80, flags: 0 },
      { host: "127.0.0.1", port: 80, flags: 0 },
    ]);
    assert.deepEqual(m.dropped, [{ host: "2.2.2.2", port: 5 }]);
    assert.equal(m.skipped, 8 + 2 + 1);
  });

  it("ignores added.f of the wrong length", () => {
    const m = decodePex(encode({ added: v4(1, 2, 3, 4, 5), "added.f": Uint8Array.of(1, 2) }));
    assert.deepEqual(m.added, [{ host: "1.2.3.4", port: 5, flags: 0 }]);
  });

  it(`takes at most ${MAX_PEX_RECEIVE} added contacts per message`, () => {
    const many = cat(...Array.from({ length: 300 }, (_, i) => v4(10, 0, i >> 8, i & 0xff, 1000)));
    const m = decodePex(encode({ added: many }));
    assert.equal(m.added.length, MAX_PEX_RECEIVE);
    assert.equal(m.skipped, 200);
  });

  it("accepts an empty dictionary as an empty message", () => {
    assert.deepEqual(decodePex(b("de")), { added: [], dropped: [], skipped: 0 });
  });

  it("maps hostile messages to exact codes", () => {
    throwsExt(() => decodePex(b("")), "PEX_BAD_MESSAGE");
    throwsExt(() => decodePex(b("le")), "PEX_BAD_MESSAGE");
    throwsExt(() => decodePex(encode({ added: 5 })), "PEX_BAD_MESSAGE");
    throwsExt(() => decodePex(encode({ dropped6: [] })), "PEX_BAD_MESSAGE");
    throwsExt(() => decodePex(encode({ added: new Uint8Array(7) })), "PEX_BAD_COMPACT_LENGTH");
    throwsExt(() => decodePex(encode({ added6: new Uint8Array(6) })), "PEX_BAD_COMPACT_LENGTH");
    throwsExt(() => decodePex(encode({ dropped: new Uint8Array(5) })), "PEX_BAD_COMPACT_LENGTH");
    throwsExt(() => decodePex(encode({ dropped6: new Uint8Array(19) })), "PEX_BAD_COMPACT_LENGTH");
  });

  it("refuses to encode what cannot be compact", () => {
    assert.throws(
      () => encodePex({ added: [{ host: "example.org", port: 1, flags: 0 }], dropped: [] }),
      RangeError,
    );
    assert.throws(
      () => encodePex({ added: [], dropped: [{ host: "1.2.3.4", port: 0 }] }),
      RangeError,
    );
  });

  it("round-trips dialable contacts (property)", () => {
    const ipv4 = fc
      .tuple(fc.integer({ min: 1, max: 223 }), fc.nat(255), fc.nat(255), fc.nat(255))
      .map((o) => o.join("."));
    const contact = fc.record({
      host: ipv4,
      port: fc.integer({ min: 1, max: 65535 }),
      flags: fc.nat(0x1f),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(contact, { selector: (c) => c.host, maxLength: 60 }),
        fc.uniqueArray(contact, { selector: (c) => `${c.host}:${c.port}`, maxLength: 60 }),
        (addedRaw, droppedFull) => {
          const added = addedRaw.map((c) => ({ ...c }));
          const dropped = droppedFull.map(({ host, port }) => ({ host, port }));
          const m = decodePex(encodePex({ added, dropped }));
          assert.deepEqual(m.added, added);
          assert.deepEqual(m.dropped, dropped);
          assert.equal(m.skipped, 0);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("never throws anything but ExtError on random input (property)", () => {
    const key = fc.constantFrom(
      "added",
      "added.f",
      "added6",
      "added6.f",
      "dropped",
      "dropped6",
      "x",
    );
    const val = fc.oneof(fc.uint8Array({ maxLength: 60 }), fc.integer(), fc.constant([]));
    fc.assert(
      fc.property(fc.dictionary(key, val), fc.uint8Array({ maxLength: 80 }), (d, raw) => {
        onlyExtErrors(() => decodePex(encode(d)));
        onlyExtErrors(() => decodePex(raw));
      }),
      { numRuns: 2000 },
    );
  });
});

const peer = (i: number, flags = 0): PexPeer => ({
  host: `10.0.${i >> 8}.${i & 0xff}`,
  port: 6881,
  flags,
});

describe("PexState", () => {
  it("sends the diff at most once a minute and never the remote itself", () => {
    const s = new PexState({ remote: { host: "10.0.0.1", port: 6881 } });
    const first = s.update([peer(1), peer(2), peer(3)], 0);
    assert.ok(first);
    assert.deepEqual(
      decodePex(first).added.map((p) => p.host),
      ["10.0.0.2", "10.0.0.3"],
    );
    assert.equal(s.update([peer(2), peer(4)], 59_999), undefined, "too soon");
    const second = s.update([peer(2), peer(4)], 60_000);
    assert.ok(second);
    const m = decodePex(second);
    assert.deepEqual(
      m.added.map((p) => p.host),
      ["10.0.0.4"],
    );
    assert.deepEqual(m.dropped, [{ host: "10.0.0.3", port: 6881 }]);
    assert.equal(s.update([peer(2), peer(4)], 200_000), undefined, "nothing changed");
  });

  it("elides a peer that came and went between messages", () => {
    const s = new PexState();
    s.update([peer(1)], 0);
    assert.equal(s.update([peer(1)], 30_000), undefined);
    // peer 2 connected and disconnected within the minute: never mentioned.
    const m = s.update([], 60_000);
    assert.ok(m);
    assert.deepEqual(decodePex(m), {
      added: [],
      dropped: [{ host: "10.0.0.1", port: 6881 }],
      skipped: 0,
    });
  });

  it("sends at most 50 added and 50 dropped, the rest later", () => {
    const s = new PexState();
    const all = Array.from({ length: 120 }, (_, i) => peer(i + 1, PexFlag.seed));
    const m1 = decodePex(s.update(all, 0)!);
    assert.equal(m1.added.length, 50);
    assert.equal(m1.added[0]?.flags, PexFlag.seed);
    const m2 = decodePex(s.update(all, 60_000)!);
    assert.equal(m2.added.length, 50);
    const m3 = decodePex(s.update([], 120_000)!);
    assert.equal(m3.added.length, 0);
    assert.equal(m3.dropped.length, 50);
    const m4 = decodePex(s.update(all.slice(0, 10), 180_000)!);
    // 50 of the 100 told peers still to drop; the 10 current ones are re-added or kept.
    assert.ok(m4.dropped.length <= 50);
    const addedHosts = new Set(m4.added.map((p) => p.host));
    assert.ok(
      m4.dropped.every((d) => !addedHosts.has(d.host)),
      "never added and dropped at once",
    );
  });

  it("matches IPv4-mapped and plain forms of the same contact, skips hostnames", () => {
    const s = new PexState();
    s.update(
      [
        { host: "::ffff:1.2.3.4", port: 1, flags: 0 },
        { host: "example.org", port: 1, flags: 0 },
      ],
      0,
    );
    assert.equal(s.update([{ host: "1.2.3.4", port: 1, flags: 0 }], 60_000), undefined);
  });

  it("ignores incoming messages closer than 45 s", () => {
    const s = new PexState();
    const msg = encodePex({ added: [peer(1)], dropped: [] });
    assert.equal(s.receive(msg, 0)?.added.length, 1);
    assert.equal(s.receive(msg, 44_999), undefined);
    assert.equal(s.receive(msg, 45_000)?.added.length, 1);
    throwsExt(() => s.receive(b("x"), 100_000), "PEX_BAD_MESSAGE");
  });
});
