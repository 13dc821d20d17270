/** Fuzz target: BEP 10 extension messages as a peer receives them (handshake, ut_metadata, ut_pex, upload_only, lt_donthave). */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Encodable, encode } from "../../../src/bencode/index.js";
import {
  DEFAULT_LOCAL_IDS,
  decodePex,
  ExtError,
  ExtensionRegistry,
  PeerExtensions,
} from "../../../src/ext/index.js";
import { bytesCodec, type FuzzTarget } from "../engine.js";
import { arbEncodable, mutatedBytes } from "../mutate.js";

const ids = [0, ...DEFAULT_LOCAL_IDS.values(), 9];

const handshake: fc.Arbitrary<Uint8Array> = fc
  .record(
    {
      m: fc.oneof(
        fc.dictionary(
          fc.constantFrom("ut_metadata", "ut_pex", "upload_only", "lt_donthave", "x", "__proto__"),
          fc.oneof(fc.integer({ min: -1, max: 300 }), arbEncodable),
          { maxKeys: 6 },
        ),
        arbEncodable,
      ),
      v: fc.oneof(fc.string({ maxLength: 300 }), arbEncodable),
      p: fc.oneof(fc.integer({ min: -1, max: 70000 }), arbEncodable),
      reqq: fc.oneof(fc.integer({ min: -1, max: 1 << 20 }), arbEncodable),
      yourip: fc.uint8Array({ maxLength: 17 }),
      ipv4: fc.uint8Array({ maxLength: 5 }),
      ipv6: fc.uint8Array({ maxLength: 17 }),
      metadata_size: fc.oneof(fc.integer({ min: -1, max: 1 << 26 }), arbEncodable),
      upload_only: fc.oneof(fc.integer({ min: -1, max: 2 }), arbEncodable),
    },
    { requiredKeys: [] },
  )
  .map((r) => encode(r as unknown as Encodable));

const metadata: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.record(
      {
        msg_type: fc.oneof(fc.integer({ min: -1, max: 3 }), arbEncodable),
        piece: fc.oneof(fc.integer({ min: -1, max: 2000 }), arbEncodable),
        total_size: fc.oneof(fc.integer({ min: -1, max: 1 << 25 }), arbEncodable),
      },
      { requiredKeys: [] },
    ),
    fc.uint8Array({ maxLength: 17000 }),
  )
  .map(([d, tail]) => Buffer.concat([encode(d as unknown as Encodable), tail]));

const pex: fc.Arbitrary<Uint8Array> = fc
  .record(
    {
      added: fc.uint8Array({ maxLength: 700 }),
      "added.f": fc.uint8Array({ maxLength: 120 }),
      dropped: fc.uint8Array({ maxLength: 70 }),
      added6: fc.uint8Array({ maxLength: 400 }),
      "added6.f": fc.uint8Array({ maxLength: 30 }),
      dropped6: arbEncodable,
    },
    { requiredKeys: [] },
  )
  .map((r) => encode(r as unknown as Encodable));

/** First byte: our extension id the message arrived under; the rest is its payload. */
function run(input: Uint8Array): void {
  const ext = new PeerExtensions(new ExtensionRegistry());
  const extId = input.length === 0 ? 0 : ids[input[0]! % ids.length]!;
  const msg = ext.decode(extId, input.subarray(1), { pieceCount: 1000 });
  if (msg.type === "handshake") {
    const h = msg.handshake;
    for (const id of h.m.values()) assert.ok(Number.isInteger(id) && id >= 0 && id <= 255);
    if (h.port !== undefined) assert.ok(h.port >= 1 && h.port <= 65535);
    if (h.reqq !== undefined) assert.ok(h.reqq >= 1);
  } else if (msg.type === "ut_pex") {
    const d = decodePex(msg.payload);
    assert.ok(d.added.length <= 100 && d.dropped.length <= 100, "PEX over its cap");
    for (const p of d.added) assert.ok(p.port >= 1 && p.port <= 65535);
  } else if (msg.type === "lt_donthave") {
    assert.ok(msg.index >= 0 && msg.index < 1000);
  }
}

const tagged = (tag: number, arb: fc.Arbitrary<Uint8Array>) =>
  arb.map((b) => {
    const out = new Uint8Array(b.length + 1);
    out[0] = tag;
    out.set(b, 1);
    return out;
  });
const idIndex = (name: string) => ids.indexOf(DEFAULT_LOCAL_IDS.get(name as never)!);

export const extensionsTarget: FuzzTarget<Uint8Array> = {
  name: "extensions",
  errors: [ExtError],
  generators: [
    { name: "handshake", arb: tagged(0, fc.oneof(handshake, mutatedBytes(handshake))), weight: 2 },
    {
      name: "ut_metadata",
      arb: tagged(idIndex("ut_metadata"), fc.oneof(metadata, mutatedBytes(metadata))),
    },
    { name: "ut_pex", arb: tagged(idIndex("ut_pex"), fc.oneof(pex, mutatedBytes(pex))) },
    { name: "random", arb: fc.uint8Array({ maxLength: 64 }) },
  ],
  run,
  codec: bytesCodec,
};
