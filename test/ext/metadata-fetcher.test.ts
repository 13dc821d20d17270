import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  MAX_METADATA_SIZE,
  type MetadataAction,
  MetadataFetcher,
  metadataPieceCount,
  metadataPieceLength,
} from "../../src/ext/index.js";

const SIZE = 40_000; // three pieces: 16384, 16384, 7232
const INFO = Uint8Array.from({ length: SIZE }, (_, i) => (i * 7 + 3) & 0xff);
const HASH = createHash("sha1").update(INFO).digest();
const piece = (info: Uint8Array, i: number) =>
  info.subarray(i * 16384, i * 16384 + metadataPieceLength(info.length, i));

const requests = (acts: MetadataAction<string>[]) =>
  acts
    .filter((a) => a.type === "request")
    .map((a) => (a.type === "request" ? `${a.peer}:${a.piece}` : ""));

describe("MetadataFetcher", () => {
  it("fetches from one peer, two requests at a time, and returns the verified bytes", () => {
    const f = new MetadataFetcher<string>(HASH);
    assert.deepEqual(requests(f.addPeer("A", SIZE, 0)), ["A:0", "A:1"]);
    assert.deepEqual(requests(f.onData("A", 0, SIZE, piece(INFO, 0), 1)), ["A:2"]);
    assert.deepEqual(f.progress(), { received: 16384, size: SIZE });
    assert.deepEqual(f.onData("A", 2, SIZE, piece(INFO, 2), 2), []);
    const done = f.onData("A", 1, SIZE, piece(INFO, 1), 3);
    assert.equal(done.length, 1);
    assert.equal(done[0]?.type, "done");
    assert.deepEqual(done[0]?.type === "done" && done[0].info, INFO);
    assert.deepEqual(f.info, INFO);
    // Finished: everything else is a no-op.
    assert.deepEqual(f.addPeer("B", SIZE, 4), []);
    assert.deepEqual(f.tick(100_000), []);
    assert.deepEqual(f.removePeer("A", 5), []);
  });

  it("spreads pieces across peers", () => {
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 1 });
    assert.deepEqual(requests(f.addPeer("A", SIZE, 0)), ["A:0"]);
    assert.deepEqual(requests(f.addPeer("B", SIZE, 0)), ["B:1"]);
    assert.deepEqual(requests(f.addPeer("C", SIZE, 0)), ["C:2"]);
    assert.deepEqual(requests(f.addPeer("D", SIZE, 0)), []);
  });

  it("moves a rejected piece to another peer and leaves the rejecter alone for a while", () => {
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 1, backoffMs: 30_000 });
    f.addPeer("A", SIZE, 0);
    f.addPeer("B", SIZE, 0);
    assert.deepEqual(requests(f.onReject("A", 0, 10)), []); // B busy with 1, A backing off
    assert.deepEqual(requests(f.onData("B", 1, SIZE, piece(INFO, 1), 20)), ["B:0"]);
    assert.deepEqual(requests(f.onData("B", 0, SIZE, piece(INFO, 0), 30)), ["B:2"]);
    f.removePeer("B", 40);
    assert.deepEqual(requests(f.tick(29_999)), []);
    assert.deepEqual(requests(f.tick(30_010)), ["A:2"]);
  });

  it("re-requests a timed-out piece from another peer and still accepts the late answer", () => {
    const f = new MetadataFetcher<string>(HASH, {
      maxRequestsPerPeer: 1,
      requestTimeoutMs: 15_000,
    });
    f.addPeer("A", SIZE, 0);
    f.addPeer("B", SIZE, 0);
    f.addPeer("C", SIZE, 0);
    assert.deepEqual(requests(f.tick(14_999)), []);
    f.onData("B", 1, SIZE, piece(INFO, 1), 1000);
    f.onData("C", 2, SIZE, piece(INFO, 2), 1000);
    assert.deepEqual(requests(f.tick(15_000)), ["B:0"]);
    const late = f.onData("A", 0, SIZE, piece(INFO, 0), 16_000);
    assert.equal(late[0]?.type, "done");
  });

  it("hands a disconnected peer's pieces to the others", () => {
    const f = new MetadataFetcher<string>(HASH);
    f.addPeer("A", SIZE, 0);
    assert.deepEqual(requests(f.addPeer("B", SIZE, 0)), ["B:2"]);
    assert.deepEqual(requests(f.removePeer("A", 1)), ["B:0"]);
  });

  it("ignores data it did not ask for and bans data that contradicts the announced size", () => {
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 1 });
    f.addPeer("A", SIZE, 0);
    assert.deepEqual(f.onData("A", 2, SIZE, piece(INFO, 2), 1), []);
    assert.deepEqual(f.onData("Z", 0, SIZE, piece(INFO, 0), 1), []);
    const acts = f.onData("A", 0, SIZE + 1, piece(INFO, 0), 2);
    assert.equal(acts[0]?.type, "ban");
    assert.deepEqual(f.addPeer("A", SIZE, 3), [], "a banned handle stays unused");
    const g = new MetadataFetcher<string>(HASH);
    g.addPeer("A", SIZE, 0);
    assert.equal(g.onData("A", 0, SIZE, new Uint8Array(5), 1)[0]?.type, "ban");
  });

  it("does not use peers without a size or above the cap", () => {
    const f = new MetadataFetcher<string>(HASH, { maxMetadataSize: 30_000 });
    assert.deepEqual(f.addPeer("A", undefined, 0), []);
    assert.deepEqual(f.addPeer("B", SIZE, 0), []);
    assert.deepEqual(f.addPeer("C", 0, 0), []);
    assert.equal(f.acceptsSize(MAX_METADATA_SIZE), false);
    assert.equal(new MetadataFetcher(HASH).acceptsSize(MAX_METADATA_SIZE), true);
    assert.equal(new MetadataFetcher(HASH).acceptsSize(MAX_METADATA_SIZE + 1), false);
    assert.throws(() => new MetadataFetcher(new Uint8Array(19)), RangeError);
  });

  it("groups peers by announced size and works the largest group", () => {
    const f = new MetadataFetcher<string>(HASH);
    // A liar comes first and is used while alone...
    assert.deepEqual(requests(f.addPeer("L", 99_999, 0)), ["L:0", "L:1"]);
    assert.equal(f.progress()?.size, 99_999);
    assert.deepEqual(requests(f.addPeer("A", SIZE, 0)), []);
    // ...until the honest size has more peers.
    assert.deepEqual(requests(f.addPeer("B", SIZE, 0)), ["A:0", "B:1", "A:2"]);
    assert.deepEqual(f.onData("L", 0, 99_999, new Uint8Array(16384), 1), []);
    f.onData("A", 0, SIZE, piece(INFO, 0), 2);
    f.onData("B", 1, SIZE, piece(INFO, 1), 2);
    assert.equal(f.onData("A", 2, SIZE, piece(INFO, 2), 2)[0]?.type, "done");
  });

  it("leaves a group whose only peer stops answering for a group with a peer that answers", () => {
    // A liar that announces another size and never answers connects first; an honest peer alone
    // in its group (a tie on peer count) takes over once the liar leaves a request unanswered
    // for duplicateAfterMs, and the liar's group is not taken back while the honest one works.
    const f = new MetadataFetcher<string>(HASH, {
      requestTimeoutMs: 15_000,
      duplicateAfterMs: 3_000,
    });
    assert.deepEqual(requests(f.addPeer("L", 99_999, 0)), ["L:0", "L:1"]);
    assert.deepEqual(requests(f.addPeer("A", SIZE, 100)), []);
    assert.deepEqual(requests(f.tick(2_999)), []);
    assert.deepEqual(requests(f.tick(3_000)), ["A:0", "A:1"]);
    assert.equal(f.progress()?.size, SIZE);
    assert.deepEqual(requests(f.tick(4_000)), []);
    assert.equal(f.progress()?.size, SIZE, "the liar's group is not worked again");
    f.onData("A", 0, SIZE, piece(INFO, 0), 4_001);
    f.onData("A", 1, SIZE, piece(INFO, 1), 4_002);
    assert.equal(f.onData("A", 2, SIZE, piece(INFO, 2), 4_003)[0]?.type, "done");
  });

  it("sends a request unanswered for 3 s to another peer as well; the first answer counts", () => {
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 2, duplicateAfterMs: 3_000 });
    assert.deepEqual(requests(f.addPeer("M", SIZE, 0)), ["M:0", "M:1"]); // M never answers
    assert.deepEqual(requests(f.addPeer("A", SIZE, 500)), ["A:2"]);
    assert.deepEqual(requests(f.onData("A", 2, SIZE, piece(INFO, 2), 600)), []);
    assert.deepEqual(requests(f.tick(2_999)), []);
    assert.deepEqual(requests(f.tick(3_000)), ["A:0", "A:1"]);
    f.onData("A", 0, SIZE, piece(INFO, 0), 3_100);
    assert.equal(f.onData("A", 1, SIZE, piece(INFO, 1), 3_200)[0]?.type, "done");
  });

  it("goes back to a group whose peer rejected once when the other group's peer keeps timing out", () => {
    const f = new MetadataFetcher<string>(HASH, { requestTimeoutMs: 15_000, backoffMs: 1_000 });
    assert.deepEqual(requests(f.addPeer("A", SIZE, 0)), ["A:0", "A:1"]);
    f.onReject("A", 0, 10); // A: one strike (busy, say)
    assert.deepEqual(requests(f.addPeer("L", 99_999, 20)), ["L:0", "L:1"]); // fresh, so preferred
    // L never answers: after its timeouts it has more strikes than A, whose backoff is over.
    const later = requests(f.tick(15_020));
    assert.deepEqual(later, ["A:0", "A:1"]);
    assert.equal(f.progress()?.size, SIZE);
  });

  it("changes a peer's group when a later handshake changes its size", () => {
    const f = new MetadataFetcher<string>(HASH);
    f.addPeer("A", 99_999, 0);
    assert.deepEqual(requests(f.addPeer("A", SIZE, 1)), ["A:0", "A:1"]);
    assert.equal(f.progress()?.size, SIZE);
  });

  it("bans a sole contributor of bad metadata and refetches from others", () => {
    const bad = INFO.slice();
    bad[5]! ^= 1;
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 3 });
    f.addPeer("A", SIZE, 0);
    f.addPeer("B", SIZE, 0);
    f.onData("A", 0, SIZE, piece(bad, 0), 1);
    f.onData("A", 1, SIZE, piece(bad, 1), 1);
    const acts = f.onData("A", 2, SIZE, piece(bad, 2), 1);
    assert.deepEqual(acts.slice(0, 2), [
      { type: "hash_failed", size: SIZE, contributors: ["A"] },
      { type: "ban", peer: "A", reason: "sent metadata that fails the info-hash" },
    ]);
    assert.deepEqual(requests(acts), ["B:0", "B:1", "B:2"]);
  });

  it("isolates the culprit among several contributors by fetching from one suspect at a time", () => {
    const bad = INFO.slice();
    bad[20_000]! ^= 1; // in piece 1
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 2 });
    f.addPeer("A", SIZE, 0); // A: 0, 1 — A is the liar
    f.addPeer("B", SIZE, 0); // B: 2
    f.onData("A", 0, SIZE, piece(bad, 0), 1);
    f.onData("B", 2, SIZE, piece(INFO, 2), 1);
    const fail = f.onData("A", 1, SIZE, piece(bad, 1), 1);
    assert.deepEqual(fail[0], { type: "hash_failed", size: SIZE, contributors: ["A", "B"] });
    assert.ok(!fail.some((a) => a.type === "ban"));
    // Only suspects are left: everything from A alone.
    assert.deepEqual(requests(fail), ["A:0", "A:1"]);
    f.onData("A", 0, SIZE, piece(bad, 0), 2);
    f.onData("A", 1, SIZE, piece(bad, 1), 2);
    const second = f.onData("A", 2, SIZE, piece(bad, 2), 2);
    assert.deepEqual(second.slice(0, 2), [
      { type: "hash_failed", size: SIZE, contributors: ["A"] },
      { type: "ban", peer: "A", reason: "sent metadata that fails the info-hash" },
    ]);
    assert.deepEqual(requests(second), ["B:0", "B:1"]);
    f.onData("B", 0, SIZE, piece(INFO, 0), 3);
    f.onData("B", 1, SIZE, piece(INFO, 1), 3);
    assert.equal(f.onData("B", 2, SIZE, piece(INFO, 2), 3)[0]?.type, "done");
  });

  it("gives new pieces to a fresh peer rather than to suspects", () => {
    const bad = INFO.slice();
    bad[0]! ^= 1;
    const f = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 2 });
    f.addPeer("A", SIZE, 0);
    f.addPeer("B", SIZE, 0);
    f.onData("A", 0, SIZE, piece(bad, 0), 1);
    f.onData("B", 2, SIZE, piece(INFO, 2), 1);
    const fail = f.onData("A", 1, SIZE, piece(INFO, 1), 1);
    assert.deepEqual(requests(fail), ["A:0", "A:1"]);
    assert.deepEqual(requests(f.addPeer("C", SIZE, 2)), ["C:2"]);
  });

  it("turns to a suspect when the only fresh peer keeps rejecting", () => {
    const bad = INFO.slice();
    bad[0]! ^= 1;
    const r = new MetadataFetcher<string>(HASH, { maxRequestsPerPeer: 1, backoffMs: 1000 });
    r.addPeer("A", SIZE, 0); // A: 0
    r.addPeer("B", SIZE, 0); // B: 1
    r.addPeer("C", SIZE, 0); // C: 2
    r.onData("A", 0, SIZE, piece(bad, 0), 1);
    r.onData("B", 1, SIZE, piece(INFO, 1), 1);
    const fail = r.onData("C", 2, SIZE, piece(INFO, 2), 1);
    assert.deepEqual(fail[0], { type: "hash_failed", size: SIZE, contributors: ["A", "B", "C"] });
    assert.deepEqual(requests(fail), ["A:0"], "only suspects: one of them, alone");
    assert.deepEqual(requests(r.addPeer("R", SIZE, 2)), ["R:1"], "a fresh peer is preferred");
    assert.deepEqual(requests(r.onReject("R", 1, 3)), []);
    assert.deepEqual(
      requests(r.onData("A", 0, SIZE, piece(bad, 0), 4)),
      ["A:1"],
      "the suspect fills in",
    );
  });
});

/** "mute-liar": announces a wrong metadata_size and never answers (it must not hold the fetch). */
type Kind = "honest" | "corrupt" | "rejecter" | "silent" | "liar" | "mute-liar";

describe("MetadataFetcher in a simulated swarm (property)", () => {
  it("finishes with the right bytes whenever one honest peer exists, and never bans an honest one", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 * 16384 + 100 }),
        fc.array(
          fc.constantFrom<Kind>("honest", "corrupt", "rejecter", "silent", "liar", "mute-liar"),
          {
            minLength: 1,
            maxLength: 6,
          },
        ),
        fc.integer({ min: 1, max: 3 }),
        fc.integer(),
        (size, kinds, perPeer, seed) => {
          const info = Uint8Array.from({ length: size }, (_, i) => (i * 31 + size) & 0xff);
          const hash = createHash("sha1").update(info).digest();
          const f = new MetadataFetcher<number>(hash, { maxRequestsPerPeer: perPeer });
          const pending: { peer: number; piece: number }[] = [];
          const banned = new Set<number>();
          let done: Uint8Array | undefined;
          let state = seed >>> 0 || 1;
          const next = () => {
            // xorshift32: a reproducible stream from the seed
            state ^= state << 13;
            state ^= state >>> 17;
            state ^= state << 5;
            state >>>= 0;
            return state;
          };
          const handle = (acts: MetadataAction<number>[]) => {
            for (const a of acts) {
              if (a.type === "request") {
                assert.ok(!banned.has(a.peer), "no request to a banned peer");
                pending.push({ peer: a.peer, piece: a.piece });
              } else if (a.type === "ban") {
                assert.ok(kinds[a.peer] !== "honest", `honest peer ${a.peer} banned`);
                banned.add(a.peer);
              } else if (a.type === "done") {
                done = a.info;
              }
            }
          };
          let now = 0;
          kinds.forEach((k, p) => {
            handle(f.addPeer(p, k === "liar" || k === "mute-liar" ? size + 16384 : size, now));
          });
          for (let step = 0; step < 3000 && done === undefined; step++) {
            now += 1 + (next() % 5000);
            if (pending.length === 0 || next() % 10 === 0) {
              handle(f.tick(now));
              continue;
            }
            const [req] = pending.splice(next() % pending.length, 1);
            if (req === undefined || banned.has(req.peer)) continue;
            const kind = kinds[req.peer]!;
            if (kind === "silent" || kind === "mute-liar") continue;
            if (kind === "rejecter") {
              handle(f.onReject(req.peer, req.piece, now));
              continue;
            }
            const total = kind === "liar" ? size + 16384 : size;
            const src = kind === "liar" ? new Uint8Array(total) : info.slice();
            if (kind === "corrupt") src[req.piece * 16384]! ^= 0xff;
            const len = metadataPieceLength(total, req.piece);
            const data = src.subarray(req.piece * 16384, req.piece * 16384 + len);
            assert.ok(req.piece < metadataPieceCount(total));
            handle(f.onData(req.peer, req.piece, total, data, now));
          }
          if (kinds.includes("honest")) {
            assert.ok(done, `not finished: kinds ${kinds.join(",")}`);
            assert.deepEqual(done, info);
          } else {
            assert.equal(done, undefined);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
