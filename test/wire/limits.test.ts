import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildReserved,
  encodeHandshake,
  encodeMessage,
  MAX_UNKNOWN_MESSAGE_LENGTH,
  validateBitfield,
  WireDecoder,
  type WireMessage,
} from "../../src/wire/index.js";
import {
  concat,
  decodeChunks,
  decoder,
  GEOMETRY,
  HANDSHAKE,
  INFO_HASH,
  PEER_ID,
  pi,
  throwsCode,
} from "./helpers.js";

/** Big-endian u32. */
function be32(v: number): Uint8Array {
  return Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
}

/** A raw frame: length prefix, id, payload. */
function frame(id: number, ...payload: Uint8Array[]): Uint8Array {
  const body = concat(payload);
  return concat([be32(1 + body.length), Uint8Array.of(id), body]);
}

const u32s = (...vs: number[]) => concat(vs.map(be32));

/** A fresh decoder (after the handshake) fed `bytes`; asserts the violation code. */
function rejects(code: string, bytes: Uint8Array, opts: Parameters<typeof decoder>[0] = {}) {
  const d = decoder(opts);
  return throwsCode(() => decodeChunks(d, [HANDSHAKE, bytes]), code);
}

const msg = (m: WireMessage) => encodeMessage(m);

describe("wire decoder limits", () => {
  it("rejects a 4 GiB length prefix at the prefix, before any body byte", () => {
    const d = decoder();
    decodeChunks(d, [HANDSHAKE]);
    d.push(be32(0xffffffff));
    throwsCode(() => d.next(), "WIRE_MESSAGE_TOO_LONG");
    assert.equal(d.bufferedBytes, 0);
  });

  it("rejects lengths above the cap of their id", () => {
    // 16 KiB + 1 byte block: the piece cap, checked before the block is buffered.
    const d = decoder();
    decodeChunks(d, [HANDSHAKE]);
    d.push(concat([be32(9 + 16385), Uint8Array.of(7)]));
    throwsCode(() => d.next(), "WIRE_MESSAGE_TOO_LONG");
    rejects(
      "WIRE_MESSAGE_TOO_LONG",
      concat([be32(MAX_UNKNOWN_MESSAGE_LENGTH + 1), Uint8Array.of(99)]),
    );
    rejects("WIRE_MESSAGE_TOO_LONG", concat([be32(1001), Uint8Array.of(20)]), {
      maxMessageLength: 1000,
    });
  });

  it("rejects fixed-length messages of any other length", () => {
    rejects("WIRE_BAD_LENGTH", frame(0, Uint8Array.of(0)));
    rejects("WIRE_BAD_LENGTH", frame(4, Uint8Array.of(0, 0, 0)));
    rejects("WIRE_BAD_LENGTH", frame(4, u32s(1, 2)));
    rejects("WIRE_BAD_LENGTH", frame(6, u32s(0, 0)));
    rejects("WIRE_BAD_LENGTH", frame(8, u32s(0, 0, 1, 0)));
    rejects("WIRE_BAD_LENGTH", frame(9, Uint8Array.of(1)));
    rejects("WIRE_BAD_LENGTH", frame(13, u32s(1, 1)));
    rejects("WIRE_BAD_LENGTH", frame(14, Uint8Array.of(1)));
    rejects("WIRE_BAD_LENGTH", frame(16, u32s(0, 0)));
    rejects("WIRE_BAD_LENGTH", frame(17, Uint8Array.of()));
    rejects("WIRE_BAD_LENGTH", frame(7, u32s(0, 0))); // piece with an empty block
    rejects("WIRE_BAD_LENGTH", frame(20)); // extended without an extended id
  });

  it("rejects a bitfield of the wrong length or with spare bits set", () => {
    // 10 pieces: exactly 2 bytes, the low 6 bits of the second one zero.
    rejects("WIRE_BAD_BITFIELD", frame(5, Uint8Array.of(0xff)));
    rejects("WIRE_BAD_BITFIELD", frame(5, Uint8Array.of(0xff, 0xc0, 0)));
    rejects("WIRE_BAD_BITFIELD", frame(5, Uint8Array.of(0xff, 0xe0)));
    rejects("WIRE_BAD_BITFIELD", frame(5, Uint8Array.of(0x00, 0x01)));
    throwsCode(() => validateBitfield(Uint8Array.of(0xff, 0xc1), 10), "WIRE_BAD_BITFIELD");
    throwsCode(() => validateBitfield(Uint8Array.of(0xff), 10), "WIRE_BAD_BITFIELD");
    validateBitfield(Uint8Array.of(0xff, 0xc0), 10);
  });

  it("rejects piece indices past the piece count", () => {
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(4, be32(10)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(4, be32(0xffffffff)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(6, u32s(10, 0, 1)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(8, u32s(10, 0, 1)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(13, be32(10)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(16, u32s(10, 0, 1)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(17, be32(10)));
    rejects("WIRE_INDEX_OUT_OF_RANGE", frame(7, u32s(10, 0), Uint8Array.of(1)));
  });

  it("rejects a piece header before its block arrives", () => {
    const d = decoder();
    decodeChunks(d, [HANDSHAKE]);
    d.push(concat([be32(9 + 16384), Uint8Array.of(7), u32s(10, 0)]));
    throwsCode(() => d.next(), "WIRE_INDEX_OUT_OF_RANGE");
    const d2 = decoder();
    decodeChunks(d2, [HANDSHAKE]);
    d2.push(concat([be32(9 + 16384), Uint8Array.of(7), u32s(0, 16385)]));
    throwsCode(() => d2.next(), "WIRE_BLOCK_OUT_OF_RANGE");
  });

  it("rejects requests of 0 bytes or above the block cap", () => {
    rejects("WIRE_BAD_BLOCK_LENGTH", frame(6, u32s(0, 0, 1 << 20)));
    rejects("WIRE_BAD_BLOCK_LENGTH", frame(6, u32s(0, 0, 16385)));
    rejects("WIRE_BAD_BLOCK_LENGTH", frame(6, u32s(0, 0, 0)));
    rejects("WIRE_BAD_BLOCK_LENGTH", frame(8, u32s(0, 0, 0)));
    rejects("WIRE_BAD_BLOCK_LENGTH", frame(16, u32s(0, 0, 1 << 20)));
    // A bigger cap is a setting.
    const d = decoder({ maxBlockLength: 32768 });
    const ok = decodeChunks(d, [HANDSHAKE, frame(6, u32s(0, 0, 32768))]);
    assert.equal(ok.length, 2);
  });

  it("rejects blocks past the end of their piece, the short last piece included", () => {
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(6, u32s(0, 16385, 16384)));
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(6, u32s(0, 0xffffffff, 16384)));
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(8, u32s(3, 32768, 1)));
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(16, u32s(3, 32000, 1000)));
    // Last piece is 20000 bytes: 16384+3616 fits, 16384+3617 and 16384+16384 do not.
    const d = decoder();
    const ok = decodeChunks(d, [HANDSHAKE, frame(6, u32s(9, 16384, 3616))]);
    assert.deepEqual(ok[1], { type: "request", index: 9, begin: 16384, length: 3616 });
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(6, u32s(9, 16384, 3617)));
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(6, u32s(9, 16384, 16384)));
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(7, u32s(9, 19999), Uint8Array.of(1, 2)));
    rejects("WIRE_BLOCK_OUT_OF_RANGE", frame(7, u32s(9, 20000), Uint8Array.of(1)));
  });

  it("rejects Fast-extension messages without Fast negotiated", () => {
    const fastMsgs: WireMessage[] = [
      { type: "suggest", index: pi(0) },
      { type: "have_all" },
      { type: "have_none" },
      { type: "reject", index: pi(0), begin: 0, length: 1 },
      { type: "allowed_fast", index: pi(0) },
    ];
    for (const m of fastMsgs) rejects("WIRE_UNEXPECTED_MESSAGE", msg(m), { fast: false });
    // We advertise Fast but the peer's handshake does not: not negotiated either.
    const plain = encodeHandshake({
      infoHash: INFO_HASH,
      peerId: PEER_ID,
      reserved: buildReserved(["extended"]),
    });
    for (const m of fastMsgs) {
      const d = decoder({ fast: true });
      throwsCode(() => decodeChunks(d, [plain, msg(m)]), "WIRE_UNEXPECTED_MESSAGE");
      assert.equal(d.fast, false);
    }
  });

  it("rejects extended messages without BEP 10 negotiated", () => {
    const ext = msg({ type: "extended", extId: 0, payload: Uint8Array.of(0x64, 0x65) });
    rejects("WIRE_UNEXPECTED_MESSAGE", ext, { extended: false });
    const plain = encodeHandshake({
      infoHash: INFO_HASH,
      peerId: PEER_ID,
      reserved: buildReserved(["fast"]),
    });
    const d = decoder();
    throwsCode(() => decodeChunks(d, [plain, ext]), "WIRE_UNEXPECTED_MESSAGE");
    assert.equal(d.extended, false);
    assert.equal(d.fast, true);
  });

  it("accepts bitfield, have_all and have_none only as the first message", () => {
    const bitfield = msg({ type: "bitfield", bits: Uint8Array.of(0xff, 0xc0) });
    const firsts = [bitfield, msg({ type: "have_all" }), msg({ type: "have_none" })];
    const others: WireMessage[] = [
      { type: "have", index: pi(1) },
      { type: "interested" },
      { type: "unchoke" },
      { type: "allowed_fast", index: pi(2) },
      { type: "request", index: pi(0), begin: 0, length: 1 },
    ];
    for (const first of firsts) {
      for (const o of others) rejects("WIRE_UNEXPECTED_MESSAGE", concat([msg(o), first]));
      // Twice is also a violation, whichever the pair.
      for (const again of firsts) rejects("WIRE_UNEXPECTED_MESSAGE", concat([first, again]));
      // Keep-alive, the extension handshake, port and unknown ids may come first.
      const before = [
        msg({ type: "keep_alive" }),
        msg({ type: "extended", extId: 0, payload: Uint8Array.of(0x64, 0x65) }),
        msg({ type: "port", port: 6881 }),
        msg({ type: "unknown", id: 30, payload: new Uint8Array(2) }),
      ];
      const got = decodeChunks(decoder(), [HANDSHAKE, ...before, first]);
      assert.equal(got.length, 6);
    }
  });

  it("with lateBitfield, accepts a bitfield anywhere (aria2 sends one for 20+ HAVEs)", () => {
    const bitfield = msg({ type: "bitfield", bits: Uint8Array.of(0xff, 0xc0) });
    const stream = [
      HANDSHAKE,
      msg({ type: "have", index: pi(1) }),
      bitfield,
      msg({ type: "unchoke" }),
      bitfield,
    ];
    const got = decodeChunks(decoder({ lateBitfield: true }), stream);
    assert.deepEqual(
      got.slice(1).map((m) => (m as WireMessage).type),
      ["have", "bitfield", "unchoke", "bitfield"],
    );
    // aria2 also sends have_all when it completes mid-connection: accepted the same way.
    const late = decodeChunks(decoder({ lateBitfield: true }), [
      HANDSHAKE,
      bitfield,
      msg({ type: "unchoke" }),
      msg({ type: "have_all" }),
    ]);
    assert.deepEqual(
      late.slice(1).map((m) => (m as WireMessage).type),
      ["bitfield", "unchoke", "have_all"],
    );
    // Without lateBitfield it stays first-only, and a late bitfield is still checked.
    rejects("WIRE_UNEXPECTED_MESSAGE", concat([bitfield, msg({ type: "have_all" })]));
    rejects(
      "WIRE_BAD_BITFIELD",
      concat([msg({ type: "unchoke" }), msg({ type: "bitfield", bits: Uint8Array.of(0xff) })]),
      { lateBitfield: true },
    );
  });

  it("rejects a wrong pstrlen at the first byte and a wrong protocol string early", () => {
    const d = decoder();
    d.push(Uint8Array.of(18));
    throwsCode(() => d.next(), "WIRE_BAD_HANDSHAKE");
    const bad = Uint8Array.from(HANDSHAKE);
    bad[19] = "L".charCodeAt(0); // "BitTorrent protocoL"
    const d2 = decoder();
    d2.push(bad.subarray(0, 20));
    throwsCode(() => d2.next(), "WIRE_BAD_HANDSHAKE");
    const d3 = decoder();
    d3.push(new TextEncoder().encode("GET / HTTP/1.1\r\n"));
    throwsCode(() => d3.next(), "WIRE_BAD_HANDSHAKE");
    const d4 = decoder();
    const hs = Uint8Array.from(HANDSHAKE);
    hs[5] = hs[5]! ^ 0x20;
    throwsCode(
      () =>
        decodeChunks(
          d4,
          Array.from(hs, (b) => Uint8Array.of(b)),
        ),
      "WIRE_BAD_HANDSHAKE",
    );
  });

  it("exposes the peer's handshake so the caller can check the info-hash and itself", () => {
    const d = new WireDecoder({ ...GEOMETRY, fast: true, extended: true });
    d.push(HANDSHAKE.subarray(0, 67));
    assert.equal(d.next(), undefined);
    d.push(HANDSHAKE.subarray(67));
    const h = d.next();
    assert.ok(h !== undefined && h.type === "handshake");
    assert.deepEqual(h.infoHash, INFO_HASH);
    assert.deepEqual(h.peerId, PEER_ID);
    assert.deepEqual(h.reserved, buildReserved(["fast", "extended", "dht"]));
    assert.equal(d.fast, true);
    assert.equal(d.extended, true);
  });

  it("stays dead after a violation: every later call throws the same error", () => {
    const d = decoder();
    decodeChunks(d, [HANDSHAKE]);
    d.push(frame(4, be32(99)));
    const e = throwsCode(() => d.next(), "WIRE_INDEX_OUT_OF_RANGE");
    assert.equal(d.error, e);
    assert.throws(
      () => d.next(),
      (x) => x === e,
    );
    assert.throws(
      () => d.push(msg({ type: "choke" })),
      (x) => x === e,
    );
    assert.equal(d.bufferedBytes, 0);
  });

  it("checks indices only once the geometry is known (magnet links)", () => {
    const d = new WireDecoder({ fast: true, extended: true });
    const bits = Uint8Array.of(0xff, 0xff, 0xff);
    const got = decodeChunks(d, [HANDSHAKE, msg({ type: "bitfield", bits }), frame(4, be32(500))]);
    assert.equal(got.length, 3);
    throwsCode(() => validateBitfield(bits, GEOMETRY.pieceCount), "WIRE_BAD_BITFIELD");
    d.setGeometry(GEOMETRY);
    d.push(frame(4, be32(500)));
    throwsCode(() => d.next(), "WIRE_INDEX_OUT_OF_RANGE");
    // Without geometry a bitfield is still capped and never empty.
    rejects("WIRE_BAD_BITFIELD", frame(5), {
      pieceCount: undefined,
      pieceLength: undefined,
      totalLength: undefined,
    });
  });

  it("refuses inconsistent options (our bug, so RangeError)", () => {
    const base = { fast: false, extended: false };
    assert.throws(() => new WireDecoder({ ...base, pieceCount: 10 }), RangeError);
    assert.throws(
      () => new WireDecoder({ ...base, pieceCount: 2, pieceLength: 10, totalLength: 10 }),
      RangeError,
    );
    assert.throws(
      () => new WireDecoder({ ...base, pieceCount: 2, pieceLength: 10, totalLength: 21 }),
      RangeError,
    );
    assert.throws(() => new WireDecoder({ ...base, maxBlockLength: 0 }), RangeError);
    const d = new WireDecoder({ ...base, ...GEOMETRY });
    assert.throws(() => d.setGeometry(GEOMETRY), RangeError);
  });
});
