/**
 * `tessera download` (the CLI, in a child process, with its production timeouts) from four seeds
 * behind fault proxies: high latency with jitter, random resets, a path that stalls for good and
 * a seed that vanishes mid-block. It exits 0 with the right bytes and blames no one.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { createTorrent } from "../../src/create/index.js";
import type { Session } from "../../src/session/session.js";
import { tessera } from "../cli/run.js";
import { startSession } from "../hostile/attack.js";
import { addressOf, type Fixture, KIB, MIB, makeFixture } from "../swarm/helpers.js";
import { FaultProxy, type Faults } from "./proxy.js";

describe("tessera download through network faults", { timeout: 90_000 }, () => {
  let f: Fixture;
  let torrentFile: string;
  const sessions: Session[] = [];
  const proxies: FaultProxy[] = [];

  before(async () => {
    f = await makeFixture(8 * MIB, 256 * KIB);
    const { torrent } = await createTorrent(path.join(f.seedDir, f.meta.name), {
      pieceLength: f.meta.pieceLength,
      creationDate: null,
    });
    torrentFile = path.join(f.dir, "faults.torrent");
    await writeFile(torrentFile, torrent);
  });
  after(async () => {
    await Promise.allSettled(proxies.map((p) => p.close()));
    await Promise.allSettled(sessions.map((s) => s.close()));
    await f?.cleanup();
  });

  it("latency, resets, a stall and a vanishing seed: exit 0, right bytes", async (tc) => {
    const faults: (Faults | ((i: number) => Faults))[] = [
      { latencyMs: 150, jitterMs: 50 },
      (i) => ({ latencyMs: 100, resetAfterBytes: (i + 1) * 1.5 * MIB }),
      { latencyMs: 10, stallAfterBytes: 200 * KIB },
      (i) => (i === 0 ? { latencyMs: 10, dropAfterBytes: 150 * KIB + 11 } : { latencyMs: 10 }),
    ];
    for (const [i, fl] of faults.entries()) {
      const s = await startSession();
      sessions.push(s);
      await s.add(f.meta, { downloadDir: f.seedDir });
      proxies.push(await FaultProxy.listen(addressOf(s), fl, `127.0.0.${2 + i}`));
    }
    const out = await f.newDir("cli-faults");
    const started = performance.now();
    const r = await tessera(
      [
        "download",
        torrentFile,
        "-o",
        out,
        ...proxies.flatMap((p) => ["--peer", p.display]),
        "--port",
        "0",
        "--no-trackers",
        "--json",
      ],
      { timeout: 60_000 },
    );
    const seconds = (performance.now() - started) / 1000;
    assert.equal(r.code, 0, `exit ${r.code}\n${r.stderr}`);
    const events = r.stdout
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    assert.ok(
      events.some((e) => e.event === "done"),
      "no done event",
    );
    assert.deepEqual(
      events.filter((e) => ["error", "peer-banned", "hash-failed"].includes(e.event)),
      [],
    );
    assert.ok((await f.read(out)).equals(f.data), "downloaded bytes differ");
    const s = proxies.map((p) => p.stats);
    tc.diagnostic(
      `8 MiB in ${seconds.toFixed(1)} s (CLI, production timeouts); resets ${s[1]!.resets}, ` +
        `stalls ${s[2]!.stalls}, drops ${s[3]!.drops}; per seed ` +
        `${s.map((x) => (x.bytesDown / MIB).toFixed(1)).join(" / ")} MiB`,
    );
    assert.equal(s[2]!.stalls, 1, "the stall never happened");
    assert.equal(s[3]!.drops, 1, "the seed never vanished");
  });
});
