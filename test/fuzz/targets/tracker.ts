/** Fuzz target: tracker replies — HTTP announce and scrape bodies, and UDP packets (BEP 15). */
import assert from "node:assert/strict";
import fc from "fast-check";
import { type Encodable, encode } from "../../../src/bencode/index.js";
import {
  decodeUdpReply,
  parseAnnounceBody,
  parseScrapeBody,
  TrackerError,
} from "../../../src/tracker/index.js";
import { bytesCodec, type FuzzTarget } from "../engine.js";
import { arbEncodable, mutatedBytes } from "../mutate.js";

const HASH = new Uint8Array(20).fill(7);
const HASH_KEY = Buffer.from(HASH).toString("latin1");

const compact = (unit: number) =>
  fc
    .integer({ min: 0, max: 40 })
    .chain((n) =>
      fc.uint8Array({ minLength: n * unit, maxLength: n * unit + (n % 3 === 0 ? 3 : 0) }),
    );

/** Plausible announce replies, with hostile values mixed in. */
const announce: fc.Arbitrary<Uint8Array> = fc
  .record(
    {
      interval: fc.oneof(fc.nat(), fc.constant(-1), arbEncodable),
      "min interval": fc.oneof(fc.nat(), arbEncodable),
      complete: fc.oneof(fc.nat(), arbEncodable),
      incomplete: fc.nat(),
      peers: fc.oneof(
        compact(6),
        fc.array(
          fc.record({
            ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant("host.example"), fc.string()),
            port: fc.oneof(fc.integer({ min: -1, max: 70000 }), arbEncodable),
            "peer id": fc.uint8Array({ maxLength: 20 }),
          }),
          { maxLength: 20 },
        ),
        arbEncodable,
      ),
      peers6: compact(18),
      "failure reason": fc.oneof(fc.string(), arbEncodable),
      "warning message": fc.string(),
      "tracker id": fc.uint8Array({ maxLength: 300 }),
    },
    { requiredKeys: [] },
  )
  .map((r) => encode(r as unknown as Encodable));

const scrape: fc.Arbitrary<Uint8Array> = fc
  .record(
    {
      files: fc.oneof(
        fc.dictionary(fc.constantFrom(HASH_KEY, "x", ""), arbEncodable, { maxKeys: 3 }),
        fc.constant({
          [HASH_KEY]: { complete: 1, incomplete: 2, downloaded: 3 },
        } as Record<string, Encodable>),
        arbEncodable,
      ),
      "failure reason": fc.string(),
    },
    { requiredKeys: [] },
  )
  .map((r) => encode(r as unknown as Encodable));

const udp: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.integer({ min: 0, max: 5 }),
    fc.nat({ max: 0xffffffff }),
    fc.uint8Array({ maxLength: 200 }),
  )
  .map(([action, tid, rest]) => {
    const b = Buffer.alloc(8 + rest.length);
    b.writeUInt32BE(action, 0);
    b.writeUInt32BE(tid, 4);
    b.set(rest, 8);
    return new Uint8Array(b);
  });

function run(input: Uint8Array): void {
  // The first byte picks the decoder, so one byte stream exercises all three.
  const which = input.length === 0 ? 0 : input[0]! % 4;
  const body = input.subarray(1);
  if (which === 0) {
    const r = parseAnnounceBody(body);
    for (const p of r.peers) assert.ok(p.port >= 1 && p.port <= 65535, "peer with a bad port");
  } else if (which === 1) {
    const c = parseScrapeBody(body, HASH);
    assert.ok(c.complete >= 0 && c.incomplete >= 0 && c.downloaded >= 0);
  } else {
    decodeUdpReply(body, which === 3);
  }
}

const tagged = (tag: number, arb: fc.Arbitrary<Uint8Array>) =>
  arb.map((b) => {
    const out = new Uint8Array(b.length + 1);
    out[0] = tag;
    out.set(b, 1);
    return out;
  });

export const trackerTarget: FuzzTarget<Uint8Array> = {
  name: "tracker",
  errors: [TrackerError],
  generators: [
    { name: "announce", arb: tagged(0, announce) },
    { name: "announce-mutated", arb: tagged(0, mutatedBytes(announce)), weight: 2 },
    { name: "scrape", arb: tagged(1, fc.oneof(scrape, mutatedBytes(scrape))) },
    { name: "udp", arb: fc.oneof(tagged(2, udp), tagged(3, udp), tagged(2, mutatedBytes(udp))) },
    { name: "random", arb: fc.uint8Array({ maxLength: 256 }) },
  ],
  run,
  codec: bytesCodec,
  // Parsing can only fail as a bad reply or the tracker's own failure reason.
  minCodes: 2,
};
