import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ChunkQueue } from "../../src/wire/chunks.js";
import { encodePieceHeader, type WireMessage } from "../../src/wire/index.js";
import { concat, decodeChunks, decoder, drain, HANDSHAKE } from "./helpers.js";

describe("wire chunk queue", () => {
  it("reads u32s and bytes across chunk boundaries", () => {
    const q = new ChunkQueue();
    q.push(Uint8Array.of(0x01));
    q.push(Uint8Array.of());
    q.push(Uint8Array.of(0x02, 0x03));
    q.push(Uint8Array.of(0x04, 0x05, 0x06, 0x07, 0x08, 0x09));
    assert.equal(q.length, 9);
    assert.equal(q.peek(3), 0x04);
    assert.equal(q.readU32(), 0x01020304);
    assert.equal(q.readU32(), 0x05060708);
    assert.equal(q.readU8(), 0x09);
    assert.equal(q.length, 0);
  });

  it("returns a view inside one chunk and a copy across chunks", () => {
    const a = Uint8Array.of(1, 2, 3, 4);
    const b = Uint8Array.of(5, 6, 7, 8);
    const q = new ChunkQueue();
    q.push(a);
    q.push(b);
    const v = q.take(2);
    assert.equal(v.buffer, a.buffer);
    const c = q.take(4);
    assert.notEqual(c.buffer, a.buffer);
    assert.notEqual(c.buffer, b.buffer);
    assert.deepEqual(c, Uint8Array.of(3, 4, 5, 6));
    assert.deepEqual(q.take(2), Uint8Array.of(7, 8));
    assert.deepEqual(q.take(0), new Uint8Array(0));
  });
});

describe("wire chunk queue detach", () => {
  it("copies the unconsumed bytes out of every pushed chunk", () => {
    const a = Uint8Array.of(1, 2, 3, 4);
    const b = Uint8Array.of(5, 6, 7);
    const q = new ChunkQueue();
    q.push(a);
    q.push(b);
    assert.equal(q.readU8(), 1);
    q.detach();
    a.fill(0);
    b.fill(0);
    assert.equal(q.length, 6);
    assert.deepEqual(q.take(6), Uint8Array.of(2, 3, 4, 5, 6, 7));
    q.detach();
    assert.equal(q.length, 0);
  });
});

describe("wire decoder memory", () => {
  it("hands out piece blocks as views when inside one chunk, copies when straddling", () => {
    const block = new Uint8Array(16384).fill(7);
    const inside = concat([encodePieceHeader(0, 0, block.length), block]);
    const d = decoder();
    decodeChunks(d, [HANDSHAKE]);
    d.push(inside);
    const m = d.next() as Extract<WireMessage, { type: "piece" }>;
    assert.equal(m.block.buffer, inside.buffer);
    assert.equal(m.block.byteOffset, 13);
    d.push(inside.subarray(0, 100));
    d.push(inside.subarray(100));
    const m2 = d.next() as Extract<WireMessage, { type: "piece" }>;
    assert.notEqual(m2.block.buffer, inside.buffer);
    assert.deepEqual(m2.block, block);
  });

  it("keeps buffered bytes bounded by one message while reading as it pushes", () => {
    const block = new Uint8Array(16384);
    const one = concat([encodePieceHeader(1, 0, block.length), block]);
    const many = concat(Array.from({ length: 64 }, () => one));
    const d = decoder();
    decodeChunks(d, [HANDSHAKE]);
    let count = 0;
    let peak = 0;
    for (let at = 0; at < many.length; at += 5000) {
      d.push(many.subarray(at, at + 5000));
      peak = Math.max(peak, d.bufferedBytes);
      count += drain(d).length;
      assert.ok(d.bufferedBytes < one.length, `buffered ${d.bufferedBytes}`);
    }
    assert.equal(count, 64);
    assert.equal(d.bufferedBytes, 0);
    assert.ok(peak > 0);
  });
});
