/**
 * A seed whose file is truncated under it (BEP 54): a request for a lost piece is rejected, the
 * peer hears lt_donthave, and the seed wants the piece again and fetches it back from another
 * seed, ending with the right bytes on disk.
 */
import assert from "node:assert/strict";
import { copyFile, truncate } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BDict, decode, encode } from "../../src/bencode/index.js";
import type { Session } from "../../src/session/session.js";
import { buildReserved } from "../../src/wire/index.js";
import {
  addressOf,
  closeAll,
  type Fixture,
  Id,
  KIB,
  makeFixture,
  nextEvent,
  RawPeer,
  startSessions,
  withTimeout,
} from "./helpers.js";

const EXTENDED = 20;

function u32s(...vs: number[]): Buffer {
  const b = Buffer.alloc(4 * vs.length);
  for (const [i, v] of vs.entries()) b.writeUInt32BE(v, 4 * i);
  return b;
}

describe("a piece lost on disk while seeding", { timeout: 60_000 }, () => {
  let f: Fixture;
  let sessions: Session[] = [];

  before(async () => {
    f = await makeFixture(2 * 1024 * KIB, 256 * KIB);
    sessions = await startSessions(2);
  });
  after(async () => {
    await closeAll(sessions);
    await f?.cleanup();
  });

  it("is rejected, announced with lt_donthave, and fetched again from another seed", async () => {
    const [s1, s2] = sessions as [Session, Session];
    const dir2 = await f.newDir("seed2");
    await copyFile(path.join(f.seedDir, f.meta.name), path.join(dir2, f.meta.name));
    await s2.add(f.meta, { downloadDir: dir2 });
    const seed = await s1.add(f.meta, { downloadDir: f.seedDir, peers: [addressOf(s2)] });
    assert.equal(seed.state, "seeding");
    // The last piece's bytes vanish.
    const last = f.meta.pieceCount - 1;
    await truncate(path.join(f.seedDir, f.meta.name), last * f.meta.pieceLength);

    const p = await RawPeer.connect(
      s1.port,
      f.meta.infoHash,
      "127.0.0.70",
      buildReserved(["extended"]),
    );
    p.sendRaw(
      EXTENDED,
      Buffer.concat([Buffer.from([0]), encode(new Map([["m", new Map([["lt_donthave", 9]])]]))]),
    );
    p.sendRaw(Id.interested);
    await p.waitFor((m) => m.id === Id.unchoke, "unchoke");
    const lost = nextEvent(seed, "piece-lost");
    p.sendRaw(Id.request, u32s(last, 0, 16 * KIB));
    const [index, reason] = await withTimeout(lost, "piece-lost");
    assert.equal(index, last);
    assert.match(String(reason), /file ends at byte/);
    const dh = await p.waitFor((m) => m.id === EXTENDED && m.payload[0] === 9, "lt_donthave");
    assert.equal(dh.payload.readUInt32BE(1), last);
    assert.ok(!p.messages.some((m) => m.id === Id.piece), "served bytes it no longer has");
    // The seed downloads the piece again from the other seed and is whole.
    await withTimeout(nextEvent(seed, "done"), "the piece fetched back");
    assert.equal(seed.state, "seeding");
    assert.ok((await f.read(f.seedDir)).equals(f.data));
    // The handshake dictionary of the raw peer was well-formed enough to be acted on.
    const hs = p.messages.find((m) => m.id === EXTENDED && m.payload[0] === 0)!;
    assert.ok(decode(hs.payload.subarray(1)) instanceof BDict);
    p.close();
  });
});
