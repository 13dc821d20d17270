import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encodeMessage, type WireMessage } from "../../src/wire/index.js";
import {
  arbConversation,
  bitfieldOf,
  decodeChunks,
  decoder,
  drain,
  GEOMETRY,
  HANDSHAKE,
  INFO_HASH,
  normalize,
  PEER_ID,
  pi,
  splitAt,
  stream,
} from "./helpers.js";

const SEED = 0x7e55e7a;

/** One of every message, in an order the decoder accepts. */
const EVERY: WireMessage[] = [
  { type: "bitfield", bits: bitfieldOf(GEOMETRY, Uint8Array.of(0xff, 0xff)) },
  { type: "keep_alive" },
  { type: "choke" },
  { type: "unchoke" },
  { type: "interested" },
  { type: "not_interested" },
  { type: "have", index: pi(9) },
  { type: "request", index: pi(0), begin: 0, length: 16384 },
  // The short last piece: 20000 bytes, so its second block is 3616 bytes.
  { type: "request", index: pi(9), begin: 16384, length: 3616 },
  {
    type: "piece",
    index: pi(1),
    begin: 16384,
    block: Uint8Array.from({ length: 16384 }, (_, i) => i),
  },
  { type: "piece", index: pi(9), begin: 19999, block: Uint8Array.of(42) },
  { type: "cancel", index: pi(2), begin: 100, length: 200 },
  { type: "port", port: 51413 },
  { type: "suggest", index: pi(3) },
  { type: "reject", index: pi(4), begin: 0, length: 16384 },
  { type: "allowed_fast", index: pi(5) },
  { type: "extended", extId: 0, payload: new TextEncoder().encode("d1:md6:ut_pexi1eee") },
  { type: "extended", extId: 3, payload: new Uint8Array(0) },
  { type: "unknown", id: 21, payload: Uint8Array.of(1, 2, 3) },
];

const EXPECT_HANDSHAKE = {
  type: "handshake",
  reserved: Uint8Array.from(HANDSHAKE.subarray(20, 28)),
  infoHash: INFO_HASH,
  peerId: PEER_ID,
};

function decodeWhole(bytes: Uint8Array): unknown[] {
  return normalize(decodeChunks(decoder(), [bytes]));
}

describe("wire round-trip", () => {
  it("decodes every message it encodes", () => {
    assert.deepEqual(decodeWhole(stream(EVERY)), normalize([EXPECT_HANDSHAKE as never, ...EVERY]));
  });

  it("decodes have_all and have_none as first messages", () => {
    for (const type of ["have_all", "have_none"] as const) {
      const msgs: WireMessage[] = [{ type }, { type: "have", index: pi(1) }];
      assert.deepEqual(decodeWhole(stream(msgs)).slice(1), normalize(msgs));
    }
  });

  it("gives the same messages for 1-byte pushes, any split and coalesced input", () => {
    const bytes = stream(EVERY);
    const whole = decodeWhole(bytes);
    const ones = Array.from(bytes, (b) => Uint8Array.of(b));
    assert.deepEqual(normalize(decodeChunks(decoder(), ones)), whole);
    // Everything pushed before the first next(): the chunk list must cope with 30k entries.
    const d = decoder();
    for (const c of ones) d.push(c);
    assert.deepEqual(normalize(drain(d)), whole);
    assert.equal(d.bufferedBytes, 0);
  });

  it("gives the same messages for random conversations cut at random points", () => {
    fc.assert(
      fc.property(
        arbConversation(GEOMETRY),
        fc.array(fc.nat(), { maxLength: 30 }),
        (msgs, cuts) => {
          const bytes = stream(msgs);
          const want = normalize([EXPECT_HANDSHAKE as never, ...msgs]);
          const split = splitAt(
            bytes,
            cuts.map((c) => c % (bytes.length + 1)),
          );
          assert.deepEqual(normalize(decodeChunks(decoder(), split)), want);
          assert.deepEqual(decodeWhole(bytes), want);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("gives the same messages when every chunk is a transient view of one reused buffer", () => {
    fc.assert(
      fc.property(
        arbConversation(GEOMETRY),
        fc.array(fc.nat(), { maxLength: 30 }),
        (msgs, cuts) => {
          const bytes = stream(msgs);
          const want = normalize([EXPECT_HANDSHAKE as never, ...msgs]);
          const split = splitAt(
            bytes,
            cuts.map((c) => c % (bytes.length + 1)),
          );
          // As a socket reading into one buffer: each chunk lands in the same memory, the
          // decoder is drained and detached, and the buffer is scribbled over before the next.
          const shared = Buffer.alloc(Math.max(1, ...split.map((c) => c.length)));
          const d = decoder();
          const got: unknown[] = [];
          for (const c of split) {
            shared.set(c);
            d.push(shared.subarray(0, c.length), true);
            // Blocks are valid until the buffer is reused: copy them now, as a peer host does.
            got.push(...normalize(drain(d)));
            d.detach();
            shared.fill(0xee);
          }
          assert.deepEqual(got, want);
          assert.equal(d.bufferedBytes, 0);
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });

  it("copies payloads other than blocks out of a transient chunk", () => {
    const bytes = stream(EVERY);
    const shared = Buffer.from(bytes);
    const d = decoder();
    d.push(shared, true);
    const items = drain(d);
    d.detach();
    const kept = items.filter((m) => m.type !== "piece");
    const before = normalize(kept);
    shared.fill(0xee);
    assert.deepEqual(normalize(kept), before);
    const hs = items[0] as { peerId: Uint8Array };
    assert.deepEqual(hs.peerId, PEER_ID);
  });

  it("decodes without a handshake when told so", () => {
    const d = decoder({ expectHandshake: false });
    const bytes = Buffer.concat(EVERY.map(encodeMessage));
    assert.deepEqual(normalize(decodeChunks(d, [bytes])), normalize(EVERY));
  });
});
