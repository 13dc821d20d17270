import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { TrackerError } from "../../src/tracker/errors.js";
import { ipBytes } from "../../src/tracker/peers.js";
import {
  ACTION_ANNOUNCE,
  ACTION_CONNECT,
  ACTION_ERROR,
  ACTION_SCRAPE,
  decodeUdpReply,
  encodeAnnounce,
  encodeConnect,
  encodeScrape,
  MAX_UDP_SCRAPE_HASHES,
  MAX_URL_DATA,
  UDP_PROTOCOL_ID,
} from "../../src/tracker/udp-codec.js";
import { compact4, INFO_HASH, PEER_ID, request, throwsTracker } from "./helpers.js";

const CID = 0x0123456789abcdefn;

function header(action: number, tid: number, rest: number[] | Uint8Array = []): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32BE(action, 0);
  h.writeUInt32BE(tid, 4);
  return Buffer.concat([h, Buffer.from(rest)]);
}

function u32(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => {
    b.writeUInt32BE(x, 4 * i);
  });
  return b;
}

describe("encodeConnect", () => {
  it("is the 16-byte BEP 15 connect request", () => {
    const p = Buffer.from(encodeConnect(0xdeadbeef));
    assert.equal(p.toString("hex"), "0000041727101980" + "00000000" + "deadbeef");
    assert.equal(UDP_PROTOCOL_ID, 0x41727101980n);
  });
});

describe("encodeAnnounce", () => {
  it("puts every field at its BEP 15 offset (98 bytes)", () => {
    const req = request({
      downloaded: 0x0102030405,
      left: 2 ** 40 + 7,
      uploaded: 99,
      event: "started",
      key: 0xcafebabe,
      numWant: 200,
      port: 51413,
    });
    const p = Buffer.from(encodeAnnounce(CID, 0x11223344, req));
    assert.equal(p.length, 98);
    assert.equal(p.readBigUInt64BE(0), CID);
    assert.equal(p.readUInt32BE(8), ACTION_ANNOUNCE);
    assert.equal(p.readUInt32BE(12), 0x11223344);
    assert.deepEqual(Uint8Array.from(p.subarray(16, 36)), INFO_HASH);
    assert.deepEqual(Uint8Array.from(p.subarray(36, 56)), PEER_ID);
    assert.equal(p.readBigUInt64BE(56), 0x0102030405n);
    assert.equal(p.readBigUInt64BE(64), 2n ** 40n + 7n);
    assert.equal(p.readBigUInt64BE(72), 99n);
    assert.equal(p.readUInt32BE(80), 2);
    assert.equal(p.readUInt32BE(84), 0);
    assert.equal(p.readUInt32BE(88), 0xcafebabe);
    assert.equal(p.readInt32BE(92), 200);
    assert.equal(p.readUInt16BE(96), 51413);
  });

  it("codes events as BEP 15 does: none 0, completed 1, started 2, stopped 3", () => {
    const code = { none: 0, completed: 1, started: 2, stopped: 3 } as const;
    for (const [event, n] of Object.entries(code)) {
      const p = Buffer.from(encodeAnnounce(CID, 1, request({ event: event as keyof typeof code })));
      assert.equal(p.readUInt32BE(80), n, event);
    }
  });

  it("writes numwant -1 as 0xffffffff, a negative key unsigned, and clamps negative counters", () => {
    const p = Buffer.from(
      encodeAnnounce(-1n, -1, request({ numWant: -1, key: -2, uploaded: -10, left: 1.5 })),
    );
    assert.equal(p.readBigUInt64BE(0), 2n ** 64n - 1n);
    assert.equal(p.readUInt32BE(12), 0xffffffff);
    assert.equal(p.readUInt32BE(92), 0xffffffff);
    assert.equal(p.readUInt32BE(88), 0xfffffffe);
    assert.equal(p.readBigUInt64BE(72), 0n);
    assert.equal(p.readBigUInt64BE(64), 1n);
  });

  it("adds no options without URL data (or with empty URL data)", () => {
    assert.equal(encodeAnnounce(CID, 1, request()).length, 98);
    assert.equal(encodeAnnounce(CID, 1, request(), new Uint8Array(0)).length, 98);
  });

  /** Parse BEP 41 options after the 98-byte announce; returns the URL data and option sizes. */
  function options(p: Uint8Array): { data: Buffer; lens: number[]; end: number } {
    const parts: Buffer[] = [];
    const lens: number[] = [];
    let off = 98;
    for (;;) {
      const type = p[off];
      assert.ok(type !== undefined, "options run past the packet without EndOfOptions");
      if (type === 0) return { data: Buffer.concat(parts), lens, end: off + 1 };
      assert.equal(type, 2, `unexpected option type ${type}`);
      const len = p[off + 1]!;
      parts.push(Buffer.from(p.subarray(off + 2, off + 2 + len)));
      lens.push(len);
      off += 2 + len;
    }
  }

  it("appends short URL data as one BEP 41 option and an end-of-options byte", () => {
    const url = Buffer.from("/announce?passkey=abc");
    const p = encodeAnnounce(CID, 1, request(), url);
    assert.deepEqual(
      Buffer.from(p.subarray(98)),
      Buffer.concat([Buffer.from([2, url.length]), url, Buffer.from([0])]),
    );
  });

  it("fits exactly 255 bytes in one option", () => {
    const url = Buffer.alloc(255, 0x61);
    const p = encodeAnnounce(CID, 1, request(), url);
    assert.equal(p.length, 98 + 2 + 255 + 1);
    const o = options(p);
    assert.deepEqual(o.lens, [255]);
    assert.deepEqual(o.data, url);
    assert.equal(o.end, p.length);
  });

  it("splits 300 bytes into a 255-byte and a 45-byte option", () => {
    const url = Buffer.from(Array.from({ length: 300 }, (_, i) => 0x20 + (i % 90)));
    const p = encodeAnnounce(CID, 1, request(), url);
    assert.equal(p.length, 98 + 2 + 255 + 2 + 45 + 1);
    const o = options(p);
    assert.deepEqual(o.lens, [255, 45]);
    assert.deepEqual(o.data, url);
    assert.equal(p[p.length - 1], 0);
  });

  it("cuts URL data at MAX_URL_DATA and still ends the options", () => {
    const url = Buffer.alloc(MAX_URL_DATA + 100, 0x62);
    const p = encodeAnnounce(CID, 1, request(), url);
    const o = options(p);
    assert.equal(o.data.length, MAX_URL_DATA);
    assert.ok(o.lens.every((l) => l <= 255 && l > 0));
    assert.equal(o.end, p.length);
  });

  it("round-trips any URL data up to the cap through the option format", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: MAX_URL_DATA }), (url) => {
        const p = encodeAnnounce(CID, 1, request(), url);
        const o = options(p);
        assert.deepEqual(Uint8Array.from(o.data), url);
        assert.equal(o.end, p.length);
      }),
      { numRuns: 200 },
    );
  });
});

describe("encodeScrape", () => {
  it("is 16 bytes of header then 20 bytes per info-hash", () => {
    const h2 = new Uint8Array(20).fill(0xab);
    const p = Buffer.from(encodeScrape(CID, 0x55667788, [INFO_HASH, h2]));
    assert.equal(p.length, 16 + 40);
    assert.equal(p.readBigUInt64BE(0), CID);
    assert.equal(p.readUInt32BE(8), ACTION_SCRAPE);
    assert.equal(p.readUInt32BE(12), 0x55667788);
    assert.deepEqual(Uint8Array.from(p.subarray(16, 36)), INFO_HASH);
    assert.deepEqual(Uint8Array.from(p.subarray(36, 56)), h2);
  });

  it("takes 1 to MAX_UDP_SCRAPE_HASHES hashes", () => {
    assert.throws(() => encodeScrape(CID, 1, []), RangeError);
    const many = Array.from({ length: MAX_UDP_SCRAPE_HASHES + 1 }, () => INFO_HASH);
    assert.throws(() => encodeScrape(CID, 1, many), RangeError);
    assert.equal(encodeScrape(CID, 1, many.slice(1)).length, 16 + 20 * MAX_UDP_SCRAPE_HASHES);
  });
});

describe("decodeUdpReply", () => {
  it("decodes a connect reply", () => {
    const p = Buffer.concat([header(ACTION_CONNECT, 7), Buffer.from("fedcba9876543210", "hex")]);
    assert.deepEqual(decodeUdpReply(p, false), {
      action: "connect",
      transactionId: 7,
      connectionId: 0xfedcba9876543210n,
    });
  });

  it("decodes an IPv4 announce reply, dropping undialable peers and a partial tail", () => {
    const peers = compact4(["10.0.0.1", 6881], ["0.0.0.0", 1], ["10.0.0.2", 0], ["10.0.0.3", 80]);
    const p = Buffer.concat([
      header(ACTION_ANNOUNCE, 0xffffffff),
      u32(1800, 3, 4),
      peers,
      Buffer.from([1, 2, 3]),
    ]);
    assert.deepEqual(decodeUdpReply(p, false), {
      action: "announce",
      transactionId: 0xffffffff,
      interval: 1800,
      leechers: 3,
      seeders: 4,
      peers: [
        { host: "10.0.0.1", port: 6881 },
        { host: "10.0.0.3", port: 80 },
      ],
    });
  });

  it("reads 18-byte peers when the announce went over IPv6", () => {
    const entry = Buffer.concat([Buffer.from(ipBytes("2001:db8::5")!), Buffer.from([0x1a, 0xe1])]);
    const p = Buffer.concat([header(ACTION_ANNOUNCE, 1), u32(60, 0, 1), entry]);
    const r = decodeUdpReply(p, true);
    assert.equal(r.action, "announce");
    if (r.action === "announce") assert.deepEqual(r.peers, [{ host: "2001:db8::5", port: 6881 }]);
    // The same 18 bytes read as IPv4 are three 6-byte entries, none of them this peer.
    const r4 = decodeUdpReply(p, false);
    if (r4.action === "announce") assert.equal(r4.peers.length <= 3, true);
    assert.ok(r4.action === "announce" && !r4.peers.some((x) => x.host === "2001:db8::5"));
  });

  it("decodes an announce reply with no peers", () => {
    const r = decodeUdpReply(Buffer.concat([header(ACTION_ANNOUNCE, 2), u32(0, 0, 0)]), false);
    assert.deepEqual(r, {
      action: "announce",
      transactionId: 2,
      interval: 0,
      leechers: 0,
      seeders: 0,
      peers: [],
    });
  });

  it("decodes scrape entries in BEP 15 order (seeders, completed, leechers)", () => {
    const p = Buffer.concat([header(ACTION_SCRAPE, 9), u32(1, 2, 3, 4, 5, 6), Buffer.from([9, 9])]);
    assert.deepEqual(decodeUdpReply(p, false), {
      action: "scrape",
      transactionId: 9,
      entries: [
        { complete: 1, downloaded: 2, incomplete: 3 },
        { complete: 4, downloaded: 5, incomplete: 6 },
      ],
    });
    // Exactly one entry, no tail.
    assert.deepEqual(decodeUdpReply(header(ACTION_SCRAPE, 8, u32(7, 8, 9)), false), {
      action: "scrape",
      transactionId: 8,
      entries: [{ complete: 7, downloaded: 8, incomplete: 9 }],
    });
    assert.deepEqual(decodeUdpReply(header(ACTION_SCRAPE, 9), false), {
      action: "scrape",
      transactionId: 9,
      entries: [],
    });
  });

  it("decodes an error with its message made printable", () => {
    const p = header(ACTION_ERROR, 5, Buffer.from("bad \x1b[31mthing\n"));
    assert.deepEqual(decodeUdpReply(p, false), {
      action: "error",
      transactionId: 5,
      message: "bad \\x1b[31mthing\\x0a",
    });
    assert.deepEqual(decodeUdpReply(header(ACTION_ERROR, 5), false), {
      action: "error",
      transactionId: 5,
      message: "",
    });
  });

  it("refuses packets too short for their action", () => {
    for (const p of [
      Buffer.alloc(0),
      Buffer.alloc(7),
      header(ACTION_CONNECT, 1, [1, 2, 3, 4, 5, 6, 7]),
      header(ACTION_ANNOUNCE, 1, u32(1800, 0)),
      header(ACTION_ANNOUNCE, 1, [...u32(1800, 0), 0, 0, 0]),
    ]) {
      const e = throwsTracker(() => decodeUdpReply(p, false), "TRACKER_BAD_RESPONSE");
      assert.match(e.message, /shorter than/);
    }
  });

  it("refuses an unknown action", () => {
    for (const action of [4, 0x100, 0xffffffff]) {
      const e = throwsTracker(
        () => decodeUdpReply(header(action, 1, Buffer.alloc(40)), false),
        "TRACKER_BAD_RESPONSE",
      );
      assert.match(e.message, new RegExp(`unknown action ${action}`));
    }
  });

  it("decodes a packet that is a view into a larger buffer at an offset", () => {
    const big = Buffer.alloc(64, 0xee);
    const p = Buffer.concat([header(ACTION_CONNECT, 3), Buffer.alloc(8, 0x11)]);
    p.copy(big, 13);
    const view = new Uint8Array(big.buffer, big.byteOffset + 13, 16);
    assert.deepEqual(decodeUdpReply(view, false), {
      action: "connect",
      transactionId: 3,
      connectionId: 0x1111111111111111n,
    });
  });

  it("throws only TrackerError for random bytes", () => {
    const packet = fc.oneof(
      fc.uint8Array({ maxLength: 120 }),
      fc
        .tuple(fc.integer({ min: 0, max: 5 }), fc.uint8Array({ maxLength: 120 }))
        .map(([a, rest]) => Uint8Array.from(header(a, 1, rest))),
    );
    fc.assert(
      fc.property(packet, fc.boolean(), (p, v6) => {
        try {
          const r = decodeUdpReply(p, v6);
          if (r.action === "announce") for (const x of r.peers) assert.ok(x.port > 0);
        } catch (e) {
          assert.ok(e instanceof TrackerError, String(e));
        }
      }),
      { numRuns: 2000 },
    );
  });
});
