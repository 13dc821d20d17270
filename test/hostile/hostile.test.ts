/**
 * The hostile torrent corpus (corpus.ts, test/fixtures/hostile/): each file gives its exact
 * MetainfoError (code, field, bencode cause) or its sanitised outcome, through parseTorrent and
 * through `tessera info --json` (exit 3 with a message naming the field, or the same files).
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { BencodeError } from "../../src/bencode/index.js";
import { MetainfoError, parseTorrent, type TorrentMeta } from "../../src/metainfo/index.js";
import { tessera } from "../cli/run.js";
import { CORPUS, type Expect } from "./corpus.js";
import { HOSTILE_DIR, type IndexEntry } from "./write-corpus.js";

const index: IndexEntry[] = JSON.parse(
  await readFile(`${HOSTILE_DIR}index.json`, "utf8"),
) as IndexEntry[];

function parse(bytes: Uint8Array): TorrentMeta | MetainfoError {
  try {
    return parseTorrent(bytes);
  } catch (e) {
    assert.ok(e instanceof MetainfoError, `untyped error: ${String(e)}`);
    return e;
  }
}

function checkParse(bytes: Uint8Array, expect: Expect): void {
  const r = parse(bytes);
  if ("error" in expect) {
    assert.ok(r instanceof MetainfoError, "parsed, but should have been refused");
    assert.equal(r.code, expect.error.code, r.message);
    assert.equal(r.field, expect.error.field, r.message);
    if (expect.error.cause !== undefined) {
      assert.ok(r.cause instanceof BencodeError);
      assert.equal(r.cause.code, expect.error.cause, r.cause.message);
    }
    return;
  }
  assert.ok(!(r instanceof MetainfoError), `refused: ${(r as Error).message}`);
  const want = expect.ok;
  const sub = (s: string) => s.replaceAll("<infohash>", r.infoHashHex);
  assert.equal(r.name, sub(want.name));
  assert.deepEqual(
    r.files.map((f) => f.path.join("/")),
    want.files.map(sub),
  );
  for (const f of r.files) {
    const full = path.resolve("/dl", ...f.path);
    assert.ok(full.startsWith("/dl/"), `${full} escapes`);
  }
  if (want.symlinks !== undefined) {
    for (const [i, target] of Object.entries(want.symlinks)) {
      assert.deepEqual(r.files[Number(i)]!.symlinkTarget, target);
    }
  }
  if (want.infoHash !== undefined) assert.equal(r.infoHashHex, want.infoHash);
  if (want.length !== undefined) assert.equal(r.length, want.length);
  if (want.pieces !== undefined) assert.equal(r.pieceCount, want.pieces);
}

describe("hostile torrent corpus: parseTorrent", () => {
  it("the checked-in files are what corpus.ts builds, and every small entry is checked in", async () => {
    const small = CORPUS.filter((e) => !e.generated);
    assert.deepEqual(
      index.map((e) => e.file),
      small.map((e) => e.file),
    );
    for (const e of small) {
      const file = await readFile(`${HOSTILE_DIR}${e.file}`);
      assert.ok(Buffer.from(e.build()).equals(file), `${e.file} differs: rerun write-corpus`);
    }
  });

  for (const e of index) {
    it(`${e.file}: ${"error" in e.expect ? e.expect.error.code : "sanitised"} (${e.why})`, async () => {
      checkParse(await readFile(`${HOSTILE_DIR}${e.file}`), e.expect);
    });
  }

  it("__proto__ keys never reach a prototype", async () => {
    parseTorrent(await readFile(`${HOSTILE_DIR}proto-keys.torrent`));
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  for (const e of CORPUS.filter((x) => x.generated)) {
    it(`${e.file} (built now): ${e.why}`, () => {
      const bytes = e.build();
      const t0 = performance.now();
      checkParse(bytes, typeof e.expect === "function" ? e.expect() : e.expect);
      const ms = performance.now() - t0;
      assert.ok(ms < 15_000, `took ${ms.toFixed(0)} ms`);
    });
  }
});

describe("hostile torrent corpus: tessera info --json", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "tessera-hostile-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** `tessera info FILE --json`, checked against `expect`. */
  async function checkCli(file: string, expect: Expect): Promise<void> {
    const r = await tessera(["info", file, "--json"]);
    if ("error" in expect) {
      assert.equal(r.code, 3, `${file}: exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stdout, "");
      const lines = r.stderr.trim().split("\n");
      assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
      if (expect.error.field !== "")
        assert.ok(lines[0]!.includes(`${expect.error.field}:`), lines[0]);
      return;
    }
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { name: string; infoHash: string; files: { path: string }[] };
    const sub = (s: string) => s.replaceAll("<infohash>", j.infoHash);
    assert.equal(j.name, sub(expect.ok.name));
    assert.deepEqual(
      j.files.map((f) => f.path),
      expect.ok.files.map(sub),
    );
  }

  it("every checked-in file: exit 3 naming the field, or the sanitised files", async () => {
    // A few at a time: each is a node process.
    const queue = [...index];
    const worker = async () => {
      for (let e = queue.shift(); e !== undefined; e = queue.shift()) {
        await checkCli(`${HOSTILE_DIR}${e.file}`, e.expect);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
  });

  it("a 20 MB torrent is handled and a 65 MiB one refused before reading", async () => {
    for (const name of ["size-20mb.torrent", "size-65mib.torrent"]) {
      const e = CORPUS.find((x) => x.file === name)!;
      const file = path.join(dir, name);
      await writeFile(file, e.build());
      await checkCli(file, typeof e.expect === "function" ? e.expect() : e.expect);
      await rm(file);
    }
  });
});
