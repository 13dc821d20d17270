/**
 * Network faults between a downloader and its seeds, simulated by FaultProxy (proxy.ts): high
 * latency with jitter, connection resets, a path that stalls for good (black hole, heavy loss),
 * and peers that vanish in the middle of a block. Every download must complete with the right
 * bytes; requests stuck on a stalled peer must time out and be served by the others. Timeouts
 * are shortened through `SessionOptions.timeouts` so each test takes seconds.
 */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, it } from "node:test";
import type { Session, SessionTimeouts } from "../../src/session/session.js";
import type { Torrent } from "../../src/torrent/torrent.js";
import { startSession } from "../hostile/attack.js";
import {
  addressOf,
  type Fixture,
  KIB,
  MIB,
  makeFixture,
  recordEvents,
  withTimeout,
} from "../swarm/helpers.js";
import { FaultProxy, type Faults } from "./proxy.js";

/** The downloader's timeouts: requests give up after 2 s; idle peers are kept (a stall must be
 * caught by the request timeout, not by the connection going idle). */
const LEECHER: Partial<SessionTimeouts> = {
  requestMs: 2_000,
  snubMs: 3_000,
  handshakeMs: 5_000,
  connectMs: 3_000,
};

/** A tiny deterministic PRNG, so fault positions repeat from run to run. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

describe("network faults", { timeout: 150_000 }, () => {
  let f: Fixture;
  let sessions: Session[] = [];
  let proxies: FaultProxy[] = [];

  before(async () => {
    f = await makeFixture(8 * MIB, 256 * KIB);
  });
  afterEach(async () => {
    await Promise.allSettled(proxies.map((p) => p.close()));
    proxies = [];
    await Promise.allSettled(sessions.map((s) => s.close()));
    sessions = [];
  });
  after(async () => {
    await f?.cleanup();
  });

  /** `faults.length` seeds, each behind a proxy of its own (on 127.0.0.2, .3, ...). */
  async function seedsBehind(faults: (Faults | ((i: number) => Faults))[]): Promise<FaultProxy[]> {
    const out: FaultProxy[] = [];
    for (const [i, fl] of faults.entries()) {
      const s = await startSession();
      sessions.push(s);
      const t = await s.add(f.meta, { downloadDir: f.seedDir });
      assert.equal(t.state, "seeding");
      const p = await FaultProxy.listen(addressOf(s), fl, `127.0.0.${2 + i}`);
      proxies.push(p);
      out.push(p);
    }
    return out;
  }

  async function download(
    name: string,
    peers: FaultProxy[],
    bound = 30_000,
  ): Promise<{ t: Torrent; seconds: number; log: ReturnType<typeof recordEvents> }> {
    const s = await startSession(LEECHER);
    sessions.push(s);
    const dir = await f.newDir(name);
    const started = performance.now();
    const t = await s.add(f.meta, { downloadDir: dir, peers: peers.map((p) => p.address) });
    const log = recordEvents(t);
    await withTimeout(t.done, `download ${name}`, bound);
    const seconds = (performance.now() - started) / 1000;
    assert.ok((await f.read(dir)).equals(f.data), `${name}: downloaded bytes differ`);
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "hash-failed" || e.name === "peer-banned"),
      [],
      `${name}: errors, failed pieces or bans`,
    );
    return { t, seconds, log };
  }

  it("three seeds at 100–200 ms latency each way (jitter, order kept)", async (tc) => {
    const proxies = await seedsBehind([
      { latencyMs: 100, jitterMs: 100 },
      { latencyMs: 150, jitterMs: 50 },
      { latencyMs: 200 },
    ]);
    const { seconds, t } = await download("latency", proxies);
    const down = proxies.map((p) => p.stats.bytesDown);
    tc.diagnostic(
      `8 MiB in ${seconds.toFixed(1)} s; per seed ${down.map((b) => (b / MIB).toFixed(1)).join(" / ")} MiB; ` +
        `${t.stats().requestsTimedOut} requests timed out`,
    );
    assert.ok(down.filter((b) => b > 256 * KIB).length >= 2, "pieces came from one seed only");
  });

  it("connections reset (RST) at random points: reconnects and completes", async (tc) => {
    const rnd = prng(7);
    const resetting = (): Faults => ({
      latencyMs: 10,
      resetAfterBytes: Math.floor(MIB + rnd() * 2 * MIB),
    });
    const proxies = await seedsBehind([resetting, resetting, resetting]);
    const { seconds } = await download("resets", proxies);
    const resets = proxies.reduce((n, p) => n + p.stats.resets, 0);
    const conns = proxies.reduce((n, p) => n + p.stats.connections, 0);
    tc.diagnostic(`8 MiB in ${seconds.toFixed(1)} s over ${conns} connections, ${resets} resets`);
    assert.ok(resets >= 2, `only ${resets} resets happened`);
  });

  it("a path that stalls for good: its requests time out and move to the other seed", async (tc) => {
    // The first seed's path goes silent after 256 KiB (sockets stay open: no error, no close);
    // the second is slow enough that the download outlasts a few 2 s request timeouts.
    const [stalled, good] = await seedsBehind([
      { latencyMs: 5, stallAfterBytes: 256 * KIB },
      { latencyMs: 5, bytesPerSec: 1 * MIB },
    ]);
    // Timed-out requests over time: the stalled peer's whole queue once, then (snubbed: one
    // request at a time) one per timeout.
    const samples: number[] = [];
    const s = await startSession(LEECHER);
    sessions.push(s);
    const dir = await f.newDir("stall");
    const started = performance.now();
    const t = await s.add(f.meta, { downloadDir: dir, peers: [stalled!.address, good!.address] });
    const log = recordEvents(t);
    const poll = setInterval(() => samples.push(t.stats().requestsTimedOut), 100);
    try {
      await withTimeout(t.done, "download past a stalled seed", 30_000);
    } finally {
      clearInterval(poll);
    }
    const seconds = (performance.now() - started) / 1000;
    assert.ok((await f.read(dir)).equals(f.data), "downloaded bytes differ");
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "hash-failed" || e.name === "peer-banned"),
      [],
    );
    const timedOut = t.stats().requestsTimedOut;
    const first = samples.find((n) => n > 0) ?? 0;
    tc.diagnostic(
      `8 MiB in ${seconds.toFixed(1)} s; the stalled seed sent ${(stalled!.stats.bytesDown / KIB).toFixed(0)} KiB; ` +
        `${first} requests timed out at once, ${timedOut - first} more later; the other seed sent ` +
        `${(good!.stats.bytesDown / MIB).toFixed(1)} MiB`,
    );
    assert.equal(stalled!.stats.stalls, 1);
    assert.ok(first >= 1, "no request timed out");
    assert.ok(
      good!.stats.bytesDown >= f.data.length - 256 * KIB,
      "the good seed did not take over",
    );
    // Snubbed after its first timeout, the stalled peer holds one request per timeout.
    assert.ok(timedOut - first <= 4, `${timedOut - first} more timed out: it kept a full queue`);
    // The stalled connection stayed open until the end: its blocks moved by the request timeout.
    const gone = log.find(
      (e) => e.name === "peer-disconnected" && String(e.args[0]).startsWith("127.0.0.2:"),
    );
    assert.ok(!gone || gone.args[1] === "both seeding", `${gone?.args}`);
  });

  it("seeds that vanish mid-block (FIN after part of a piece message): completes, no bad pieces", async (tc) => {
    // 100 KiB + 7 KiB: past the handshakes, inside the 7th block message whatever came before.
    const cut = 107 * KIB;
    const proxies = await seedsBehind([
      // Vanishes on its first connection only, then behaves.
      (i: number): Faults => (i === 0 ? { latencyMs: 5, dropAfterBytes: cut } : { latencyMs: 5 }),
      // Vanishes every time: it never delivers more than `cut` bytes per connection.
      { latencyMs: 5, dropAfterBytes: cut + 3 * KIB },
      { latencyMs: 20, bytesPerSec: 4 * MIB },
    ]);
    const { seconds } = await download("vanish", proxies);
    const drops = proxies.map((p) => p.stats.drops);
    tc.diagnostic(`8 MiB in ${seconds.toFixed(1)} s; drops per seed ${drops.join(" / ")}`);
    assert.ok(drops[0]! >= 1 && drops[1]! >= 1, `drops ${drops}`);
  });

  it("everything at once: latency, resets, a stall and a vanishing seed", async (tc) => {
    const rnd = prng(11);
    const proxies = await seedsBehind([
      { latencyMs: 150, jitterMs: 50 },
      (i: number): Faults => ({ latencyMs: 80, resetAfterBytes: (1 + i) * MIB * (0.5 + rnd()) }),
      { latencyMs: 30, stallAfterBytes: 128 * KIB },
      (i: number): Faults =>
        i < 2 ? { latencyMs: 30, dropAfterBytes: 200 * KIB + 5 } : { latencyMs: 30 },
    ]);
    const { seconds, t } = await download("all", proxies);
    const s = proxies.map((p) => p.stats);
    tc.diagnostic(
      `8 MiB in ${seconds.toFixed(1)} s; resets ${s[1]!.resets}, stalls ${s[2]!.stalls}, drops ` +
        `${s[3]!.drops}, ${t.stats().requestsTimedOut} requests timed out`,
    );
  });
});
