/**
 * Raw-byte attackers against live sessions: protocol violations get the offender dropped with a
 * reason naming the violation while a real download carries on beside it; requests are served
 * only to unchoked peers, only for pieces we have, and a request flood gets the flooder dropped.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { ADVERTISED_REQQ, MAX_INCOMING_REQUESTS } from "../../src/peer/peer.js";
import type { Session } from "../../src/session/session.js";
import type { Torrent } from "../../src/torrent/torrent.js";
import {
  addressOf,
  BLOCK,
  closeAll,
  type Fixture,
  Id,
  KIB,
  MIB,
  makeFixture,
  nextEvent,
  pieceOf,
  RawPeer,
  recordEvents,
  sleep,
  startSessions,
  WAIT_MS,
  withTimeout,
} from "./helpers.js";

/** How long "nothing happens" is watched for. */
const QUIET_MS = 500;

function u32s(...vs: number[]): Buffer {
  const b = Buffer.alloc(4 * vs.length);
  for (const [i, v] of vs.entries()) b.writeUInt32BE(v, 4 * i);
  return b;
}

/** Tessera's display address of a raw peer's connection. */
function displayOf(p: RawPeer): string {
  return `${p.socket.localAddress}:${p.socket.localPort}`;
}

describe("swarm: protocol violations", { timeout: 4 * WAIT_MS }, () => {
  let f: Fixture;
  let sessions: Session[] = [];

  before(async () => {
    // 63 pieces, the last one short: the bitfield has a spare bit.
    f = await makeFixture(16 * MIB - 300 * KIB, 256 * KIB);
    assert.equal(f.meta.pieceCount % 8, 7);
    sessions = await startSessions(2);
  });
  after(async () => {
    await closeAll(sessions);
    await f?.cleanup();
  });

  it("offenders are dropped with the violation named; a download beside them completes", async (tc) => {
    const [seedSession, leecherSession] = sessions as [Session, Session];
    await seedSession.add(f.meta, { downloadDir: f.seedDir });
    const downloadDir = await f.newDir("leecher");
    const t = await leecherSession.add(f.meta, { downloadDir, peers: [addressOf(seedSession)] });
    const log = recordEvents(t);
    assert.equal(t.state, "downloading");
    const n = f.meta.pieceCount;
    const attacks: { name: string; code: RegExp; send: (p: RawPeer) => void }[] = [
      {
        name: "bitfield of the wrong length",
        code: /WIRE_BAD_BITFIELD/,
        send: (p) => p.sendRaw(Id.bitfield, Buffer.alloc(Math.ceil(n / 8) - 5, 0xff)),
      },
      {
        name: "bitfield with spare bits set",
        code: /WIRE_BAD_BITFIELD/,
        send: (p) => p.sendRaw(Id.bitfield, Buffer.alloc(Math.ceil(n / 8), 0xff)),
      },
      {
        name: "have with an out-of-range index",
        code: /WIRE_INDEX_OUT_OF_RANGE/,
        send: (p) => p.sendRaw(Id.have, u32s(n)),
      },
      {
        name: "4 GiB length prefix",
        code: /WIRE_MESSAGE_TOO_LONG/,
        send: (p) => p.send(u32s(0xffffffff), Buffer.from([Id.piece])),
      },
      {
        name: "request of 1 MiB",
        code: /WIRE_BAD_BLOCK_LENGTH/,
        send: (p) => p.sendRaw(Id.request, u32s(0, 0, MIB)),
      },
      {
        name: "request past the end of the piece",
        code: /WIRE_BLOCK_OUT_OF_RANGE/,
        send: (p) => p.sendRaw(Id.request, u32s(0, f.meta.pieceLength - BLOCK / 2, BLOCK)),
      },
      {
        name: "have of the wrong length",
        code: /WIRE_BAD_LENGTH/,
        send: (p) => p.sendRaw(Id.have, u32s(0, 0)),
      },
      {
        name: "a piece message carrying 32 KiB",
        code: /WIRE_MESSAGE_TOO_LONG/,
        send: (p) => p.sendBlock(0, 0, pieceOf(f, 0).subarray(0, 2 * BLOCK)),
      },
      {
        name: "a block nobody asked for",
        code: /unrequested-block/,
        send: (p) => p.sendBlock(0, 0, pieceOf(f, 0).subarray(0, BLOCK)),
      },
    ];

    const results = await Promise.all(
      attacks.map(async (a, i) => {
        const p = await RawPeer.connect(leecherSession.port, f.meta.infoHash, `127.0.0.${20 + i}`);
        const address = displayOf(p);
        const dropped = nextEvent(t, "peer-disconnected", (x) => x === address);
        a.send(p);
        const [, reason] = await dropped.catch((e: Error) => {
          throw new Error(`${a.name}: not dropped (${e.message})`);
        });
        await p.waitClosed();
        return { a, reason, progress: t.stats().piecesHave };
      }),
    );
    for (const { a, reason, progress } of results) {
      assert.match(reason, a.code, `${a.name}: dropped for "${reason}"`);
      if (a.code.source.startsWith("WIRE"))
        assert.match(reason, /^protocol violation: /, `${a.name}: "${reason}"`);
      tc.diagnostic(`${a.name}: "${reason}" at ${progress}/${n} pieces`);
    }

    // Still up and still talking: a well-behaved peer gets a handshake and a bitfield.
    const good = await RawPeer.connect(leecherSession.port, f.meta.infoHash, "127.0.0.40");
    good.close();
    await withTimeout(t.done, "the download beside the offenders");
    assert.ok((await f.read(downloadDir)).equals(f.data), "downloaded bytes differ");
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "peer-banned" || e.name === "hash-failed"),
      [],
    );
  });
});

describe("swarm: serving requests", { timeout: 4 * WAIT_MS }, () => {
  let f: Fixture;
  let sessions: Session[] = [];
  let seed: Torrent;
  let seedSession: Session;

  before(async () => {
    f = await makeFixture(4 * MIB, 256 * KIB);
    sessions = await startSessions(2);
    seedSession = sessions[0]!;
    seed = await seedSession.add(f.meta, { downloadDir: f.seedDir });
    assert.equal(seed.state, "seeding");
  });
  after(async () => {
    await closeAll(sessions);
    await f?.cleanup();
  });

  const pieceMessages = (p: RawPeer) => p.messages.filter((m) => m.id === Id.piece);

  it("ignores requests from a choked peer", async () => {
    const p = await RawPeer.connect(seedSession.port, f.meta.infoHash, "127.0.0.50");
    try {
      await p.waitFor((m) => m.id === Id.bitfield, "the seed's bitfield");
      // Not interested, so choked: this request must be dropped, not queued.
      p.sendRaw(Id.request, u32s(0, 0, BLOCK));
      await sleep(QUIET_MS);
      assert.deepEqual(pieceMessages(p), []);
      assert.ok(!p.messages.some((m) => m.id === Id.unchoke));
      assert.ok(!p.closed, "a request while choked is no reason to drop the peer");

      p.sendMessage({ type: "interested" });
      await p.waitFor((m) => m.id === Id.unchoke, "unchoke");
      p.sendRaw(Id.request, u32s(1, BLOCK, BLOCK));
      const m = await p.waitFor((x) => x.id === Id.piece, "the requested block");
      assert.deepEqual([m.payload.readUInt32BE(0), m.payload.readUInt32BE(4)], [1, BLOCK]);
      assert.ok(m.payload.subarray(8).equals(pieceOf(f, 1).subarray(BLOCK, 2 * BLOCK)));
      await sleep(QUIET_MS);
      assert.equal(pieceMessages(p).length, 1, "the request made while choked was served");
    } finally {
      p.close();
    }
  });

  it("refuses requests for pieces it lacks, and serves those it has", async () => {
    // A session holding the first half of the pieces (the rest of the file is zeros).
    const half = Math.floor(f.meta.pieceCount / 2);
    const dir = await f.newDir("half");
    const content = Buffer.alloc(f.data.length);
    f.data.copy(content, 0, 0, half * f.meta.pieceLength);
    await writeFile(path.join(dir, f.meta.name), content);
    const partial = await sessions[1]!.add(f.meta, { downloadDir: dir });
    assert.equal(partial.stats().piecesHave, half);
    assert.equal(partial.state, "downloading");

    const p = await RawPeer.connect(sessions[1]!.port, f.meta.infoHash, "127.0.0.51");
    try {
      const bf = await p.waitFor((m) => m.id === Id.bitfield, "bitfield");
      for (let i = 0; i < f.meta.pieceCount; i++) {
        const has = ((bf.payload[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0;
        assert.equal(has, i < half, `bitfield bit ${i}`);
      }
      p.sendMessage({ type: "interested" });
      await p.waitFor((m) => m.id === Id.unchoke, "unchoke");
      // A piece it lacks, then one it has: requests are handled in order, so by the time the
      // second is answered the first was refused.
      p.sendRaw(Id.request, u32s(half + 1, 0, BLOCK));
      p.sendRaw(Id.request, u32s(0, 0, BLOCK));
      const m = await p.waitFor((x) => x.id === Id.piece, "a block of a piece it has");
      assert.equal(m.payload.readUInt32BE(0), 0);
      assert.ok(m.payload.subarray(8).equals(pieceOf(f, 0).subarray(0, BLOCK)));
      await sleep(QUIET_MS);
      assert.deepEqual(
        pieceMessages(p).map((x) => x.payload.readUInt32BE(0)),
        [0],
        "a block of a missing piece was sent",
      );
      assert.ok(!p.closed);
    } finally {
      p.close();
      await sessions[1]!.remove(partial);
    }
  });

  it("serves a deep queue of requests but drops a peer flooding it with requests", async (tc) => {
    const p = await RawPeer.connect(seedSession.port, f.meta.infoHash, "127.0.0.52");
    try {
      p.sendMessage({ type: "interested" });
      await p.waitFor((m) => m.id === Id.unchoke, "unchoke");
      const blocks = f.meta.pieceLength / BLOCK;
      const requests = (count: number) => {
        const out = Buffer.alloc(count * 17);
        for (let k = 0; k < count; k++) {
          out.writeUInt32BE(13, k * 17);
          out[k * 17 + 4] = Id.request;
          out.writeUInt32BE(Math.floor(k / blocks) % f.meta.pieceCount, k * 17 + 5);
          out.writeUInt32BE((k % blocks) * BLOCK, k * 17 + 9);
          out.writeUInt32BE(BLOCK, k * 17 + 13);
        }
        return out;
      };
      // 250 at once (the reqq we would advertise) is fine: all are served, the peer stays.
      p.send(requests(ADVERTISED_REQQ));
      await withTimeout(
        (async () => {
          while (pieceMessages(p).length < ADVERTISED_REQQ && !p.closed) await sleep(20);
        })(),
        `${ADVERTISED_REQQ} blocks`,
      );
      assert.equal(pieceMessages(p).length, ADVERTISED_REQQ);
      assert.ok(!p.closed);

      // Far more than MAX_INCOMING_REQUESTS at once: dropped as a flooder.
      const flood = 2 * MAX_INCOMING_REQUESTS;
      const address = displayOf(p);
      const dropped = nextEvent(seed, "peer-disconnected", (x) => x === address);
      p.send(requests(flood));
      const [, reason] = await dropped;
      assert.equal(reason, "request-flood");
      await p.waitClosed();
      const served = pieceMessages(p).length - ADVERTISED_REQQ;
      tc.diagnostic(
        `cap ${MAX_INCOMING_REQUESTS} outstanding; ${flood} sent, ${served} served before the drop`,
      );
      assert.ok(served < flood - MAX_INCOMING_REQUESTS);
    } finally {
      p.close();
    }
  });
});
