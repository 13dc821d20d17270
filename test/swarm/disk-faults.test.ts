/**
 * Disk faults through the library, with a storage that fails writes on demand (ENOSPC, EROFS):
 * the torrent enters a storage-error state with the reason, keeps the verified pieces it could not
 * write, keeps uploading what it has, lets the other torrents of the session carry on, and
 * resumes by itself once writes work again, ending with the right bytes and nothing fetched twice.
 */
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { TorrentMeta } from "../../src/metainfo/index.js";
import type { Session } from "../../src/session/session.js";
import { ioError, type StorageError } from "../../src/storage/errors.js";
import { TorrentStorage, type TorrentStorageOptions } from "../../src/storage/storage.js";
import {
  addressOf,
  BLOCK,
  closeAll,
  type Fixture,
  KIB,
  makeFixture,
  nextEvent,
  startSessions,
  withTimeout,
} from "./helpers.js";

/** What the faulty storage does: fail every write with `errno` once `afterPieces` were written. */
interface Fault {
  errno: string | null;
  afterPieces: number;
  written: number;
  failed: number;
}

function faultyStorage(fault: Fault) {
  return (meta: TorrentMeta, dir: string, opts: TorrentStorageOptions) =>
    new (class extends TorrentStorage {
      #check(): void {
        if (fault.errno !== null && fault.written >= fault.afterPieces) {
          fault.failed++;
          throw ioError(
            Object.assign(new Error(`injected ${fault.errno}`), { code: fault.errno }),
            "writing",
            path.join(dir, meta.name),
          );
        }
      }
      override async writePiece(index: number, data: Uint8Array): Promise<void> {
        this.#check();
        await super.writePiece(index, data);
        fault.written++;
      }
      override async writePieces(first: number, pieces: readonly Uint8Array[]): Promise<void> {
        this.#check();
        await super.writePieces(first, pieces);
        fault.written += pieces.length;
      }
    })(meta, dir, opts);
}

/** Resolves once `pred` holds (polled every 20 ms), or rejects naming `what` after 30 s. */
function until(pred: () => boolean, what: string): Promise<void> {
  return withTimeout(
    new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (pred()) {
          clearInterval(timer);
          resolve();
        }
      }, 20);
    }),
    what,
  );
}

describe("disk faults", { timeout: 90_000 }, () => {
  let a: Fixture;
  let b: Fixture;
  let sessions: Session[] = [];

  before(async () => {
    a = await makeFixture(8 * 1024 * KIB + 3, 64 * KIB);
    b = await makeFixture(4 * 1024 * KIB, 32 * KIB);
    sessions = await startSessions(3);
    await sessions[0]!.add(a.meta, { downloadDir: a.seedDir });
    await sessions[0]!.add(b.meta, { downloadDir: b.seedDir });
  });
  after(async () => {
    await closeAll(sessions);
    await a?.cleanup();
    await b?.cleanup();
  });

  it("disk full: error with the reason, uploads and other torrents go on, space freed → it resumes", async () => {
    const [seed, leech, third] = sessions as [Session, Session, Session];
    const fault: Fault = { errno: "ENOSPC", afterPieces: 40, written: 0, failed: 0 };
    const dirA = await a.newDir("full");
    const errors: [StorageError, number][] = [];
    leech.once("torrent-added", (t) => t.on("storage-error", (e, ms) => errors.push([e, ms])));
    const ta = await leech.add(a.meta, {
      downloadDir: dirA,
      peers: [addressOf(seed)],
      diskRetryMs: 300,
      createStorage: faultyStorage(fault),
    });
    await until(() => errors.length >= 1, "the first storage error");
    const [first] = errors[0]!;
    assert.equal(first.code, "STORAGE_IO");
    assert.equal(first.reason, "ENOSPC");
    assert.match(first.message, /no space left on device/);
    assert.equal(ta.state, "error");
    assert.equal((ta.error as StorageError | undefined)?.reason, "ENOSPC");

    // Retries back off while the disk stays full.
    await until(() => errors.length >= 3, "two retries");
    assert.ok(errors[2]![1] > errors[0]![1], `backoff grows: ${errors.map((e) => e[1])}`);
    const had = ta.picker.have.count;
    assert.equal(had, fault.written, "exactly the pieces written before the disk filled");
    assert.ok(had >= 40 && had < a.meta.pieceCount);

    // Another torrent of the same session downloads meanwhile.
    const dirB = await b.newDir("other");
    const tb = await leech.add(b.meta, { downloadDir: dirB, peers: [addressOf(seed)] });
    await withTimeout(tb.done, "the other torrent");
    assert.ok((await b.read(dirB)).equals(b.data));

    // The torrent in error still uploads what it has.
    const dirC = await a.newDir("from-the-full-one");
    const tc = await third.add(a.meta, { downloadDir: dirC, peers: [addressOf(leech)] });
    await withTimeout(
      nextEvent(tc, "piece", () => tc.picker.have.count >= 5),
      "pieces uploaded by the torrent in error",
    );
    assert.equal(ta.state, "error");

    // Space is freed: the kept pieces are written, the download resumes and completes.
    fault.errno = null;
    await withTimeout(nextEvent(ta, "storage-recovered"), "recovery", 20_000);
    await withTimeout(ta.done, "download after recovery");
    assert.equal(ta.state, "seeding");
    assert.equal(ta.error, undefined);
    assert.ok((await a.read(dirA)).equals(a.data));
    // Verified pieces that could not be written were kept, not fetched again.
    assert.ok(
      ta.stats().downloaded <= a.meta.length + 16 * BLOCK,
      `downloaded ${ta.stats().downloaded} of ${a.meta.length}`,
    );
    await third.remove(tc);
  });
});
