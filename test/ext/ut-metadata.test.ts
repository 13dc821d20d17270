import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "../../src/bencode/index.js";
import {
  decodeMetadataMessage,
  encodeMetadataData,
  encodeMetadataReject,
  encodeMetadataRequest,
  MAX_METADATA_SIZE,
  METADATA_PIECE_SIZE,
  metadataPieceCount,
  metadataPieceLength,
} from "../../src/ext/index.js";
import { b, concat, onlyExtErrors, throwsExt } from "./helpers.js";

describe("ut_metadata codec", () => {
  it("encodes the BEP 9 examples byte for byte", () => {
    assert.deepEqual(encodeMetadataRequest(0), b("d8:msg_typei0e5:piecei0ee"));
    assert.deepEqual(encodeMetadataReject(0), b("d8:msg_typei2e5:piecei0ee"));
    const data = encodeMetadataData(0, 3, b("xyz"));
    assert.deepEqual(data, b("d8:msg_typei1e5:piecei0e10:total_sizei3eexyz"));
  });

  it("decodes request, reject and data", () => {
    assert.deepEqual(decodeMetadataMessage(encodeMetadataRequest(3)), {
      type: "request",
      piece: 3,
    });
    assert.deepEqual(decodeMetadataMessage(encodeMetadataReject(1)), { type: "reject", piece: 1 });
    const piece = new Uint8Array(METADATA_PIECE_SIZE).fill(7);
    const m = decodeMetadataMessage(encodeMetadataData(0, 20000, piece));
    assert.equal(m.type, "data");
    if (m.type !== "data") return;
    assert.equal(m.piece, 0);
    assert.equal(m.totalSize, 20000);
    assert.deepEqual(m.data, piece);
    const last = decodeMetadataMessage(encodeMetadataData(1, 20000, new Uint8Array(20000 - 16384)));
    assert.equal(last.type === "data" && last.data.length, 20000 - 16384);
  });

  it("ignores unknown msg_type (BEP 9: MUST be ignored)", () => {
    assert.deepEqual(decodeMetadataMessage(encode({ msg_type: 7, piece: 0 })), {
      type: "unknown",
      msgType: 7,
    });
    assert.deepEqual(decodeMetadataMessage(encode({ msg_type: 3 })), {
      type: "unknown",
      msgType: 3,
    });
    assert.equal(decodeMetadataMessage(encode({ msg_type: 2n ** 70n })).type, "unknown");
  });

  it("maps hostile messages to exact codes", () => {
    throwsExt(() => decodeMetadataMessage(b("")), "UT_METADATA_BAD_MESSAGE");
    throwsExt(() => decodeMetadataMessage(b("li0ee")), "UT_METADATA_BAD_MESSAGE");
    throwsExt(() => decodeMetadataMessage(encode({ piece: 0 })), "UT_METADATA_BAD_MESSAGE");
    throwsExt(
      () => decodeMetadataMessage(encode({ msg_type: "0", piece: 0 })),
      "UT_METADATA_BAD_MESSAGE",
    );
    throwsExt(() => decodeMetadataMessage(encode({ msg_type: 0 })), "UT_METADATA_BAD_MESSAGE");
    throwsExt(
      () => decodeMetadataMessage(encode({ msg_type: 0, piece: "0" })),
      "UT_METADATA_BAD_MESSAGE",
    );
    throwsExt(
      () => decodeMetadataMessage(concat(encodeMetadataRequest(0), b("x"))),
      "UT_METADATA_BAD_MESSAGE",
    );
    throwsExt(
      () => decodeMetadataMessage(encode({ msg_type: 0, piece: -1 })),
      "UT_METADATA_PIECE_OUT_OF_RANGE",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(
          encode({ msg_type: 0, piece: MAX_METADATA_SIZE / METADATA_PIECE_SIZE }),
        ),
      "UT_METADATA_PIECE_OUT_OF_RANGE",
    );
    throwsExt(
      () => decodeMetadataMessage(encode({ msg_type: 0, piece: 2n ** 64n })),
      "UT_METADATA_BAD_MESSAGE",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(encodeMetadataRequest(2), { metadataSize: 2 * METADATA_PIECE_SIZE }),
      "UT_METADATA_PIECE_OUT_OF_RANGE",
    );
  });

  it("checks data: total_size, piece range and exact piece length", () => {
    const head = (d: Record<string, number>) => encode(d);
    throwsExt(
      () => decodeMetadataMessage(concat(head({ msg_type: 1, piece: 0 }), b("x"))),
      "UT_METADATA_BAD_TOTAL_SIZE",
    );
    throwsExt(
      () => decodeMetadataMessage(concat(head({ msg_type: 1, piece: 0, total_size: 0 }))),
      "UT_METADATA_BAD_TOTAL_SIZE",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(head({ msg_type: 1, piece: 0, total_size: MAX_METADATA_SIZE + 1 })),
      "UT_METADATA_BAD_TOTAL_SIZE",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(concat(head({ msg_type: 1, piece: 0, total_size: 5 }), b("12345")), {
          metadataSize: 6,
        }),
      "UT_METADATA_BAD_TOTAL_SIZE",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(concat(head({ msg_type: 1, piece: 1, total_size: 5 }), b("12345"))),
      "UT_METADATA_PIECE_OUT_OF_RANGE",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(concat(head({ msg_type: 1, piece: 0, total_size: 5 }), b("1234"))),
      "UT_METADATA_BAD_PIECE_LENGTH",
    );
    throwsExt(
      () =>
        decodeMetadataMessage(concat(head({ msg_type: 1, piece: 0, total_size: 5 }), b("123456"))),
      "UT_METADATA_BAD_PIECE_LENGTH",
    );
    // A non-last piece must be exactly 16 KiB.
    throwsExt(
      () =>
        decodeMetadataMessage(
          concat(head({ msg_type: 1, piece: 0, total_size: 40000 }), new Uint8Array(16000)),
        ),
      "UT_METADATA_BAD_PIECE_LENGTH",
    );
    // A smaller cap from the caller.
    throwsExt(
      () =>
        decodeMetadataMessage(concat(head({ msg_type: 1, piece: 0, total_size: 5 }), b("12345")), {
          maxMetadataSize: 4,
        }),
      "UT_METADATA_BAD_TOTAL_SIZE",
    );
  });

  it("refuses to encode data that is not the right piece", () => {
    assert.throws(() => encodeMetadataData(1, 100, new Uint8Array(100)), RangeError);
    assert.throws(() => encodeMetadataData(0, 100, new Uint8Array(99)), RangeError);
  });

  it("piece geometry", () => {
    assert.equal(metadataPieceCount(1), 1);
    assert.equal(metadataPieceCount(16384), 1);
    assert.equal(metadataPieceCount(16385), 2);
    assert.equal(metadataPieceLength(16385, 1), 1);
    assert.equal(metadataPieceLength(16385, 0), 16384);
  });

  it("round-trips every message (property)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 * METADATA_PIECE_SIZE }), fc.nat(), (size, p) => {
        const piece = p % metadataPieceCount(size);
        const data = new Uint8Array(metadataPieceLength(size, piece)).fill(piece & 0xff);
        const m = decodeMetadataMessage(encodeMetadataData(piece, size, data), {
          metadataSize: size,
        });
        assert.deepEqual(m, { type: "data", piece, totalSize: size, data });
        assert.deepEqual(decodeMetadataMessage(encodeMetadataRequest(piece)), {
          type: "request",
          piece,
        });
        assert.deepEqual(decodeMetadataMessage(encodeMetadataReject(piece)), {
          type: "reject",
          piece,
        });
      }),
      { numRuns: 200 },
    );
  });

  it("never throws anything but ExtError on random bytes (property)", () => {
    const prefix = fc.constantFrom(
      "",
      "d8:msg_typei1e5:piecei0e10:total_sizei",
      "d8:msg_typei0e5:piecei",
      "d8:msg_typei1e",
    );
    fc.assert(
      fc.property(prefix, fc.uint8Array({ maxLength: 100 }), (p, tail) => {
        onlyExtErrors(() => decodeMetadataMessage(concat(b(p), tail)));
        onlyExtErrors(() => decodeMetadataMessage(concat(b(p), tail), { metadataSize: 3 }));
      }),
      { numRuns: 3000 },
    );
  });
});
