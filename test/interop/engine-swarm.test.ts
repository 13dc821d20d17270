/**
 * A three-client swarm on loopback: a libtorrent seed; Tessera and Transmission leeching at once.
 * Transmission never dials loopback peers, so the others dial it: Tessera gets `--peer` for both
 * the seed and Transmission, and the libtorrent seed dials Transmission (its `peers` option).
 */
import assert from "node:assert/strict";
import path from "node:path";
import { describe, it } from "node:test";
import {
  compareTrees,
  interopScope,
  startLibtorrentSeed,
  startTransmissionLeecher,
} from "./clients/index.js";
import { KIB, MIB, makeFixture, piecesSpanningFiles } from "./engine-fixtures.js";
import { assertNoPeerFaults, startTessera } from "./tessera-cli.js";

const STARTUP_MS = 60_000;
const DOWNLOAD_MS = 120_000;

describe("three-client swarm", () => {
  it("libtorrent seed; Tessera and Transmission leech at once; both complete", {
    timeout: 180_000,
  }, async () => {
    await using s = await interopScope("engine-swarm");
    const fx = await makeFixture(
      s.dir,
      [
        { path: "part-1.bin", length: 9 * MIB + 12_345 },
        { path: "nested/dir/part-2.bin", length: 7 * MIB + 1 },
        // No zero-length file here: Transmission 3.00 does not create them.
        { path: "part-3.txt", length: 4 * MIB - 3 },
      ],
      256 * KIB,
    );
    assert.ok(piecesSpanningFiles(fx.meta) >= 2);

    const trDir = path.join(s.dir, "transmission");
    const tr = s.use(
      await startTransmissionLeecher({
        torrent: fx.torrent,
        saveDir: trDir,
        workDir: s.dir,
        timeoutMs: DOWNLOAD_MS,
      }),
    );
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        peers: [{ host: tr.host, port: tr.port }],
        workDir: s.dir,
        timeoutMs: STARTUP_MS,
      }),
    );
    const out = path.join(s.dir, "tessera");
    const t0 = Date.now();
    // --seed: Tessera stays in the swarm (and may serve Transmission) until both are complete.
    const t = s.use(
      await startTessera(
        [
          "download",
          fx.torrent,
          "-o",
          out,
          "--peer",
          `127.0.0.1:${seed.port}`,
          "--peer",
          `127.0.0.1:${tr.port}`,
          "--port",
          "0",
          "--seed",
        ],
        { workDir: s.dir, timeoutMs: STARTUP_MS },
      ),
    );
    const [tesseraDone, trDone] = await Promise.all([
      t.waitForEvent("done", (e) => e.event === "done", DOWNLOAD_MS),
      tr.done,
    ]);
    const secs = (Date.now() - t0) / 1000;
    await compareTrees(fx.content, path.join(out, "content"));
    await compareTrees(fx.content, path.join(trDir, "content"));
    assert.equal(tesseraDone.have, fx.meta.length);
    const connected = (port: number) =>
      t.events.some((e) => e.event === "peer-connected" && e.address === `127.0.0.1:${port}`);
    assert.ok(connected(seed.port), "Tessera never connected to the libtorrent seed");
    assert.ok(connected(tr.port), "Tessera never connected to Transmission");
    assertNoPeerFaults(t);
    await t.stop();
    const x = await t.exited(1_000);
    assert.equal(x.signal, null, `tessera did not exit by itself on SIGTERM (${t.log})`);
    process.stderr.write(
      `# swarm: tessera done at ${((Number(tesseraDone.time) - t0) / 1000).toFixed(1)} s, transmission at ${trDone.seconds.toFixed(1)} s, both by ${secs.toFixed(1)} s\n`,
    );
  });
});
