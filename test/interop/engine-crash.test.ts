/**
 * Crash and resume: `tessera download` of 256 MiB from a libtorrent seed (held to 40 MB/s so the
 * download lasts long enough to be interrupted), killed with SIGKILL at random moments and
 * interrupted once with SIGINT, restarted each time with the same command.
 *
 * After every interruption `tessera verify` counts the pieces really on disk; the restart must
 * find exactly those (nothing trusted that is not there, nothing on disk fetched again), the
 * start after SIGINT must hash nothing (resume data), and the final bytes must equal the source.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { tessera } from "../cli/run.js";
import {
  compareTrees,
  type FileSpec,
  type InteropScope,
  interopScope,
  startLibtorrentSeed,
} from "./clients/index.js";
import { type Fixture, KIB, MIB, makeFixture } from "./engine-fixtures.js";
import { startTessera, type TesseraEvent, type TesseraProcess } from "./tessera-cli.js";

/** 256 MiB in three files whose boundaries fall inside pieces, and an empty one. */
const LAYOUT: FileSpec[] = [
  { path: "a.bin", length: 100 * MIB + 12_345 },
  { path: "d/b.bin", length: 60 * MIB - 12_345 + 7 },
  { path: "d/empty", length: 0 },
  { path: "z.bin", length: 96 * MIB - 7 },
];

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}

describe("crash and resume (kill -9, Ctrl-C) of a 256 MiB download", { timeout: 300_000 }, () => {
  let s: InteropScope;
  let fx: Fixture;

  before(async () => {
    s = await interopScope("engine-crash");
    fx = await makeFixture(s.dir, LAYOUT, 256 * KIB);
    assert.equal(fx.meta.length, 256 * MIB);
  });
  after(() => s?.close());

  it("restarts find exactly the pieces on disk; the start after Ctrl-C hashes nothing; the bytes are right", async () => {
    const seed = s.use(
      await startLibtorrentSeed({
        torrent: fx.torrent,
        dataDir: fx.dataDir,
        workDir: s.dir,
        uploadLimit: 40_000_000,
        timeoutMs: 60_000,
      }),
    );
    const out = path.join(s.dir, "out");
    const args = [
      "download",
      fx.torrent,
      "-o",
      out,
      "--peer",
      `127.0.0.1:${seed.port}`,
      "--no-trackers",
      "--port",
      "0",
    ];
    // What interrupts each run: four SIGKILLs around one SIGINT, then a run to completion.
    const plan: ("SIGKILL" | "SIGINT" | null)[] = [
      "SIGKILL",
      "SIGKILL",
      "SIGINT",
      "SIGKILL",
      "SIGKILL",
      null,
    ];
    let onDisk = 0;
    let previous: string | null = null;
    const log: string[] = [];
    for (const [run, signal] of plan.entries()) {
      const t: TesseraProcess = await startTessera(args, {
        workDir: s.dir,
        name: `tessera-run${run}`,
        timeoutMs: 60_000,
      });
      const checked = await t.waitForEvent("checked", (e) => e.event === "checked");
      log.push(`run ${run}: checked ${JSON.stringify(checked)}`);
      assert.equal(
        checked.havePieces,
        onDisk,
        `run ${run}: the start finds exactly the ${onDisk} pieces on disk (${log.join("; ")})`,
      );
      // (A Ctrl-C before the first piece landed leaves nothing to resume: no directory yet.)
      if (previous === "SIGINT" && onDisk > 0) {
        assert.equal(checked.source, "resume", "Ctrl-C left resume data");
        assert.equal(checked.checkedPieces, 0, "and nothing changed since: nothing hashed");
      }
      if (signal === null) {
        const x = await t.exited(120_000);
        assert.equal(x.code, 0, `the last run completes (${log.join("; ")})`);
        const done = t.events.find((e: TesseraEvent) => e.event === "done")!;
        const missing = fx.meta.pieceCount - onDisk;
        assert.ok(
          Number(done.downloaded) <= missing * fx.meta.pieceLength + 64 * KIB,
          `downloaded ${done.downloaded} for ${missing} missing pieces`,
        );
        break;
      }
      // Ctrl-C once pieces are on disk, so there is something to resume.
      if (signal === "SIGINT")
        await t.waitForEvent(
          "progress with pieces",
          (e) => e.event === "progress" && Number(e.piecesHave) > 0,
        );
      // A random moment of the transfer (the whole download lasts about 7 s).
      const delay = 200 + Math.floor(Math.random() * 1000);
      await sleep(delay);
      const before = t.events.some((e) => e.event === "done");
      if (before) {
        log.push(`run ${run}: completed before its ${signal}`);
        assert.equal((await t.exited(30_000)).code, 0);
        break;
      }
      t.process.child.kill(signal);
      const x = await t.exited(30_000);
      if (signal === "SIGINT") assert.equal(x.code, 130, "Ctrl-C exits 130");
      else assert.equal(x.signal, "SIGKILL");
      const v = await tessera(["verify", fx.torrent, out, "--json"], { timeout: 60_000 });
      const verified = JSON.parse(v.stdout) as { havePieces: number };
      log.push(`run ${run}: ${signal} after ${delay} ms, ${verified.havePieces} pieces on disk`);
      assert.ok(verified.havePieces >= onDisk, "pieces on disk are never lost");
      onDisk = verified.havePieces;
      previous = signal;
    }
    await compareTrees(fx.content, path.join(out, "content"));
    console.log(log.join("\n"));
  });
});
