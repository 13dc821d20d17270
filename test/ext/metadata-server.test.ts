import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeMetadataMessage, MetadataServer } from "../../src/ext/index.js";

const INFO = Uint8Array.from({ length: 40_000 }, (_, i) => i & 0xff);

describe("MetadataServer", () => {
  it("rejects everything while it has no metadata, serves once given it", () => {
    const s = new MetadataServer<string>();
    assert.equal(s.metadataSize, undefined);
    const r = s.onRequest("A", 0);
    assert.equal(r.type, "reject");
    assert.deepEqual(decodeMetadataMessage(r.payload), { type: "reject", piece: 0 });
    s.setInfo(INFO);
    assert.equal(s.metadataSize, 40_000);
    const d = s.onRequest("A", 2);
    assert.equal(d.type, "data");
    const m = decodeMetadataMessage(d.payload, { metadataSize: 40_000 });
    assert.equal(m.type, "data");
    assert.deepEqual(m.type === "data" && m.data, INFO.subarray(32768));
  });

  it("rejects pieces out of range", () => {
    const s = new MetadataServer<string>(INFO);
    assert.equal(s.onRequest("A", 3).type, "reject");
    assert.equal(s.onRequest("A", -1).type, "reject");
  });

  it("serves one piece at most twice per peer and caps the total at 3x the pieces", () => {
    const s = new MetadataServer<string>(INFO);
    assert.equal(s.onRequest("A", 0).type, "data");
    assert.equal(s.onRequest("A", 0).type, "data");
    assert.equal(s.onRequest("A", 0).type, "reject");
    assert.equal(s.onRequest("B", 0).type, "data", "counters are per peer");
    const t = new MetadataServer<string>(INFO, { maxServesOfOnePiece: 100 });
    for (let i = 0; i < 9; i++) assert.equal(t.onRequest("A", i % 3).type, "data");
    assert.equal(t.onRequest("A", 1).type, "reject");
    t.removePeer("A");
    assert.equal(t.onRequest("A", 1).type, "data", "a new connection starts afresh");
  });
});
