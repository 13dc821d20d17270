/**
 * Fuzz target: the peer-wire decoder (handshake and frames). Every input is decoded three ways —
 * in one chunk, cut at the input's cut points, and one byte at a time — which must agree on the
 * messages and on the error; messages let through must obey the limits the decoder promises.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  bitfieldLength,
  buildReserved,
  encodeHandshake,
  HANDSHAKE_LENGTH,
  MAX_BLOCK_LENGTH,
  MAX_EXTENDED_MESSAGE_LENGTH,
  type PieceGeometry,
  pieceSize,
  WireDecoder,
  WireError,
  type WireMessage,
} from "../../../src/wire/index.js";
import {
  arbConversation,
  concat,
  GEOMETRY,
  INFO_HASH,
  normalize,
  PEER_ID,
  splitAt,
  stream,
} from "../../wire/helpers.js";
import { type FuzzTarget, jsonCodec } from "../engine.js";
import { mutatedBytes } from "../mutate.js";

export interface WireInput {
  fast: boolean;
  extended: boolean;
  lateBitfield: boolean;
  /** Decode a handshake first (the bytes then start with one). */
  handshake: boolean;
  /** Give the decoder {@link GEOMETRY} (otherwise as for a magnet link: unknown). */
  geometry: boolean;
  bytes: Uint8Array;
  cuts: number[];
  /** For unmutated conversations: exactly what must come out. */
  expect?: WireMessage[];
}

const flags = fc.record({
  fast: fc.boolean(),
  extended: fc.boolean(),
  lateBitfield: fc.boolean(),
  geometry: fc.boolean(),
});
const cuts = fc.array(fc.nat(), { maxLength: 12 });

const HANDSHAKE_ALL = encodeHandshake({
  infoHash: INFO_HASH,
  peerId: PEER_ID,
  reserved: buildReserved(["fast", "extended", "dht"]),
});

const valid: fc.Arbitrary<WireInput> = fc
  .tuple(arbConversation(GEOMETRY, 30), cuts, fc.boolean())
  .map(([msgs, c, late]) => ({
    fast: true,
    extended: true,
    lateBitfield: late,
    handshake: true,
    geometry: true,
    bytes: stream(msgs, HANDSHAKE_ALL),
    cuts: c,
    expect: msgs,
  }));

const mutated: fc.Arbitrary<WireInput> = fc
  .tuple(
    mutatedBytes(
      arbConversation(GEOMETRY, 20).map((m) => stream(m, HANDSHAKE_ALL)),
      4,
      { maxRepeat: 50 },
    ),
    flags,
    cuts,
  )
  .map(([bytes, f, c]) => ({ ...f, handshake: true, bytes, cuts: c }));

const frame = fc
  .tuple(
    fc.oneof(
      fc.integer({ min: 0, max: 40 }),
      fc.constantFrom(
        13,
        16393,
        16394,
        MAX_EXTENDED_MESSAGE_LENGTH,
        MAX_EXTENDED_MESSAGE_LENGTH + 1,
        0xffffffff,
      ),
      fc.integer({ min: 0, max: 0xffffffff }),
    ),
    fc.integer({ min: 0, max: 30 }),
    fc.uint8Array({ maxLength: 40 }),
  )
  .map(([len, id, body]) =>
    Uint8Array.of(len >>> 24, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff, id, ...body),
  );

const frames: fc.Arbitrary<WireInput> = fc
  .tuple(fc.array(frame, { maxLength: 20 }), flags, fc.boolean(), cuts)
  .map(([fs, f, hs, c]) => ({
    ...f,
    handshake: hs,
    bytes: concat(hs ? [HANDSHAKE_ALL, ...fs] : fs),
    cuts: c,
  }));

const random: fc.Arbitrary<WireInput> = fc
  .tuple(fc.uint8Array({ maxLength: 1000 }), flags, fc.boolean(), cuts)
  .map(([b, f, hs, c]) => ({
    ...f,
    handshake: hs,
    bytes: hs ? concat([HANDSHAKE_ALL, b]) : b,
    cuts: c,
  }));

const handshake: fc.Arbitrary<WireInput> = fc
  .tuple(
    mutatedBytes(
      fc
        .tuple(
          fc.uint8Array({ minLength: 8, maxLength: 8 }),
          fc.uint8Array({ minLength: 40, maxLength: 40 }),
        )
        .map(([r, ids]) =>
          encodeHandshake({ reserved: r, infoHash: ids.subarray(0, 20), peerId: ids.subarray(20) }),
        ),
      2,
    ),
    flags,
    cuts,
  )
  .map(([bytes, f, c]) => ({ ...f, handshake: true, bytes, cuts: c }));

/** Decode `chunks`: the messages, the error code (if any), and the largest buffered remainder. */
function decodeAll(input: WireInput, chunks: readonly Uint8Array[]) {
  const d = new WireDecoder({
    ...(input.geometry ? GEOMETRY : {}),
    fast: input.fast,
    extended: input.extended,
    lateBitfield: input.lateBitfield,
    expectHandshake: input.handshake,
  });
  const out: unknown[] = [];
  let maxBuffered = 0;
  try {
    for (const c of chunks) {
      d.push(c);
      for (let m = d.next(); m !== undefined; m = d.next()) out.push(m);
      maxBuffered = Math.max(maxBuffered, d.bufferedBytes);
    }
    return { out, error: undefined as WireError | undefined, maxBuffered, d };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    assert.equal(d.bufferedBytes, 0, "a dead decoder keeps bytes");
    assert.throws(
      () => d.next(),
      (x: unknown) => x === e,
      "a dead decoder must rethrow its error",
    );
    return { out, error: e, maxBuffered, d };
  }
}

/** What the decoder promises about every message it lets through. */
function checkMessages(items: unknown[], input: WireInput): void {
  const g: PieceGeometry | undefined = input.geometry ? GEOMETRY : undefined;
  const msgs = items as (WireMessage | { type: "handshake" })[];
  let fast = input.fast;
  let extended = input.extended;
  msgs.forEach((m, i) => {
    if (m.type === "handshake") {
      assert.equal(i, 0, "handshake not first");
      const h = m as unknown as { reserved: Uint8Array };
      fast &&= (h.reserved[7]! & 0x04) !== 0;
      extended &&= (h.reserved[5]! & 0x10) !== 0;
      return;
    }
    if (g !== undefined && "index" in m)
      assert.ok(m.index < g.pieceCount, `${m.type} index ${m.index}`);
    if (m.type === "request" || m.type === "cancel" || m.type === "reject") {
      assert.ok(m.length > 0 && m.length <= MAX_BLOCK_LENGTH);
      if (g !== undefined) assert.ok(m.begin + m.length <= pieceSize(g, m.index));
    }
    if (m.type === "piece") {
      assert.ok(m.block.length > 0 && m.block.length <= MAX_BLOCK_LENGTH);
      if (g !== undefined) assert.ok(m.begin + m.block.length <= pieceSize(g, m.index));
    }
    if (m.type === "bitfield" && g !== undefined)
      assert.equal(m.bits.length, bitfieldLength(g.pieceCount));
    if (["suggest", "have_all", "have_none", "reject", "allowed_fast"].includes(m.type)) {
      assert.ok(fast, `${m.type} without Fast negotiated`);
    }
    if (m.type === "extended") assert.ok(extended, "extended without BEP 10 negotiated");
    if (
      m.type === "have_all" ||
      m.type === "have_none" ||
      (m.type === "bitfield" && !input.lateBitfield)
    ) {
      const before = msgs.slice(0, i).filter((b) => b.type !== "handshake");
      assert.ok(
        before.every((b) => ["keep_alive", "extended", "port", "unknown"].includes(b.type)),
        `${m.type} after ${before.map((b) => b.type)}`,
      );
    }
  });
}

function run(input: WireInput): void {
  const whole = decodeAll(input, [input.bytes]);
  const split = decodeAll(input, splitAt(input.bytes, input.cuts));
  const bytewise = decodeAll(
    input,
    Array.from(input.bytes, (b) => Uint8Array.of(b)),
  );
  for (const other of [split, bytewise]) {
    assert.deepEqual(
      normalize(other.out as never),
      normalize(whole.out as never),
      "chunking changed the messages",
    );
    assert.equal(other.error?.code, whole.error?.code, "chunking changed the error");
  }
  // Reading as it pushes, the decoder holds at most one message in progress.
  const bound = Math.max(HANDSHAKE_LENGTH, 5 + MAX_EXTENDED_MESSAGE_LENGTH);
  assert.ok(bytewise.maxBuffered <= bound, `buffered ${bytewise.maxBuffered} bytes`);
  checkMessages(whole.out, input);
  if (input.expect !== undefined) {
    assert.equal(whole.error, undefined, `valid stream refused: ${whole.error?.message}`);
    const got = normalize(whole.out.slice(1) as never);
    assert.deepEqual(got, normalize(input.expect), "encode→decode round-trip");
  }
  if (whole.error !== undefined) throw whole.error;
}

export const wireTarget: FuzzTarget<WireInput> = {
  name: "wire",
  errors: [WireError],
  codec: jsonCodec<WireInput>(),
  quickRuns: 200,
  size: (i) => i.bytes.length,
  // Three decodes, one of them byte by byte.
  msPerKiB: 5,
  generators: [
    { name: "valid", arb: valid },
    { name: "mutated", arb: mutated, weight: 2 },
    { name: "frames", arb: frames, weight: 2 },
    { name: "random", arb: random },
    { name: "handshake", arb: handshake },
  ],
  run,
};
