import assert from "node:assert/strict";
import fc from "fast-check";
import type { PieceIndex } from "../../src/types.js";
import {
  buildReserved,
  encodeHandshake,
  encodeMessage,
  type HandshakeInfo,
  type PieceGeometry,
  pieceSize,
  WireDecoder,
  type WireDecoderOptions,
  WireError,
  type WireMessage,
} from "../../src/wire/index.js";

/** 10 pieces of 32 KiB, the last one 20000 bytes: two blocks per piece, a short last piece. */
export const GEOMETRY: PieceGeometry = {
  pieceCount: 10,
  pieceLength: 32768,
  totalLength: 9 * 32768 + 20000,
};

export const INFO_HASH = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
export const PEER_ID = new TextEncoder().encode("-TS0001-abcdefghijkl");

/** A handshake advertising fast, extended and DHT. */
export const HANDSHAKE = encodeHandshake({
  infoHash: INFO_HASH,
  peerId: PEER_ID,
  reserved: buildReserved(["fast", "extended", "dht"]),
});

export const pi = (n: number) => n as PieceIndex;

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Bytes of a handshake followed by `msgs`. */
export function stream(msgs: readonly WireMessage[], handshake = HANDSHAKE): Uint8Array {
  return concat([handshake, ...msgs.map(encodeMessage)]);
}

export function decoder(opts: Partial<WireDecoderOptions> = {}): WireDecoder {
  return new WireDecoder({ ...GEOMETRY, fast: true, extended: true, ...opts });
}

type Item = WireMessage | HandshakeInfo;

/** Drain every complete item. */
export function drain(d: WireDecoder, out: Item[] = []): Item[] {
  for (let m = d.next(); m !== undefined; m = d.next()) out.push(m);
  return out;
}

/** Push `chunks` one at a time, draining after each; returns every item in order. */
export function decodeChunks(d: WireDecoder, chunks: readonly Uint8Array[]): Item[] {
  const out: Item[] = [];
  for (const c of chunks) {
    d.push(c);
    drain(d, out);
  }
  return out;
}

/** `bytes` cut at the given (unsorted, possibly repeated) positions. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => Math.min(Math.max(c, 0), bytes.length)))].sort(
    (a, b) => a - b,
  );
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of [...points, bytes.length]) {
    if (p > prev) out.push(bytes.slice(prev, p));
    prev = p;
  }
  return out;
}

/** Items with every byte array copied into a plain Uint8Array, for deepEqual. */
export function normalize(items: readonly Item[]): unknown[] {
  return items.map((m) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(m)) o[k] = v instanceof Uint8Array ? Uint8Array.from(v) : v;
    return o;
  });
}

/** Assert `fn` throws a WireError with `code`. */
export function throwsCode(fn: () => unknown, code: string): WireError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof WireError, `expected WireError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** A valid bitfield for `g` from random bytes (spare bits cleared). */
export function bitfieldOf(g: PieceGeometry, bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  const rem = g.pieceCount & 7;
  if (rem !== 0) out[out.length - 1]! &= (0xff << (8 - rem)) & 0xff;
  return out;
}

/** Arbitrary block (index, begin, length) inside `g`, with length ≤ `maxLen`. */
export function arbBlock(g: PieceGeometry, maxLen: number) {
  return fc.integer({ min: 0, max: g.pieceCount - 1 }).chain((index) => {
    const size = pieceSize(g, index);
    return fc
      .integer({ min: 0, max: size - 1 })
      .chain((begin) =>
        fc
          .integer({ min: 1, max: Math.min(maxLen, size - begin) })
          .map((length) => ({ index: pi(index), begin, length })),
      );
  });
}

/** Arbitrary message valid after the first message (no bitfield/have_all/have_none). */
export function arbLaterMessage(g: PieceGeometry): fc.Arbitrary<WireMessage> {
  const index = fc.integer({ min: 0, max: g.pieceCount - 1 }).map(pi);
  const bytes = (max: number) => fc.uint8Array({ maxLength: max });
  return fc.oneof(
    fc.constant<WireMessage>({ type: "keep_alive" }),
    fc.constantFrom<WireMessage>(
      { type: "choke" },
      { type: "unchoke" },
      { type: "interested" },
      { type: "not_interested" },
    ),
    index.map<WireMessage>((i) => ({ type: "have", index: i })),
    index.map<WireMessage>((i) => ({ type: "suggest", index: i })),
    index.map<WireMessage>((i) => ({ type: "allowed_fast", index: i })),
    arbBlock(g, 16384).map<WireMessage>((b) => ({ type: "request", ...b })),
    arbBlock(g, 16384).map<WireMessage>((b) => ({ type: "cancel", ...b })),
    arbBlock(g, 16384).map<WireMessage>((b) => ({ type: "reject", ...b })),
    arbBlock(g, 300).chain((b) =>
      fc.uint8Array({ minLength: b.length, maxLength: b.length }).map<WireMessage>((block) => ({
        type: "piece",
        index: b.index,
        begin: b.begin,
        block,
      })),
    ),
    fc.integer({ min: 0, max: 65535 }).map<WireMessage>((port) => ({ type: "port", port })),
    fc
      .tuple(fc.integer({ min: 0, max: 255 }), bytes(200))
      .map<WireMessage>(([extId, payload]) => ({ type: "extended", extId, payload })),
    fc
      .tuple(fc.integer({ min: 21, max: 255 }), bytes(100))
      .map<WireMessage>(([id, payload]) => ({ type: "unknown", id, payload })),
  );
}

/** Arbitrary first message: none, a bitfield, have_all or have_none. */
export function arbFirstMessage(g: PieceGeometry): fc.Arbitrary<WireMessage[]> {
  const n = Math.ceil(g.pieceCount / 8);
  return fc.oneof(
    fc.constant<WireMessage[]>([]),
    fc.constant<WireMessage[]>([{ type: "have_all" }]),
    fc.constant<WireMessage[]>([{ type: "have_none" }]),
    fc
      .uint8Array({ minLength: n, maxLength: n })
      .map<WireMessage[]>((b) => [{ type: "bitfield", bits: bitfieldOf(g, b) }]),
  );
}

/** Arbitrary valid conversation after the handshake. */
export function arbConversation(g: PieceGeometry, maxLength = 40): fc.Arbitrary<WireMessage[]> {
  return fc
    .tuple(arbFirstMessage(g), fc.array(arbLaterMessage(g), { maxLength }))
    .map(([first, rest]) => [...first, ...rest]);
}
