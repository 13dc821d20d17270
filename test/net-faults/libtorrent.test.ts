/**
 * Network faults with a real libtorrent seed (python3-libtorrent, as in test/interop): Tessera
 * downloads from libtorrent behind 100–200 ms of latency whose first connection is reset, and
 * from a Tessera seed whose path stalls for good. The download completes byte for byte; the
 * stalled seed's requests time out and go to libtorrent.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Session, SessionTimeouts } from "../../src/session/session.js";
import { startSession } from "../hostile/attack.js";
import {
  compareTrees,
  type InteropScope,
  interopScope,
  startLibtorrentSeed,
} from "../interop/clients/index.js";
import { type Fixture, KIB, MIB, MID_LAYOUT, makeFixture } from "../interop/engine-fixtures.js";
import { addressOf, recordEvents, withTimeout } from "../swarm/helpers.js";
import { FaultProxy, type Faults } from "./proxy.js";

const LEECHER: Partial<SessionTimeouts> = { requestMs: 2_000, snubMs: 3_000, connectMs: 3_000 };

describe("network faults with a libtorrent seed", { timeout: 90_000 }, () => {
  let scope: InteropScope;
  let fx: Fixture;
  const sessions: Session[] = [];
  const proxies: FaultProxy[] = [];

  before(async () => {
    scope = await interopScope("net-faults-lt");
    fx = await makeFixture(scope.dir, MID_LAYOUT, 256 * KIB);
  });
  after(async () => {
    await Promise.allSettled(proxies.map((p) => p.close()));
    await Promise.allSettled(sessions.map((s) => s.close()));
    await scope?.close();
  });

  it("libtorrent behind latency and a reset, a Tessera seed behind a stall: completes", async (tc) => {
    const lt = scope.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        workDir: scope.dir,
        timeoutMs: 30_000,
      }),
    );
    const seed = await startSession();
    sessions.push(seed);
    const seedT = await seed.add(fx.meta, { downloadDir: fx.dataDir });
    assert.equal(seedT.state, "seeding");

    const ltFaults = (i: number): Faults =>
      i === 0
        ? { latencyMs: 100, jitterMs: 100, resetAfterBytes: 3 * MIB + 777 }
        : { latencyMs: 100, jitterMs: 100 };
    const ltProxy = await FaultProxy.listen(
      { host: lt.host, port: lt.port },
      ltFaults,
      "127.0.0.2",
    );
    const stallProxy = await FaultProxy.listen(
      addressOf(seed),
      { latencyMs: 5, stallAfterBytes: 300 * KIB },
      "127.0.0.3",
    );
    proxies.push(ltProxy, stallProxy);

    const leecher = await startSession(LEECHER);
    sessions.push(leecher);
    const out = path.join(scope.dir, "out");
    const started = performance.now();
    const t = await leecher.add(fx.meta, {
      downloadDir: out,
      peers: [ltProxy.address, stallProxy.address],
    });
    const log = recordEvents(t);
    await withTimeout(t.done, "download from libtorrent through faults", 45_000);
    const seconds = (performance.now() - started) / 1000;
    await compareTrees(fx.content, path.join(out, "content"));
    assert.deepEqual(
      log.filter((e) => e.name === "error" || e.name === "hash-failed" || e.name === "peer-banned"),
      [],
    );
    const st = t.stats();
    tc.diagnostic(
      `${(fx.meta.length / MIB).toFixed(0)} MiB in ${seconds.toFixed(1)} s; libtorrent sent ` +
        `${(ltProxy.stats.bytesDown / MIB).toFixed(1)} MiB over ${ltProxy.stats.connections} ` +
        `connections (${ltProxy.stats.resets} reset); the stalled seed ` +
        `${(stallProxy.stats.bytesDown / KIB).toFixed(0)} KiB; ${st.requestsTimedOut} requests timed out`,
    );
    assert.equal(ltProxy.stats.resets, 1, "the first libtorrent connection was not reset");
    assert.ok(ltProxy.stats.connections >= 2, "never reconnected to libtorrent");
    assert.equal(stallProxy.stats.stalls, 1);
    assert.ok(st.requestsTimedOut >= 1, "the stalled seed's requests never timed out");
    assert.ok(ltProxy.stats.bytesDown > fx.meta.length / 2, "libtorrent sent less than half");
  });
});
