/**
 * Hostile peers against live sessions, the behaviours test/swarm/protocol.test.ts does not cover:
 * 500 simultaneous incoming connections, slowloris (a byte at a time before, during and after the
 * handshake), a request flood beyond the `reqq` we advertised, requests flooded while choked by a
 * peer that never reads our rejects, extension handshakes with every field of the wrong type, our
 * own peer id and a wrong info-hash both ways. For each: the offender is dropped (or its nonsense
 * ignored), limits and memory stay bounded, and a download running beside it completes with the
 * right bytes. Timeouts are shortened through `SessionOptions.timeouts` so this runs in seconds.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import net from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { allowedFastSet } from "../../src/ext/index.js";
import { parseMagnet } from "../../src/magnet/index.js";
import { ADVERTISED_REQQ, MAX_INCOMING_REQUESTS_WITH_REQQ } from "../../src/peer/peer.js";
import type { Session } from "../../src/session/session.js";
import { DEFAULT_MAX_PEERS, INCOMING_SLACK } from "../../src/torrent/torrent.js";
import { buildReserved } from "../../src/wire/index.js";
import { FaultProxy } from "../net-faults/proxy.js";
import {
  actAsSeed,
  addressOf,
  BLOCK,
  type Fixture,
  Id,
  KIB,
  LOCALHOST,
  MIB,
  makeFixture,
  nextEvent,
  RawPeer,
  recordEvents,
  sleep,
  startsLikeHandshake,
  withTimeout,
} from "../swarm/helpers.js";
import {
  bencode,
  closedAfter,
  displayOf,
  extMessage,
  handshakeBytes,
  MemorySampler,
  rawConnect,
  SHORT_TIMEOUTS,
  startSession,
  trickle,
  u32s,
} from "./attack.js";

const FAST_EXT = buildReserved(["fast", "extended"]);
const EXT = buildReserved(["extended"]);
const FAST = buildReserved(["fast"]);

describe("hostile peers", { timeout: 120_000 }, () => {
  let f: Fixture;
  let sessions: Session[] = [];
  const cleanups: (() => unknown)[] = [];

  before(async () => {
    f = await makeFixture(8 * MIB, 256 * KIB);
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
    await Promise.allSettled(sessions.map((s) => s.close()));
    sessions = [];
  });
  after(async () => {
    await f?.cleanup();
  });

  async function session(timeouts = SHORT_TIMEOUTS): Promise<Session> {
    const s = await startSession(timeouts);
    sessions.push(s);
    return s;
  }

  async function seed(): Promise<Session> {
    const s = await session();
    const t = await s.add(f.meta, { downloadDir: f.seedDir });
    assert.equal(t.state, "seeding");
    return s;
  }

  /** The seed behind a proxy at `bytesPerSec`: a download that lasts a few seconds. */
  async function slowSeed(bytesPerSec: number): Promise<FaultProxy> {
    const s = await seed();
    const proxy = await FaultProxy.listen(addressOf(s), { bytesPerSec }, LOCALHOST);
    cleanups.push(() => proxy.close());
    return proxy;
  }

  it("500 simultaneous incoming connections: limits hold, memory stays bounded, a download completes", async (tc) => {
    const seedSession = await seed();
    const leecher = await session();
    const dir = await f.newDir("flood");
    const t = await leecher.add(f.meta, { downloadDir: dir });
    const log = recordEvents(t);
    let peak = 0;
    const watch = setInterval(() => {
      peak = Math.max(peak, t.stats().peers);
    }, 10);
    cleanups.push(() => clearInterval(watch));
    const mem = new MemorySampler();

    // Five kinds: silent (never say a byte), junk, and three of handshakes that then keep the
    // connection alive with keep-alives but do nothing else.
    type Kind = "silent" | "junk" | "handshake";
    const kinds: Kind[] = ["silent", "junk", "handshake", "handshake", "handshake"];
    const conns: { s: net.Socket; kind: Kind; answered: boolean; closed: Promise<number> }[] = [];
    const t0 = performance.now();
    const opened = await Promise.allSettled(
      Array.from({ length: 500 }, async (_, i) => {
        const s = await rawConnect(leecher.port, `127.0.0.${100 + (i % 50)}`);
        const c = { s, kind: kinds[i % 5]!, answered: false, closed: closedAfter(s, t0) };
        conns.push(c);
        s.on("data", () => {
          c.answered = true;
        });
        if (c.kind === "junk") s.write(randomBytes(64));
        if (c.kind === "handshake") s.write(handshakeBytes(f.meta.infoHash, FAST_EXT));
      }),
    );
    cleanups.push(() => {
      for (const c of conns) c.s.destroy();
    });
    const keepAlive = setInterval(() => {
      for (const c of conns) if (c.kind === "handshake" && !c.s.destroyed) c.s.write(u32s(0));
    }, 500);
    cleanups.push(() => clearInterval(keepAlive));
    assert.equal(opened.filter((r) => r.status === "rejected").length, 0, "connects failed");

    // Silent and junk connections are all closed: junk at once, silence after the 2 s routing
    // timeout (or at once when over the half-open cap).
    await withTimeout(
      Promise.all(conns.filter((c) => c.kind !== "handshake").map((c) => c.closed)),
      "silent and junk connections closed",
      10_000,
    );
    const limit = DEFAULT_MAX_PEERS + INCOMING_SLACK;
    const held = conns.filter((c) => c.kind === "handshake" && !c.s.destroyed);
    const answered = conns.filter((c) => c.kind === "handshake" && c.answered).length;
    assert.ok(peak <= limit, `${peak} peers at once, over the limit of ${limit}`);
    assert.ok(held.length <= limit, `${held.length} connections held open`);
    assert.ok(held.length > 0, "no handshake was accepted at all");
    assert.ok(
      conns.filter((c) => c.kind === "junk").every((c) => !c.answered),
      "junk was answered",
    );

    // The real seed comes while the idle attackers hold every slot: peers with nothing to
    // exchange make room, and the download completes.
    const started = performance.now();
    t.addPeers([addressOf(seedSession)], true);
    await withTimeout(t.done, "the download beside 500 connections", 30_000);
    const seconds = (performance.now() - started) / 1000;
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
    assert.ok(peak <= limit, `${peak} peers at once, over the limit of ${limit}`);
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "hash-failed"),
      [],
      "errors",
    );
    const m = mem.stop();
    tc.diagnostic(
      `500 connections: ${answered} handshakes answered, ${held.length} held, peak ${peak} peers; ` +
        `download after ${seconds.toFixed(1)} s; peak memory +${(m.rss / MIB).toFixed(0)} MiB rss, ` +
        `+${(m.heap / MIB).toFixed(0)} MiB heap+buffers (attackers included)`,
    );
    assert.ok(m.heap < 128 * MIB, `heap grew by ${(m.heap / MIB).toFixed(0)} MiB`);

    // The attackers leave: their slots are free again for a well-behaved peer.
    for (const c of conns) c.s.destroy();
    await sleep(100);
    const good = await RawPeer.connect(leecher.port, f.meta.infoHash, "127.0.0.99");
    good.close();
  });

  it("a magnet's metadata phase filled with idle connections still gets the metadata and completes", async (tc) => {
    const seedSession = await seed();
    const leecher = await session();
    const phase = leecher.fetchMetadata(parseMagnet(`magnet:?xt=urn:btih:${f.meta.infoHashHex}`));
    // 100 connections that handshake and then only send keep-alives (never an extension
    // handshake, so never a metadata source) take every slot of the phase.
    const conns: net.Socket[] = [];
    cleanups.push(() => {
      for (const c of conns) c.destroy();
    });
    let answered = 0;
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const s = await rawConnect(leecher.port, `127.0.0.${100 + (i % 20)}`);
        conns.push(s);
        s.once("data", () => answered++);
        s.write(handshakeBytes(f.meta.infoHash, FAST_EXT));
      }),
    );
    const keepAlive = setInterval(() => {
      for (const c of conns) if (!c.destroyed) c.write(u32s(0));
    }, 500);
    cleanups.push(() => clearInterval(keepAlive));
    await sleep(2_500);
    const held = conns.filter((c) => !c.destroyed).length;
    const started = performance.now();
    phase.addPeers([addressOf(seedSession)], true);
    const meta = await withTimeout(phase.meta, "the metadata beside idle connections", 15_000);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(meta.infoHashHex, f.meta.infoHashHex);
    const dir = await f.newDir("magnet-flood");
    const t = await leecher.add(meta, { downloadDir: dir, from: phase });
    await withTimeout(t.done, "the download after the metadata");
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
    tc.diagnostic(
      `${answered} of 100 handshakes answered, ${held} held; metadata ${seconds.toFixed(1)} s after the seed was added`,
    );
  });

  it("slowloris before, during and after the handshake is dropped; the download beside completes", async (tc) => {
    const proxy = await slowSeed(2 * MIB);
    const leecher = await session();
    const dir = await f.newDir("slowloris");
    const t = await leecher.add(f.meta, { downloadDir: dir, peers: [proxy.address] });
    const log = recordEvents(t);
    const t0 = performance.now();
    const hs = handshakeBytes(f.meta.infoHash, EXT);

    // 1. The protocol string, a byte every 300 ms: the listener's 2 s routing timeout.
    const a = await rawConnect(leecher.port, "127.0.0.31");
    void trickle(a, hs, 300);
    // 2. The 48 routing bytes at once, then the peer id a byte a second: the peer's 3 s
    //    handshake timeout.
    const b = await rawConnect(leecher.port, "127.0.0.32");
    b.write(hs.subarray(0, 48));
    void trickle(b, hs.subarray(48), 1000);
    // 3. A whole handshake, then an extension handshake a byte every 200 ms, forever: nothing
    //    whole arrives, so the 3 s idle timeout (bytes trickling in do not count).
    const c = await RawPeer.connect(leecher.port, f.meta.infoHash, "127.0.0.33", EXT);
    const cDropped = nextEvent(t, "peer-disconnected", (x) => x === displayOf(c));
    const ext = extMessage(0, bencode({ m: {}, v: "x".repeat(400) }));
    void trickle(c.socket, ext, 200);
    // 4. As 3, but a 16 KiB block message trickled (it would be unrequested, but never ends).
    const d = await RawPeer.connect(leecher.port, f.meta.infoHash, "127.0.0.34", EXT);
    const dDropped = nextEvent(t, "peer-disconnected", (x) => x === displayOf(d));
    const block = Buffer.concat([u32s(9 + BLOCK), Buffer.from([Id.piece]), u32s(0, 0)]);
    void trickle(d.socket, block, 200);

    const [ta, tb, tcl, td] = await withTimeout(
      Promise.all([closedAfter(a, t0), closedAfter(b, t0), c.waitClosed(), d.waitClosed()]).then(
        ([x, y]) => [x, y, performance.now() - t0, performance.now() - t0],
      ),
      "every slowloris dropped",
      15_000,
    );
    const [, cReason] = await cDropped;
    const [, dReason] = await dDropped;
    assert.equal(cReason, "idle timeout");
    assert.equal(dReason, "idle timeout");
    tc.diagnostic(
      `dropped after: routing ${(ta / 1000).toFixed(1)} s, handshake ${(tb / 1000).toFixed(1)} s, ` +
        `idle ${(tcl / 1000).toFixed(1)} s / ${(td / 1000).toFixed(1)} s`,
    );
    // Loose guards: each goes at its own timeout, not before.
    assert.ok(ta >= 1_500 && ta < 6_000, `routing timeout after ${ta} ms`);
    assert.ok(tb >= 2_500 && tb < 8_000, `handshake timeout after ${tb} ms`);

    await withTimeout(t.done, "the download beside the slowloris peers");
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "hash-failed" || e.name === "peer-banned"),
      [],
    );
  });

  it("a request flood beyond the reqq we advertised gets the flooder dropped; a download beside completes", async (tc) => {
    const proxy = await slowSeed(4 * MIB);
    const leecher = await session();
    const dir = await f.newDir("flood-reqq");
    const t = await leecher.add(f.meta, { downloadDir: dir, peers: [proxy.address] });
    const seedT = sessions[0]!.get(f.meta.infoHashHex)!;
    const p = await RawPeer.connect(sessions[0]!.port, f.meta.infoHash, "127.0.0.41", FAST_EXT);
    const hs = await p.waitFor((m) => m.id === 20 && m.payload[0] === 0, "extension handshake");
    assert.match(hs.payload.toString("latin1"), new RegExp(`4:reqqi${ADVERTISED_REQQ}e`));
    p.sendMessage({ type: "interested" });
    await p.waitFor((m) => m.id === Id.unchoke, "unchoke");
    // It reads nothing more: all of its requests stay unserved.
    p.socket.pause();
    const n = MAX_INCOMING_REQUESTS_WITH_REQQ + 500;
    const out = Buffer.alloc(n * 17);
    for (let k = 0; k < n; k++) {
      out.writeUInt32BE(13, k * 17);
      out[k * 17 + 4] = Id.request;
      out.writeUInt32BE(k % f.meta.pieceCount, k * 17 + 5);
      out.writeUInt32BE((Math.floor(k / f.meta.pieceCount) % 16) * BLOCK, k * 17 + 9);
      out.writeUInt32BE(BLOCK, k * 17 + 13);
    }
    const dropped = nextEvent(seedT, "peer-disconnected", (x) => x === displayOf(p));
    p.send(out);
    const [, reason] = await dropped;
    assert.equal(reason, "request-flood");
    tc.diagnostic(`${n} requests at once from a peer told reqq ${ADVERTISED_REQQ}: ${reason}`);
    await withTimeout(t.done, "the download beside the flooder");
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
  });

  it("requests flooded while choked by a peer that never reads the rejects: dropped, memory bounded", async (tc) => {
    const s = await seed();
    const seedT = s.get(f.meta.infoHashHex)!;
    const leecher = await session();
    const dir = await f.newDir("reject-flood");
    const mem = new MemorySampler();
    // Fast, not interested (so choked): every request is answered with a reject.
    const p = await RawPeer.connect(s.port, f.meta.infoHash, "127.0.0.42", FAST);
    await p.waitFor((m) => m.id === Id.haveAll, "have_all");
    p.socket.pause();
    const dropped = nextEvent(seedT, "peer-disconnected", (x) => x === displayOf(p));
    // A piece outside the allowed-fast set offered to it: every request is rejected, none queued.
    const allowed = allowedFastSet("127.0.0.42", f.meta.infoHash, f.meta.pieceCount);
    const refused = [...Array(f.meta.pieceCount).keys()].find(
      (i) => !allowed.includes(i as never),
    )!;
    const perBatch = 4096;
    const batch = Buffer.alloc(perBatch * 17);
    for (let k = 0; k < perBatch; k++) {
      batch.writeUInt32BE(13, k * 17);
      batch[k * 17 + 4] = Id.request;
      batch.writeUInt32BE(refused, k * 17 + 5);
      batch.writeUInt32BE((k % 16) * BLOCK, k * 17 + 9);
      batch.writeUInt32BE(BLOCK, k * 17 + 13);
    }
    // Up to 64 MiB of requests (4 million rejects' worth; 900 MB of heap before the fix), as
    // fast as the seed reads them.
    let sent = 0;
    const flood = (async () => {
      while (sent < 64 * MIB && !p.closed) {
        const ok = p.socket.write(batch);
        sent += batch.length;
        if (!ok)
          await new Promise<void>((r) => {
            const done = () => {
              p.socket.off("drain", done);
              p.socket.off("close", done);
              r();
            };
            p.socket.once("drain", done);
            p.socket.once("close", done);
          });
      }
    })();
    const [, reason] = await withTimeout(dropped, "the reject flooder dropped", 30_000);
    await flood;
    const m = mem.stop();
    tc.diagnostic(
      `dropped after ${(sent / MIB).toFixed(1)} MiB of requests: ${reason}; peak memory ` +
        `+${(m.heap / MIB).toFixed(0)} MiB heap+buffers, +${(m.rss / MIB).toFixed(0)} MiB rss`,
    );
    assert.match(reason, /send backlog|not reading/);
    assert.ok(m.heap < 96 * MIB, `heap grew by ${(m.heap / MIB).toFixed(0)} MiB`);
    // Still serving: a download completes.
    const t = await leecher.add(f.meta, { downloadDir: dir, peers: [addressOf(s)] });
    await withTimeout(t.done, "a download after the flood");
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
  });

  it("extension handshakes with wrong types are ignored or get the peer dropped, never a crash; the download completes", async (tc) => {
    const leecher = await session();
    const dir = await f.newDir("bad-ext");
    const t = await leecher.add(f.meta, { downloadDir: dir });
    const log = recordEvents(t);
    const huge = 2n ** 62n;
    // Kept: BEP 10 says to ignore what is not understood, and every field is type-checked.
    const kept: [string, Uint8Array][] = [
      ["m not a dictionary", bencode({ m: 5 })],
      ["m a list", bencode({ m: [1, 2, 3] })],
      [
        "m ids negative, huge, out of range, strings",
        bencode({
          m: { ut_metadata: -1, ut_pex: 256, lt_donthave: 2 ** 40, upload_only: "x", "": 3 },
        }),
      ],
      ["m ids beyond 2^53", bencode({ m: { ut_pex: huge } })],
      ["metadata_size negative", bencode({ m: { ut_metadata: 3 }, metadata_size: -5 })],
      ["metadata_size huge", bencode({ m: { ut_metadata: 3 }, metadata_size: huge })],
      ["metadata_size a string", bencode({ m: { ut_metadata: 3 }, metadata_size: "16384" })],
      ["reqq a string", bencode({ m: {}, reqq: "500" })],
      ["reqq zero", bencode({ m: {}, reqq: 0 })],
      ["reqq negative", bencode({ m: {}, reqq: -250 })],
      ["reqq huge", bencode({ m: {}, reqq: huge })],
      ["yourip of 5 bytes", bencode({ m: {}, yourip: new Uint8Array(5) })],
      ["yourip an integer", bencode({ m: {}, yourip: 2130706433 })],
      ["p out of range", bencode({ m: {}, p: 70_000 })],
      ["p negative", bencode({ m: {}, p: -1 })],
      ["p a string", bencode({ m: {}, p: "6881" })],
      ["v binary", bencode({ m: {}, v: Buffer.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x1b]) })],
      ["v an integer", bencode({ m: {}, v: 12 })],
      ["v 60 KB", bencode({ m: {}, v: "A".repeat(60_000) })],
      ["upload_only a dictionary", bencode({ m: {}, upload_only: { a: 1 } })],
      ["ipv6 of 4 bytes", bencode({ m: {}, ipv6: new Uint8Array(4) })],
      ["unknown keys of every type", bencode({ m: {}, x: [{ y: [1, "z"] }], e: "yes" })],
    ];
    // Dropped: not a dictionary at all, or over the size cap.
    const dropped: [string, Uint8Array, RegExp][] = [
      ["a list", bencode([1, 2]), /EXT_BAD_HANDSHAKE/],
      ["an integer", bencode(7), /EXT_BAD_HANDSHAKE/],
      ["empty", new Uint8Array(0), /EXT_BAD_HANDSHAKE/],
      ["truncated", Buffer.from("d1:md11:ut_metadatai3e"), /EXT_BAD_HANDSHAKE/],
      ["trailing junk", Buffer.from("de junk"), /EXT_BAD_HANDSHAKE/],
      ["nested 5000 deep", Buffer.from(`d1:x${"l".repeat(5000)}${"e".repeat(5001)}`), /EXT_/],
      ["100 KB", bencode({ m: {}, v: "A".repeat(100_000) }), /EXT_HANDSHAKE_TOO_LONG/],
    ];
    const attackers: { name: string; p: RawPeer; expect?: RegExp; address: string }[] = [];
    const reasons = new Map<string, string>();
    t.on("peer-disconnected", (address, reason) => reasons.set(address, reason));
    let i = 0;
    for (const [name, payload, expect] of [
      ...kept.map(([n, pl]) => [n, pl, undefined] as const),
      ...dropped,
    ]) {
      const p = await RawPeer.connect(
        leecher.port,
        f.meta.infoHash,
        `127.0.0.${120 + i++}`,
        FAST_EXT,
      );
      p.send(extMessage(0, payload));
      // Sent twice, and an extended message under an id nobody assigned.
      p.send(extMessage(0, payload), extMessage(99, bencode({ msg_type: 0, piece: 0 })));
      attackers.push({ name, p, ...(expect ? { expect } : {}), address: displayOf(p) });
    }
    // Each dropped one goes with its code; the kept ones are still there.
    await withTimeout(
      Promise.all(attackers.filter((a) => a.expect).map((a) => a.p.waitClosed())),
      "malformed extension handshakes dropped",
      10_000,
    );
    await sleep(300);
    // The others now act as seeds with the right data: the download comes from them.
    for (const a of attackers) if (!a.expect) actAsSeed(a.p, f, () => "serve");
    await withTimeout(t.done, "the download from the weird-but-honest peers");
    for (const a of attackers) {
      const reason = reasons.get(a.address);
      if (a.expect) {
        assert.match(reason ?? "", a.expect, `${a.name}: dropped for "${reason}"`);
        assert.match(reason ?? "", /^protocol violation/, a.name);
      } else {
        assert.ok(
          reason === undefined || reason === "both seeding",
          `${a.name}: dropped for "${reason}"`,
        );
      }
    }
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "hash-failed" || e.name === "peer-banned"),
      [],
    );
    const servedBy = attackers.filter((a) => !a.expect).length;
    tc.diagnostic(
      `${kept.length} ignored field shapes, ${dropped.length} dropped; ${servedBy} kept`,
    );
    for (const a of attackers) a.p.close();
  });

  it("our own peer id and a wrong info-hash, incoming and dialled: closed, never dialled again; the download completes", async () => {
    const s = await seed();
    const leecher = await session();
    const dir = await f.newDir("self");
    const t = await leecher.add(f.meta, { downloadDir: dir });
    const t0 = performance.now();

    // Incoming, with the leecher's own peer id: closed before any answer.
    const self = await rawConnect(leecher.port, "127.0.0.51");
    let selfAnswer = 0;
    self.on("data", (d: Buffer) => {
      selfAnswer += d.length;
    });
    self.write(handshakeBytes(f.meta.infoHash, FAST_EXT, leecher.peerId));
    // Incoming, for a torrent the session does not have: closed before any answer.
    const wrong = await rawConnect(leecher.port, "127.0.0.52");
    let wrongAnswer = 0;
    wrong.on("data", (d: Buffer) => {
      wrongAnswer += d.length;
    });
    wrong.write(handshakeBytes(randomBytes(20), FAST_EXT));
    await withTimeout(
      Promise.all([closedAfter(self, t0), closedAfter(wrong, t0)]),
      "incoming self and wrong-torrent connections closed",
      5_000,
    );
    assert.equal(selfAnswer, 0, "answered a connection from ourselves");
    assert.equal(wrongAnswer, 0, "answered a connection for another torrent");

    // Dialled: one server answers with our own peer id (a reflection), one with another
    // info-hash. Each is dialled once and never again.
    const dials = new Map<string, number>();
    const servers: net.Server[] = [];
    for (const [host, reply] of [
      ["127.0.0.53", () => handshakeBytes(f.meta.infoHash, FAST_EXT, leecher.peerId)],
      ["127.0.0.54", () => handshakeBytes(randomBytes(20), FAST_EXT)],
    ] as const) {
      const server = net.createServer((sock) => {
        sock.on("error", () => {});
        // A client without MSE/PE: it hangs up on anything but a plaintext handshake.
        sock.once("data", (d: Buffer) => {
          if (!startsLikeHandshake(d)) {
            sock.destroy();
            return;
          }
          dials.set(host, (dials.get(host) ?? 0) + 1);
          sock.write(reply());
        });
      });
      await new Promise<void>((r) => server.listen({ host, port: 0 }, r));
      servers.push(server);
      cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    }
    const addrs = servers.map((srv) => ({
      host: (srv.address() as net.AddressInfo).address,
      port: (srv.address() as net.AddressInfo).port,
    }));
    t.addPeers(addrs, true);
    await sleep(5_500); // long enough for a retry of a pinned peer that merely failed (3-5 s)
    assert.deepEqual(
      [...dials.entries()].sort(),
      [
        ["127.0.0.53", 1],
        ["127.0.0.54", 1],
      ],
      "dialled again after self / wrong-torrent",
    );
    t.addPeers([addressOf(s)], true);
    await withTimeout(t.done, "the download beside them");
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
  });
});
