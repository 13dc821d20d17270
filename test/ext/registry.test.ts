import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encode } from "../../src/bencode/index.js";
import {
  DEFAULT_LOCAL_IDS,
  ExtensionRegistry,
  encodeDontHave,
  encodeExtHandshake,
  encodeMetadataRequest,
  encodeUploadOnly,
  PeerExtensions,
} from "../../src/ext/index.js";
import { onlyExtErrors, throwsExt } from "./helpers.js";
import { decodeMessages, encodeMessage } from "./wire-helpers.js";

const hs = (m: Record<string, number>, extra: Record<string, number> = {}) =>
  encodeExtHandshake({ m: new Map(Object.entries(m)), ...extra });

describe("ExtensionRegistry", () => {
  it("offers every extension under libtorrent's ids by default", () => {
    const r = new ExtensionRegistry();
    assert.deepEqual(
      r.localIds(),
      new Map([
        ["ut_pex", 1],
        ["ut_metadata", 2],
        ["upload_only", 3],
        ["lt_donthave", 7],
      ]),
    );
    assert.equal(r.nameOf(2), "ut_metadata");
    assert.equal(r.nameOf(0), undefined);
    assert.equal(r.nameOf(9), undefined);
    assert.equal(r.idOf("lt_donthave"), 7);
  });

  it("can leave ut_pex out (private torrents)", () => {
    const r = new ExtensionRegistry(["ut_metadata", "lt_donthave"]);
    assert.equal(r.idOf("ut_pex"), undefined);
    assert.equal(r.nameOf(1), undefined);
    assert.equal(r.localIds().size, 2);
  });

  it("refuses bad or shared ids", () => {
    assert.throws(
      () =>
        new ExtensionRegistry(
          ["ut_pex", "ut_metadata"],
          new Map([
            ["ut_pex", 1],
            ["ut_metadata", 1],
          ]),
        ),
      RangeError,
    );
    assert.throws(() => new ExtensionRegistry(["ut_pex"], new Map([["ut_pex", 0]])), RangeError);
    assert.throws(() => new ExtensionRegistry(["ut_pex"], new Map()), RangeError);
    assert.equal(DEFAULT_LOCAL_IDS.size, 4);
  });
});

describe("PeerExtensions", () => {
  it("sends with their ids and receives with ours", () => {
    const r = new ExtensionRegistry();
    const pe = new PeerExtensions(r);
    assert.equal(pe.outgoing("ut_metadata", Uint8Array.of(1)), undefined);
    const msg = pe.decode(0, hs({ ut_metadata: 9, ut_pex: 4 }, { metadata_size: 100 } as never));
    assert.equal(msg.type, "handshake");
    assert.deepEqual(pe.outgoing("ut_metadata", Uint8Array.of(1)), {
      type: "extended",
      extId: 9,
      payload: Uint8Array.of(1),
    });
    assert.equal(pe.supports("ut_pex"), true);
    assert.equal(pe.supports("lt_donthave"), false);
    // Incoming arrives under OUR id (2), not theirs (9).
    const m = pe.decode(2, encodeMetadataRequest(0));
    assert.deepEqual(m, { type: "ut_metadata", message: { type: "request", piece: 0 } });
    assert.deepEqual(pe.decode(9, encodeMetadataRequest(0)), { type: "unknown", extId: 9 });
  });

  it("merges re-sent handshakes: additive m, 0 disables, fields carried over", () => {
    const pe = new PeerExtensions(new ExtensionRegistry());
    pe.decode(
      0,
      encodeExtHandshake({
        m: new Map([
          ["ut_metadata", 3],
          ["ut_pex", 1],
        ]),
        reqq: 100,
        metadataSize: 5000,
      }),
    );
    pe.decode(
      0,
      encodeExtHandshake({
        m: new Map([
          ["ut_metadata", 0],
          ["lt_donthave", 8],
        ]),
        port: 7000,
      }),
    );
    assert.equal(pe.remoteId("ut_metadata"), undefined);
    assert.equal(pe.remoteId("ut_pex"), 1);
    assert.equal(pe.remoteId("lt_donthave"), 8);
    assert.equal(pe.handshake?.reqq, 100);
    assert.equal(pe.handshake?.port, 7000);
    assert.equal(pe.handshake?.metadataSize, 5000);
    assert.deepEqual([...(pe.handshake?.m ?? [])].sort(), [
      ["lt_donthave", 8],
      ["ut_pex", 1],
    ]);
  });

  it("decodes upload_only, lt_donthave and passes ut_pex raw", () => {
    const pe = new PeerExtensions(new ExtensionRegistry());
    assert.deepEqual(pe.decode(3, encodeUploadOnly(true)), {
      type: "upload_only",
      uploadOnly: true,
    });
    assert.deepEqual(pe.decode(7, encodeDontHave(5), { pieceCount: 10 }), {
      type: "lt_donthave",
      index: 5,
    });
    throwsExt(
      () => pe.decode(7, encodeDontHave(10), { pieceCount: 10 }),
      "DONTHAVE_PIECE_OUT_OF_RANGE",
    );
    const raw = encode({ added: new Uint8Array(0) });
    assert.deepEqual(pe.decode(1, raw), { type: "ut_pex", payload: raw });
  });

  it("checks ut_metadata data against the announced size", () => {
    const pe = new PeerExtensions(new ExtensionRegistry());
    pe.decode(0, encodeExtHandshake({ m: new Map([["ut_metadata", 3]]), metadataSize: 100 }));
    const data = encode({ msg_type: 1, piece: 0, total_size: 200 });
    throwsExt(
      () => pe.decode(2, new Uint8Array([...data, ...new Uint8Array(200)])),
      "UT_METADATA_BAD_TOTAL_SIZE",
    );
    // Our own size (ctx) wins over the peer's when we have the metadata.
    throwsExt(
      () => pe.decode(2, encodeMetadataRequest(1), { metadataSize: 16384 }),
      "UT_METADATA_PIECE_OUT_OF_RANGE",
    );
  });

  it("frames through the wire codec both ways", () => {
    const pe = new PeerExtensions(new ExtensionRegistry());
    pe.decode(0, hs({ lt_donthave: 42 }));
    const out = pe.outgoing("lt_donthave", encodeDontHave(3));
    assert.ok(out);
    const [msg] = decodeMessages(encodeMessage(out));
    assert.deepEqual(msg, { type: "extended", extId: 42, payload: encodeDontHave(3) });
  });

  it("never throws anything but ExtError on random ids and payloads (property)", () => {
    fc.assert(
      fc.property(fc.nat(255), fc.uint8Array({ maxLength: 120 }), (id, payload) => {
        const pe = new PeerExtensions(new ExtensionRegistry());
        onlyExtErrors(() => pe.decode(id, payload, { pieceCount: 5 }));
      }),
      { numRuns: 3000 },
    );
  });
});
