/**
 * The interop harness itself: real clients start on loopback, talk to each other, and stop.
 * (Tessera is not involved here; these tests keep the harness honest.)
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:http";
import path from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { BDict, decode } from "../../src/bencode/index.js";
import {
  compareTrees,
  createTorrentWithLibtorrent,
  type FileSpec,
  freePort,
  freePort6,
  interopScope,
  isListening,
  listFiles,
  makeContent,
  makeTorrentWithLibtorrent,
  parseRawQuery,
  startAria2Leecher,
  startLibtorrentLeecher,
  startLibtorrentSeed,
  startOpentracker,
  startTestTracker,
  startTransmissionLeecher,
  startTransmissionSeed,
} from "./clients/index.js";

const run = promisify(execFile);

const LAYOUT: FileSpec[] = [
  { path: "a.bin", length: 2_500_001 },
  { path: "sub/b.bin", length: 700_000 },
  { path: "sub/deeper/c.txt", length: 77 },
];

function httpGet(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // agent: false — opentracker closes each connection without saying so, and Node 20's keep-alive
    // agent would send the next request down the dead socket ("socket hang up").
    const req = request(url, { timeout: 5_000, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on("error", reject);
    req.end();
  });
}

const pct = (hex: string) => hex.replace(/../g, "%$&");

function dictGet(d: unknown, key: string): unknown {
  assert.ok(d instanceof BDict, "expected a dictionary");
  return d.get(key);
}

/** Content + v1 torrent under `dir`: data in dir/seed/content, torrent at dir/content.torrent. */
async function fixture(dir: string, trackers: string[] = [], pieceLength = 65_536) {
  const dataDir = path.join(dir, "seed");
  const content = path.join(dataDir, "content");
  await makeContent(content, LAYOUT);
  const made = await createTorrentWithLibtorrent(content, {
    pieceLength,
    trackers,
    out: path.join(dir, "content.torrent"),
  });
  return { dataDir, content, ...made, infoHash: made.infoHash! };
}

describe("interop harness: building blocks", () => {
  it("freePort finds bindable loopback ports (v4, v6, TCP+UDP)", async () => {
    const p4 = await freePort();
    const p6 = await freePort6();
    const both = await freePort(["tcp6", "udp4"]);
    for (const p of [p4, p6, both]) assert.ok(p > 1024 && p < 65536, `port ${p}`);
    assert.equal(await isListening(p4), false);
  });

  it("makeContent is deterministic and compareTrees spots a changed byte", async () => {
    await using s = await interopScope("content");
    const a = path.join(s.dir, "a");
    const b = path.join(s.dir, "b");
    assert.equal(await makeContent(a, LAYOUT), 3_200_078);
    await makeContent(b, LAYOUT);
    assert.deepEqual(await listFiles(a), ["a.bin", "sub/b.bin", "sub/deeper/c.txt"]);
    await compareTrees(a, b);
    const other = path.join(s.dir, "other");
    await makeContent(other, LAYOUT, "another seed");
    await assert.rejects(compareTrees(a, other), /differ at byte 0/);
    const f = path.join(b, "sub", "b.bin");
    const bytes = await readFile(f);
    bytes[654_321] = (bytes[654_321] ?? 0) ^ 1;
    await writeFile(f, bytes);
    await assert.rejects(compareTrees(a, b), /differ at byte 654321/);
    await writeFile(path.join(b, "extra"), "x");
    await assert.rejects(compareTrees(a, b), /file lists differ/);
    await compareTrees(a, b, { ignore: (p) => p === "extra" || p === "sub/b.bin" });
  });

  it("makeTorrentWithLibtorrent makes v1 and hybrid torrents", async () => {
    await using s = await interopScope("mktorrent");
    const content = path.join(s.dir, "content");
    await makeContent(content, LAYOUT);
    const v1 = await makeTorrentWithLibtorrent(content, {
      pieceLength: 32_768,
      trackers: ["http://127.0.0.1:1/announce"],
    });
    assert.equal(v1, `${content}.torrent`);
    const meta = decode(await readFile(v1));
    const info = dictGet(meta, "info");
    assert.equal(dictGet(info, "piece length"), 32_768);
    assert.equal(dictGet(info, "meta version"), undefined);
    const hybrid = await createTorrentWithLibtorrent(content, {
      pieceLength: 32_768,
      v1Only: false,
      out: path.join(s.dir, "hybrid.torrent"),
    });
    assert.match(hybrid.infoHash ?? "", /^[0-9a-f]{40}$/);
    assert.match(hybrid.infoHashV2 ?? "", /^[0-9a-f]{64}$/);
  });

  it("the test tracker answers announces with compact peers (BEP 23, BEP 7) and scrapes", async () => {
    await using tracker = await startTestTracker({
      peers: () => [
        { ip: "127.0.0.1", port: 6881 },
        { ip: "::1", port: 6882 },
      ],
    });
    const ih = "00112233445566778899aabbccddeeff00112233";
    const q = (port: number, extra = "") =>
      `${tracker.announceUrl}?info_hash=${pct(ih)}&peer_id=-TS0001-abcdefghijkl&port=${port}&uploaded=0&downloaded=0&left=5&compact=1${extra}`;
    const first = decode((await httpGet(q(7000))).body);
    assert.equal(dictGet(first, "interval"), 5);
    assert.deepEqual(
      Buffer.from(dictGet(first, "peers") as Uint8Array),
      Buffer.from([127, 0, 0, 1, 0x1a, 0xe1]),
    );
    const v6 = Buffer.from(dictGet(first, "peers6") as Uint8Array);
    assert.equal(v6.length, 18);
    assert.equal(v6.readUInt16BE(16), 6882);
    const second = decode((await httpGet(q(7001, "&event=started&ip=127.0.0.2"))).body);
    const peers = Buffer.from(dictGet(second, "peers") as Uint8Array);
    assert.equal(peers.length, 12, "callback peer + the first announcer, not itself");
    assert.deepEqual(peers.subarray(6), Buffer.from([127, 0, 0, 1, 0x1b, 0x58]));
    assert.equal(tracker.announces.length, 2);
    assert.equal(tracker.announces[1]?.ip, "127.0.0.2");
    assert.equal(tracker.announces[1]?.event, "started");
    assert.equal(tracker.announces[0]?.infoHash, ih);
    const scrape = decode((await httpGet(`${tracker.scrapeUrl}?info_hash=${pct(ih)}`)).body);
    const files = dictGet(scrape, "files");
    assert.equal(
      dictGet(dictGet(files, Buffer.from(ih, "hex").toString("latin1")), "incomplete"),
      2,
    );
    assert.deepEqual(
      [...(parseRawQuery("a=%00%ff+x&a=2&b").get("a") ?? [])].map((b) => b.toString("hex")),
      ["00ff2078", "32"],
    );
  });
});

// Mostly waiting (Transmission unchokes on a 10 s pulse): run a few at once.
describe("interop harness: real clients on loopback", { concurrency: 3 }, () => {
  it("libtorrent seed → libtorrent leecher (torrent file, then magnet)", async () => {
    await using s = await interopScope("lt-lt");
    const fx = await fixture(s.dir);
    const seed = s.use(
      await startLibtorrentSeed({ torrent: fx.torrent, dataDir: fx.dataDir, workDir: s.dir }),
    );
    assert.ok(seed.port > 0);
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startLibtorrentLeecher({
        torrent: fx.torrent,
        saveDir,
        peers: [{ host: seed.host, port: seed.port }],
        workDir: s.dir,
      }),
    );
    const { seconds } = await leech.done;
    assert.ok(seconds > 0 && seconds < 60);
    assert.equal(leech.progress() === 1 || (await leech.status()).progress === 1, true);
    await compareTrees(fx.content, path.join(saveDir, "content"));

    const magnetDir = path.join(s.dir, "magnet");
    const m = s.use(
      await startLibtorrentLeecher({
        magnet: fx.magnet,
        saveDir: magnetDir,
        peers: [{ host: seed.host, port: seed.port }],
        workDir: s.dir,
      }),
    );
    await m.done;
    await compareTrees(fx.content, path.join(magnetDir, "content"));
    assert.ok((await seed.status()).uploaded >= 2 * 3_200_078);
  });

  it("a seed whose data is missing fails fast with its log", async () => {
    await using s = await interopScope("lt-bad");
    const fx = await fixture(s.dir);
    await assert.rejects(
      startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: path.join(s.dir, "nowhere"),
        workDir: s.dir,
      }),
      (e: Error) => /incomplete/.test(e.message) && /last lines of the log/.test(e.message),
    );
  });

  it("libtorrent over ::1", async () => {
    await using s = await interopScope("lt-v6");
    const fx = await fixture(s.dir);
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        ipv6: "only",
        workDir: s.dir,
      }),
    );
    assert.equal(seed.host, "::1");
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startLibtorrentLeecher({
        torrent: fx.torrent,
        saveDir,
        ipv6: true,
        peers: [{ host: "::1", port: seed.port }],
        workDir: s.dir,
      }),
    );
    await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
  });

  it("Transmission seed ← libtorrent leecher dials it", async () => {
    await using s = await interopScope("tr-seed");
    const fx = await fixture(s.dir);
    const seed = s.use(
      await startTransmissionSeed({ torrent: fx.torrent, dataDir: fx.dataDir, workDir: s.dir }),
    );
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startLibtorrentLeecher({
        torrent: fx.torrent,
        saveDir,
        peers: [{ host: seed.host, port: seed.port }],
        workDir: s.dir,
      }),
    );
    await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
  });

  it("Transmission leecher ← libtorrent seed dials it", async () => {
    await using s = await interopScope("tr-leech");
    const fx = await fixture(s.dir);
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startTransmissionLeecher({ torrent: fx.torrent, saveDir, workDir: s.dir }),
    );
    s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        peers: [{ host: leech.host, port: leech.port }],
        workDir: s.dir,
      }),
    );
    await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
  });

  it("aria2 leecher finds a libtorrent seed through the test tracker", async () => {
    await using s = await interopScope("aria2");
    let seedPort = 0;
    const tracker = s.use(
      await startTestTracker({
        peers: () => (seedPort ? [{ ip: "127.0.0.1", port: seedPort }] : []),
      }),
    );
    const fx = await fixture(s.dir, [tracker.announceUrl]);
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        // The seed announces nowhere: only the callback can lead aria2 to it.
        trackers: [],
        workDir: s.dir,
      }),
    );
    seedPort = seed.port;
    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(await startAria2Leecher({ torrent: fx.torrent, saveDir, workDir: s.dir }));
    await leech.done;
    await compareTrees(fx.content, path.join(saveDir, "content"));
    const a = await tracker.waitForAnnounce((x) => x.port === leech.port);
    assert.equal(a.infoHash, fx.infoHash);
  });

  it("opentracker serves HTTP announce/scrape: a leecher finds a seed through it", async () => {
    await using s = await interopScope("opentracker");
    const content = path.join(s.dir, "seed", "content");
    await makeContent(content, LAYOUT);
    // The tracker URL goes into the torrent, so the port is fixed before the torrent is made.
    const port = await freePort(["udp4"]);
    const url = `http://127.0.0.1:${port}/announce`;
    const made = await createTorrentWithLibtorrent(content, {
      pieceLength: 65_536,
      trackers: [url],
      out: path.join(s.dir, "content.torrent"),
    });
    const ot = s.use(
      await startOpentracker({ infoHashes: [made.infoHash!], port, workDir: s.dir }),
    );
    assert.equal(ot.httpUrl, url);
    assert.equal(ot.udpUrl, `udp://127.0.0.1:${port}/announce`);
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: made.torrent,
        dataDir: path.join(s.dir, "seed"),
        workDir: s.dir,
      }),
    );
    await seed.waitForEvent("a tracker reply", (e) => e.kind === "tracker_reply_alert", 20_000);
    const scrape = decode((await httpGet(`${ot.scrapeUrl}?info_hash=${pct(made.infoHash!)}`)).body);
    const entry = dictGet(
      dictGet(scrape, "files"),
      Buffer.from(made.infoHash!, "hex").toString("latin1"),
    );
    assert.equal(dictGet(entry, "complete"), 1);
    // A hash that is not whitelisted is refused.
    const refused = await httpGet(
      `${ot.httpUrl}?info_hash=${pct("ff".repeat(20))}&peer_id=-TS0001-abcdefghijkl&port=1&left=0&compact=1`,
    );
    assert.match(refused.body.toString("latin1"), /failure reason/);

    const saveDir = path.join(s.dir, "leech");
    const leech = s.use(
      await startLibtorrentLeecher({ torrent: made.torrent, saveDir, workDir: s.dir }),
    );
    await leech.done;
    await compareTrees(content, path.join(saveDir, "content"));
  });

  it("stop() ends the whole process group, also for forgotten processes", async () => {
    await using s = await interopScope("stop");
    const fx = await fixture(s.dir);
    const seed = await startLibtorrentSeed({
      torrent: fx.torrent,
      dataDir: fx.dataDir,
      workDir: s.dir,
    });
    const pid = seed.process.pid;
    await seed.stop();
    await seed.stop();
    assert.equal(seed.process.running, false);
    await assert.rejects(run("kill", ["-0", String(pid)]));
    assert.equal(await isListening(seed.port), false);
  });
});
