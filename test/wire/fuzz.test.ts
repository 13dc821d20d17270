import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { pieceSize, WireError, type WireMessage } from "../../src/wire/index.js";
import {
  arbConversation,
  decodeChunks,
  decoder,
  GEOMETRY,
  HANDSHAKE,
  splitAt,
  stream,
} from "./helpers.js";

const SEED = 20240601;

/** Decode; return the messages, or the WireError. Any other exception fails the property. */
function run(chunks: Uint8Array[], opts: Parameters<typeof decoder>[0] = {}) {
  const d = decoder(opts);
  const out: WireMessage[] = [];
  try {
    for (const m of decodeChunks(d, chunks)) if (m.type !== "handshake") out.push(m);
    return { out, error: undefined };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    assert.equal(d.bufferedBytes, 0);
    return { out, error: e };
  }
}

/** Every message the decoder lets through obeys the limits it promises. */
function checkInvariants(msgs: WireMessage[], fast: boolean, extended: boolean) {
  msgs.forEach((m, i) => {
    if ("index" in m) assert.ok(m.index < GEOMETRY.pieceCount, `${m.type} index ${m.index}`);
    if (m.type === "request" || m.type === "cancel" || m.type === "reject") {
      assert.ok(m.length > 0 && m.length <= 16384);
      assert.ok(m.begin + m.length <= pieceSize(GEOMETRY, m.index));
    }
    if (m.type === "piece") {
      assert.ok(m.block.length > 0 && m.block.length <= 16384);
      assert.ok(m.begin + m.block.length <= pieceSize(GEOMETRY, m.index));
    }
    if (m.type === "bitfield") assert.equal(m.bits.length, 2);
    if (["suggest", "have_all", "have_none", "reject", "allowed_fast"].includes(m.type)) {
      assert.ok(fast, `${m.type} without fast`);
    }
    if (m.type === "extended") assert.ok(extended);
    if (m.type === "bitfield" || m.type === "have_all" || m.type === "have_none") {
      const before = msgs.slice(0, i);
      assert.ok(
        before.every((b) => ["keep_alive", "extended", "port", "unknown"].includes(b.type)),
        `${m.type} after ${before.map((b) => b.type)}`,
      );
    }
  });
}

const flags = fc.record({ fast: fc.boolean(), extended: fc.boolean() });

describe("wire decoder on hostile input", () => {
  it("random bytes after a valid handshake only ever throw WireError", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2000 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        flags,
        (bytes, cuts, f) => {
          const { out } = run([HANDSHAKE, ...splitAt(bytes, cuts)], f);
          checkInvariants(out, f.fast, f.extended);
        },
      ),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("random frames (plausible lengths and ids) only ever throw WireError", () => {
    const frame = fc
      .tuple(
        fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 0xffffffff })),
        fc.integer({ min: 0, max: 25 }),
        fc.uint8Array({ maxLength: 40 }),
      )
      .map(([len, id, body]) =>
        Uint8Array.of(len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, id, ...body),
      );
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 20 }), flags, (frames, f) => {
        const { out } = run([HANDSHAKE, ...frames], f);
        checkInvariants(out, f.fast, f.extended);
      }),
      { seed: SEED, numRuns: 1000 },
    );
  });

  it("valid conversations with corrupted bytes only ever throw WireError", () => {
    fc.assert(
      fc.property(
        arbConversation(GEOMETRY, 20),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (msgs, flips, cuts) => {
          const bytes = stream(msgs);
          for (const [at, x] of flips) {
            const i = 68 + (at % Math.max(1, bytes.length - 68));
            if (i < bytes.length) bytes[i] = bytes[i]! ^ x;
          }
          const { out } = run(splitAt(bytes, cuts));
          checkInvariants(out, true, true);
        },
      ),
      { seed: SEED, numRuns: 500 },
    );
  });

  it("random bytes as a handshake only ever throw WireError", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        run([bytes]);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});
