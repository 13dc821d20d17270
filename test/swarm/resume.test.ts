/**
 * Resume data through the library: a stopped download restarts without hashing anything, a file
 * changed behind our back is hashed again (and its bad piece fetched again), and resume data that
 * is not ours is ignored in favour of a full recheck.
 */
import assert from "node:assert/strict";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { type BDict, decode, encode } from "../../src/bencode/index.js";
import type { Session } from "../../src/session/session.js";
import type { CheckInfo, Torrent } from "../../src/torrent/torrent.js";
import { tessera } from "../cli/run.js";
import {
  addressOf,
  closeAll,
  type Fixture,
  KIB,
  makeFixture,
  nextEvent,
  startSessions,
  withTimeout,
} from "./helpers.js";

/** The same resume data, claiming another info-hash. */
function otherTorrents(resume: Uint8Array): Uint8Array {
  const d = decode(resume) as BDict;
  d.set("info-hash", Buffer.alloc(20, 0xab));
  return encode(d);
}

/** Adds `f`'s torrent to `s`, capturing its `checked` event (fired before add resolves). */
async function addChecked(
  s: Session,
  f: Fixture,
  dir: string,
  peers: Session[],
): Promise<{ t: Torrent; have: number; info: CheckInfo; warnings: string[] }> {
  let have = -1;
  let info: CheckInfo | undefined;
  const warnings: string[] = [];
  s.once("torrent-added", (t) => {
    t.on("checked", (h, i) => {
      have = h;
      info = i;
    });
    t.on("warning", (m) => warnings.push(m));
  });
  const t = await s.add(f.meta, { downloadDir: dir, peers: peers.map(addressOf) });
  assert.ok(info, "checked was emitted");
  return { t, have, info, warnings };
}

describe("resume data", { timeout: 90_000 }, () => {
  let f: Fixture;
  let seed: Session;
  const extra: Session[] = [];

  before(async () => {
    f = await makeFixture(12 * 1024 * KIB + 777, 64 * KIB);
    [seed] = (await startSessions(1)) as [Session];
    await seed.add(f.meta, { downloadDir: f.seedDir });
  });
  after(async () => {
    await closeAll([seed, ...extra]);
    await f?.cleanup();
  });

  async function session(): Promise<Session> {
    const [s] = (await startSessions(1)) as [Session];
    extra.push(s);
    return s;
  }

  it("a download stopped halfway restarts from resume data: nothing hashed, nothing lost", async () => {
    const dir = await f.newDir("halfway");
    const s1 = await session();
    const first = await addChecked(s1, f, dir, [seed]);
    assert.equal(first.info.source, "recheck", "no resume data the first time");
    const half = Math.floor(f.meta.pieceCount / 2);
    await nextEvent(first.t, "piece", () => first.t.stats().piecesHave >= half);
    await s1.close(); // stops the torrent: writes in flight land, resume data is saved
    const hadAtStop = first.t.picker.have.count;
    assert.ok(hadAtStop >= half && hadAtStop < f.meta.pieceCount, `had ${hadAtStop}`);

    const s2 = await session();
    const again = await addChecked(s2, f, dir, [seed]);
    assert.deepEqual(again.info, { source: "resume", checkedPieces: 0 });
    assert.equal(again.have, hadAtStop, "every piece verified before the stop is trusted");
    await withTimeout(again.t.done, "the rest of the download");
    assert.ok(
      again.t.stats().downloaded <= (f.meta.pieceCount - hadAtStop) * f.meta.pieceLength,
      "downloaded only what was missing",
    );
    assert.ok((await f.read(dir)).equals(f.data));
    await s2.close();

    // Complete and unchanged: the next start (a seed) hashes nothing either.
    const s3 = await session();
    const seedAgain = await addChecked(s3, f, dir, []);
    assert.deepEqual(seedAgain.info, { source: "resume", checkedPieces: 0 });
    assert.equal(seedAgain.have, f.meta.pieceCount);
    assert.equal(seedAgain.t.state, "seeding");
    await s3.close();
  });

  it("a file changed after the resume data was saved is hashed again, and its bad piece fetched again", async () => {
    const dir = await f.newDir("changed");
    const s1 = await session();
    const { t } = await addChecked(s1, f, dir, [seed]);
    await withTimeout(t.done, "download");
    await s1.close();
    // Same size, one byte different, a new mtime: only a hash can tell.
    const file = path.join(dir, f.meta.name);
    const fh = await open(file, "r+");
    const victim = 3;
    const at = victim * f.meta.pieceLength + 100;
    await fh.write(Buffer.from([f.data[at]! ^ 0xff]), 0, 1, at);
    await fh.close();

    const s2 = await session();
    const again = await addChecked(s2, f, dir, [seed]);
    assert.equal(again.info.source, "resume");
    assert.equal(again.info.checkedPieces, f.meta.pieceCount, "the changed file is hashed whole");
    assert.equal(again.have, f.meta.pieceCount - 1);
    assert.ok(!again.t.picker.have.has(victim));
    await withTimeout(again.t.done, "the bad piece fetched again");
    assert.ok((await f.read(dir)).equals(f.data));
  });

  it("a file deleted while the torrent was stopped: its pieces are missing, fetched again", async () => {
    const dir = await f.newDir("deleted");
    const s1 = await session();
    const { t } = await addChecked(s1, f, dir, [seed]);
    await withTimeout(t.done, "download");
    await s1.close();
    await rm(path.join(dir, f.meta.name));
    const s2 = await session();
    const again = await addChecked(s2, f, dir, [seed]);
    assert.equal(again.info.source, "resume");
    assert.equal(again.have, 0, "nothing is trusted of a file that is gone");
    await withTimeout(again.t.done, "downloaded again");
    assert.ok((await f.read(dir)).equals(f.data));
  });

  it("a magnet link restarted in the same directory takes its metadata from the resume data", async () => {
    const dir = await f.newDir("magnet");
    const magnet = `magnet:?xt=urn:btih:${f.meta.infoHashHex}&dn=x`;
    const first = await tessera(
      ["download", magnet, "-o", dir, "--peer", `127.0.0.1:${seed.port}`, "--port", "0", "--json"],
      { timeout: 60_000 },
    );
    assert.equal(first.code, 0, first.stderr);
    const events = (r: { stdout: string }) =>
      r.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(events(first).find((e) => e.event === "metadata")?.source, "peers");
    // No peer at all this time: the metadata and the data are both already here.
    const again = await tessera(["download", magnet, "-o", dir, "--port", "0", "--json"], {
      timeout: 30_000,
    });
    assert.equal(again.code, 0, again.stderr);
    const ev = events(again);
    const meta = ev.find((e) => e.event === "metadata");
    assert.equal(meta?.source, "resume");
    assert.equal(meta?.name, f.meta.name);
    const checked = ev.find((e) => e.event === "checked");
    assert.equal(checked?.source, "resume");
    assert.equal(checked?.checkedPieces, 0);
    assert.equal(checked?.havePieces, f.meta.pieceCount);
    assert.ok(ev.some((e) => e.event === "done"));
    assert.ok((await f.read(dir)).equals(f.data));
  });

  it("resume data that is garbage, or another torrent's, is ignored: a full recheck decides", async () => {
    const dir = await f.newDir("garbage");
    const s1 = await session();
    const { t } = await addChecked(s1, f, dir, [seed]);
    await withTimeout(t.done, "download");
    const resumePath = t.storage.resumePath;
    await s1.close();
    const good = await readFile(resumePath);
    for (const [what, bytes] of [
      ["garbage", Buffer.from("d7:version")],
      ["another torrent's", otherTorrents(good)],
    ] as const) {
      await writeFile(resumePath, bytes);
      const s = await session();
      const r = await addChecked(s, f, dir, []);
      assert.equal(r.info.source, "recheck", what);
      assert.equal(r.info.checkedPieces, f.meta.pieceCount, what);
      assert.equal(r.have, f.meta.pieceCount, what);
      assert.match(r.warnings.join("\n"), /resume data ignored/, what);
      await s.close();
    }
  });
});
