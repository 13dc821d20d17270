import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildReserved,
  encodedLength,
  encodeHandshake,
  encodeMessage,
  encodePieceHeader,
  encodeRequest,
  HANDSHAKE_LENGTH,
  hasFeature,
  REQUEST_MESSAGE_LENGTH,
  RESERVED_DHT,
  RESERVED_EXTENDED,
  RESERVED_FAST,
  type WireMessage,
  writeMessage,
  writePieceHeader,
} from "../../src/wire/index.js";
import { decodeChunks, decoder, HANDSHAKE, INFO_HASH, normalize, PEER_ID, pi } from "./helpers.js";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("wire handshake encoding", () => {
  it("lays out pstrlen, pstr, reserved, info-hash and peer id", () => {
    const reserved = buildReserved(["fast"]);
    const h = encodeHandshake({ infoHash: INFO_HASH, peerId: PEER_ID, reserved });
    assert.equal(h.length, HANDSHAKE_LENGTH);
    assert.equal(h[0], 19);
    assert.equal(Buffer.from(h.subarray(1, 20)).toString("latin1"), "BitTorrent protocol");
    assert.deepEqual(h.subarray(20, 28), reserved);
    assert.deepEqual(h.subarray(28, 48), INFO_HASH);
    assert.deepEqual(h.subarray(48, 68), PEER_ID);
  });

  it("refuses fields of the wrong length", () => {
    const ok = { infoHash: INFO_HASH, peerId: PEER_ID, reserved: new Uint8Array(8) };
    assert.throws(() => encodeHandshake({ ...ok, infoHash: new Uint8Array(32) }), RangeError);
    assert.throws(() => encodeHandshake({ ...ok, peerId: new Uint8Array(19) }), RangeError);
    assert.throws(() => encodeHandshake({ ...ok, reserved: new Uint8Array(7) }), RangeError);
  });

  it("sets exactly the reserved bits of the chosen features", () => {
    assert.equal(hex(buildReserved([])), "0000000000000000");
    assert.equal(hex(buildReserved(["fast"])), "0000000000000004");
    assert.equal(hex(buildReserved(["extended"])), "0000000000100000");
    assert.equal(hex(buildReserved(["dht"])), "0000000000000001");
    assert.equal(hex(buildReserved(["fast", "extended", "dht"])), "0000000000100005");
    assert.deepEqual(RESERVED_FAST, { byte: 7, mask: 0x04 });
    assert.deepEqual(RESERVED_EXTENDED, { byte: 5, mask: 0x10 });
    assert.deepEqual(RESERVED_DHT, { byte: 7, mask: 0x01 });
    const r = buildReserved(["extended", "dht"]);
    assert.equal(hasFeature(r, "extended"), true);
    assert.equal(hasFeature(r, "dht"), true);
    assert.equal(hasFeature(r, "fast"), false);
  });
});

describe("wire message encoding", () => {
  it("matches the byte layout of BEP 3/5/6/10", () => {
    const cases: [WireMessage, string][] = [
      [{ type: "keep_alive" }, "00000000"],
      [{ type: "choke" }, "0000000100"],
      [{ type: "unchoke" }, "0000000101"],
      [{ type: "interested" }, "0000000102"],
      [{ type: "not_interested" }, "0000000103"],
      [{ type: "have", index: pi(0x01020304) }, "000000050401020304"],
      [{ type: "bitfield", bits: Uint8Array.of(0xa0) }, "0000000205a0"],
      [
        { type: "request", index: pi(1), begin: 0x4000, length: 0x4000 },
        "0000000d06000000010000400000004000",
      ],
      [
        { type: "piece", index: pi(2), begin: 3, block: Uint8Array.of(0xaa, 0xbb) },
        "0000000b070000000200000003aabb",
      ],
      [{ type: "cancel", index: pi(1), begin: 2, length: 3 }, "0000000d08000000010000000200000003"],
      [{ type: "port", port: 6881 }, "00000003091ae1"],
      [{ type: "suggest", index: pi(7) }, "000000050d00000007"],
      [{ type: "have_all" }, "000000010e"],
      [{ type: "have_none" }, "000000010f"],
      [{ type: "reject", index: pi(1), begin: 2, length: 3 }, "0000000d10000000010000000200000003"],
      [{ type: "allowed_fast", index: pi(9) }, "000000051100000009"],
      [{ type: "extended", extId: 0, payload: Uint8Array.of(0x64, 0x65) }, "0000000414006465"],
      [{ type: "unknown", id: 21, payload: Uint8Array.of(1) }, "000000021501"],
    ];
    for (const [msg, want] of cases) {
      const got = encodeMessage(msg);
      assert.equal(hex(got), want, msg.type);
      assert.equal(encodedLength(msg), got.length, msg.type);
    }
  });

  it("batches requests into one caller buffer", () => {
    const buf = new Uint8Array(REQUEST_MESSAGE_LENGTH * 3 + 1);
    let at = 1;
    for (let i = 0; i < 3; i++) at = encodeRequest(buf, at, 4, i * 8192, 8192);
    assert.equal(at, buf.length);
    const d = decoder();
    const msgs = decodeChunks(d, [HANDSHAKE, buf.subarray(1)]);
    assert.deepEqual(
      msgs.slice(1),
      [0, 1, 2].map((i) => ({ type: "request", index: 4, begin: i * 8192, length: 8192 })),
    );
  });

  it("gives a piece header that the block can follow without a copy", () => {
    const block = Uint8Array.from({ length: 16384 }, (_, i) => i & 0xff);
    const header = encodePieceHeader(3, 16384, block.length);
    assert.equal(header.length, 13);
    const d = decoder();
    const msgs = decodeChunks(d, [HANDSHAKE, header, block]);
    assert.deepEqual(normalize(msgs.slice(1)), [{ type: "piece", index: 3, begin: 16384, block }]);
    const into = new Uint8Array(20);
    assert.equal(writePieceHeader(into, 7, 3, 16384, block.length), 20);
    assert.deepEqual(into.subarray(7), header);
  });

  it("refuses out-of-range arguments and too little room", () => {
    const buf = new Uint8Array(17);
    assert.throws(() => encodeRequest(buf, 0, -1, 0, 1), RangeError);
    assert.throws(() => encodeRequest(buf, 0, 0, 2 ** 32, 1), RangeError);
    assert.throws(() => encodeRequest(buf, 0, 0, 0, 0), RangeError);
    assert.throws(() => encodeRequest(buf, 0, 0.5, 0, 1), RangeError);
    assert.throws(() => encodeRequest(buf, 1, 0, 0, 1), RangeError);
    assert.throws(() => encodeMessage({ type: "port", port: 65536 }), RangeError);
    assert.throws(
      () => encodeMessage({ type: "extended", extId: 256, payload: new Uint8Array() }),
      RangeError,
    );
    assert.throws(() => writeMessage(new Uint8Array(4), 0, { type: "choke" }), RangeError);
  });
});
