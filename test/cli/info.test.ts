import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { encode } from "../../src/bencode/index.js";
import { pieceHashes } from "../metainfo/helpers.js";
import { tessera } from "./run.js";

describe("tessera info", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tessera-info-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the stable --json form of a multi-file torrent", async () => {
    const a = new Uint8Array(20000).fill(1);
    const b = new Uint8Array(5000).fill(2);
    const all = new Uint8Array(25000);
    all.set(a);
    all.set(b, 20000);
    const file = path.join(dir, "m.torrent");
    await writeFile(
      file,
      encode({
        announce: "http://t1/a",
        "announce-list": [["http://t1/a"], ["udp://t2:1", "udp://t3:1"]],
        "url-list": ["http://ws/"],
        info: {
          name: "content",
          "piece length": 16384,
          pieces: pieceHashes(all, 16384),
          private: 1,
          files: [
            { path: ["a", "one.bin"], length: 20000 },
            { path: ["two.bin"], length: 5000 },
          ],
        },
      }),
    );
    const r = await tessera(["info", file, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    assert.equal(j.name, "content");
    assert.match(j.infoHash, /^[0-9a-f]{40}$/);
    assert.equal(j.length, 25000);
    assert.equal(j.pieceLength, 16384);
    assert.equal(j.pieces, 2);
    assert.deepEqual(j.files, [
      { path: "content/a/one.bin", length: 20000 },
      { path: "content/two.bin", length: 5000 },
    ]);
    assert.deepEqual(j.trackers, [["http://t1/a"], ["udp://t2:1", "udp://t3:1"]]);
    assert.equal(j.private, true);
    assert.deepEqual(j.webSeeds, ["http://ws/"]);

    const human = await tessera(["info", file]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /Info-hash:\s+[0-9a-f]{40}/);
    assert.match(human.stdout, /one\.bin\s+19\.5 KiB/);
    assert.match(human.stdout, /tier 2: udp:\/\/t2:1, udp:\/\/t3:1/);
  });

  it("accepts a magnet link and a bare info-hash", async () => {
    const hash = "c12fe1c06bba254a9dc9f519b335aa7c1367a88a";
    const m = await tessera([
      "info",
      `magnet:?xt=urn:btih:${hash}&dn=Some+Name&tr=udp%3A%2F%2Ft%3A1`,
      "--json",
    ]);
    assert.equal(m.code, 0, m.stderr);
    const j = JSON.parse(m.stdout);
    assert.equal(j.infoHash, hash);
    assert.equal(j.name, "Some Name");
    assert.deepEqual(j.trackers, [["udp://t:1"]]);
    const bare = await tessera(["info", hash.toUpperCase(), "--json"]);
    assert.equal(bare.code, 0, bare.stderr);
    assert.equal(JSON.parse(bare.stdout).infoHash, hash);
  });

  it("fails with one line naming the problem, no stack trace", async () => {
    const cases: [string, Uint8Array | string, RegExp][] = [
      [
        "pieces.torrent",
        encode({
          info: { name: "x", length: 5, "piece length": 16384, pieces: new Uint8Array(21) },
        }),
        /info\.pieces: length 21 is not a multiple of 20/,
      ],
      ["garbage.torrent", "this is not bencode", /not a valid torrent file/],
      ["deep.torrent", `${"l".repeat(5000)}${"e".repeat(5000)}`, /nesting deeper than 100/],
      [
        "neg.torrent",
        encode({
          info: { name: "x", length: -5, "piece length": 16384, pieces: new Uint8Array(20) },
        }),
        /info\.length: -5 is negative/,
      ],
    ];
    for (const [name, content, pattern] of cases) {
      const file = path.join(dir, name);
      await writeFile(file, content);
      const r = await tessera(["info", file]);
      assert.equal(r.code, 3, `${name}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /^\s+at /m);
    }
    const missing = await tessera(["info", path.join(dir, "nope.torrent")]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /ENOENT/);
    const badMagnet = await tessera(["info", "magnet:?dn=x"]);
    assert.equal(badMagnet.code, 3);
    assert.match(badMagnet.stderr, /invalid magnet link/);
  });

  it("reports usage errors with exit code 2", async () => {
    assert.equal((await tessera(["info"])).code, 2);
    assert.equal((await tessera(["info", "a", "--bogus"])).code, 2);
    assert.equal((await tessera(["frobnicate"])).code, 2);
    const help = await tessera(["--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Commands:/);
  });
});
