/**
 * Fuzz target: the MSE/PE state machines. The side under test has seeded randomness, so an
 * honest counterpart's conversation with it can be recorded and replayed (then mutated). Each
 * input is fed in one chunk and cut at its cut points: both must end the same way (done with the
 * same payload, waiting, or the same MseError code); an unmutated conversation must complete.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  CRYPTO_PLAINTEXT,
  CRYPTO_RC4,
  MseError,
  MseInitiator,
  MseResponder,
  req2Hash,
} from "../../../src/mse/index.js";
import { seeded } from "../../mse/helpers.js";
import { type FuzzTarget, jsonCodec } from "../engine.js";
import { mutatedBytes } from "../mutate.js";

export interface MseInput {
  /** Test the responder (else the initiator). */
  responder: boolean;
  seed: number;
  /** Methods the side under test offers (initiator) or allows (responder): 1..3. */
  methods: number;
  bytes: Uint8Array;
  cuts: number[];
  /** Set for unmutated conversations: the payload that must come out. */
  expect?: Uint8Array;
}

const IH = Uint8Array.from({ length: 20 }, (_, i) => i * 7);
const REQ2 = Buffer.from(req2Hash(IH)).toString("hex");
const lookup = (r: Uint8Array) => (Buffer.from(r).toString("hex") === REQ2 ? IH : undefined);

function machine(i: MseInput): MseInitiator | MseResponder {
  const random = seeded(i.seed);
  if (i.responder) return new MseResponder({ lookup, allow: i.methods, random });
  const a = new MseInitiator({ infoHash: IH, provide: i.methods, random });
  a.start();
  return a;
}

/** What an honest counterpart sends to the side under test, with a payload behind it. */
function conversation(
  responder: boolean,
  seed: number,
  methods: number,
  other: number,
  payload: Uint8Array,
): MseInput {
  const me = machine({ responder, seed, methods, bytes: new Uint8Array(0), cuts: [] });
  const random = seeded(seed + 1);
  const sent: Uint8Array[] = [];
  let toMe: Uint8Array[] = [];
  let toThem: Uint8Array[] = [];
  if (responder) {
    const a = new MseInitiator({ infoHash: IH, provide: other, random, initialPayload: payload });
    toMe = [a.start()];
    for (let round = 0; round < 4; round++) {
      sent.push(...toMe);
      toThem = [];
      for (const c of toMe) {
        const s = me.receive(c);
        toThem.push(...s.send);
        if (s.done)
          return {
            responder,
            seed,
            methods,
            bytes: Buffer.concat(sent),
            cuts: [],
            expect: payload,
          };
      }
      toMe = [];
      for (const c of toThem) toMe.push(...a.receive(c).send);
    }
  } else {
    const b = new MseResponder({ lookup, allow: other, random });
    // The initiator's step 1 is made by start() inside machine(): replay it through a twin.
    const twin = new MseInitiator({ infoHash: IH, provide: methods, random: seeded(seed) });
    toThem = [twin.start()];
    for (let round = 0; round < 4; round++) {
      toMe = [];
      for (const c of toThem) {
        const s = b.receive(c);
        toMe.push(...s.send);
        if (s.done) toMe.push(s.done.encrypt ? s.done.encrypt.process(payload.slice()) : payload);
      }
      sent.push(...toMe);
      toThem = [];
      for (const c of toMe) {
        const s = me.receive(c);
        toThem.push(...s.send);
        if (s.done)
          return {
            responder,
            seed,
            methods,
            bytes: Buffer.concat(sent),
            cuts: [],
            expect: payload,
          };
      }
    }
  }
  throw new Error("honest conversation did not complete");
}

const methods = fc.constantFrom(CRYPTO_PLAINTEXT, CRYPTO_RC4, CRYPTO_PLAINTEXT | CRYPTO_RC4);
const cuts = fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 8 });
/** Method pairs with something in common, so honest conversations complete. */
const compatible = fc.tuple(methods, methods).filter(([m, o]) => (m & o) !== 0);

const validConversation = fc
  .tuple(
    fc.boolean(),
    fc.integer({ min: 1, max: 1 << 30 }),
    compatible,
    fc.uint8Array({ maxLength: 200 }),
  )
  .map(([r, seed, [m, o], p]) => conversation(r, seed, m, o, p));

const valid: fc.Arbitrary<MseInput> = fc
  .tuple(validConversation, cuts)
  .map(([c, k]) => ({ ...c, cuts: k }));

const mutated: fc.Arbitrary<MseInput> = fc
  .tuple(
    validConversation.chain((c) =>
      mutatedBytes(fc.constant(c.bytes), 3).map((bytes) => ({ ...c, bytes, expect: undefined })),
    ),
    cuts,
  )
  .map(([c, k]) => {
    const { expect: _drop, ...rest } = c;
    return { ...rest, cuts: k };
  });

const random: fc.Arbitrary<MseInput> = fc
  .tuple(
    fc.boolean(),
    fc.integer({ min: 1, max: 1 << 30 }),
    methods,
    fc.uint8Array({ maxLength: 1500 }),
    cuts,
  )
  .map(([r, seed, m, bytes, k]) => ({ responder: r, seed, methods: m, bytes, cuts: k }));

function cut(b: Uint8Array, sizes: number[]): Uint8Array[] {
  if (sizes.length === 0) return [b];
  const out: Uint8Array[] = [];
  let at = 0;
  for (let k = 0; at < b.length; k++) {
    const n = sizes[k % sizes.length]!;
    out.push(b.subarray(at, at + n));
    at += n;
  }
  return out;
}

/** Feed `chunks`; the outcome as a comparable string, the payload, or the typed error. */
function feed(i: MseInput, chunks: Uint8Array[]) {
  const m = machine(i);
  const payload: Uint8Array[] = [];
  let done = false;
  try {
    for (const c of chunks) {
      if (done) {
        payload.push(c);
        continue;
      }
      const s = m.receive(c);
      if (s.done) {
        done = true;
        payload.push(s.done.initial);
        assert.ok(s.done.method & i.methods, "selected a method that was not allowed");
        assert.deepEqual(s.done.infoHash, IH);
        if (s.done.decrypt) {
          // The rest of the chunks are payload: decrypt as the transport would.
          const dec = s.done.decrypt;
          const rest = chunks.slice(chunks.indexOf(c) + 1).map((x) => dec.process(x.slice()));
          payload.push(...rest);
          break;
        }
      }
    }
  } catch (e) {
    if (!(e instanceof MseError)) throw e;
    return { outcome: `error ${e.code}`, error: e, payload: undefined };
  }
  return {
    outcome: done ? "done" : "waiting",
    error: undefined,
    payload: done ? Buffer.concat(payload) : undefined,
  };
}

export const mseTarget: FuzzTarget<MseInput> = {
  name: "mse",
  errors: [MseError],
  codec: jsonCodec<MseInput>(),
  generators: [
    { name: "valid", arb: valid },
    { name: "mutated", arb: mutated, weight: 3 },
    { name: "random", arb: random },
  ],
  quickRuns: 100,
  minCodes: 2,
  size: (i) => i.bytes.length,
  run(i) {
    const whole = feed(i, [i.bytes]);
    const parts = feed(i, cut(i.bytes, i.cuts));
    assert.equal(parts.outcome, whole.outcome, "chunking changed the outcome");
    if (whole.payload)
      assert.deepEqual(parts.payload, whole.payload, "chunking changed the payload");
    if (i.expect) {
      assert.equal(whole.outcome, "done");
      assert.deepEqual(new Uint8Array(whole.payload!), new Uint8Array(i.expect));
    }
    if (whole.error) throw whole.error;
  },
};
