/**
 * Disk faults against the CLI, on real file systems: `tessera download` into a tmpfs too small for
 * the torrent (ENOSPC), into a read-only mount (EROFS) and into a directory it may not write
 * (EACCES, run as nobody). Each time the error is reported with its reason while the process stays
 * up; space freed lets the same process finish with the right bytes, and a fault that lasts longer
 * than --disk-wait ends it with exit 1. Mounting needs root (as in CI); elsewhere these skip.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmod, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, before, describe, it } from "node:test";
import type { Session } from "../../src/session/session.js";
import { TESSERA_BIN } from "../cli/run.js";
import {
  addressOf,
  closeAll,
  type Fixture,
  KIB,
  makeFixture,
  startSessions,
  withTimeout,
} from "../swarm/helpers.js";

const ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

interface Cli {
  events: Record<string, unknown>[];
  stderr: string[];
  next(
    pred: (e: Record<string, unknown>) => boolean,
    what: string,
    ms?: number,
  ): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
  kill(): void;
}

/** `tessera <args> --json` as a child; its events parsed as they come. */
function cli(args: string[], opts: { uid?: number } = {}): Cli {
  const child = spawn(process.execPath, [TESSERA_BIN, ...args, "--json"], {
    stdio: ["ignore", "pipe", "pipe"],
    ...(opts.uid !== undefined ? { uid: opts.uid, gid: opts.uid } : {}),
  });
  const events: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{
    pred: (e: Record<string, unknown>) => boolean;
    fn: (e: Record<string, unknown>) => void;
  }>();
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const e = JSON.parse(line) as Record<string, unknown>;
    events.push(e);
    for (const w of [...waiters])
      if (w.pred(e)) {
        waiters.delete(w);
        w.fn(e);
      }
  });
  createInterface({ input: child.stderr! }).on("line", (l) => stderr.push(l));
  const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return {
    events,
    stderr,
    exit,
    kill: () => child.kill("SIGKILL"),
    next(pred, what, ms = 30_000) {
      const past = events.find(pred);
      if (past) return Promise.resolve(past);
      return withTimeout(
        new Promise((resolve) => waiters.add({ pred, fn: resolve })),
        `${what} (events so far: ${events.map((e) => e.event).join(",")}; stderr: ${stderr.join(" | ")})`,
        ms,
      );
    },
  };
}

function mount(dir: string, opts: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", opts, "tmpfs", dir]);
}
function remount(dir: string, opts: string): void {
  execFileSync("mount", ["-o", `remount,${opts}`, dir]);
}
function umount(dir: string): void {
  try {
    execFileSync("umount", [dir]);
  } catch {}
}

describe("disk faults against the CLI", {
  skip: ROOT ? false : "needs root (mount, setuid)",
  timeout: 120_000,
}, () => {
  let f: Fixture;
  let seed: Session;
  let torrentFile: string;
  const mounts: string[] = [];

  before(async () => {
    f = await makeFixture(12 * 1024 * KIB + 11, 64 * KIB);
    [seed] = (await startSessions(1)) as [Session];
    await seed.add(f.meta, { downloadDir: f.seedDir });
    torrentFile = path.join(f.dir, "t.torrent");
    await writeFile(
      torrentFile,
      Buffer.concat([Buffer.from("d4:info"), f.meta.infoBytes, Buffer.from("e")]),
    );
    // Readable by nobody too.
    await chmod(f.dir, 0o755);
  });
  after(async () => {
    for (const m of mounts) umount(m);
    await closeAll([seed]);
    await f?.cleanup();
  });

  async function mounted(name: string, opts: string): Promise<string> {
    const dir = path.join(f.dir, name);
    await mkdir(dir);
    mount(dir, opts);
    mounts.push(dir);
    return dir;
  }

  const args = (out: string, wait: number) => [
    "download",
    torrentFile,
    "-o",
    out,
    "--peer",
    `127.0.0.1:${addressOf(seed).port}`,
    "--port",
    "0",
    "--disk-wait",
    String(wait),
  ];

  it("disk full: the error names ENOSPC, the process waits, space freed → it finishes", async () => {
    const dir = await mounted("small", "size=4m");
    const t = cli(args(dir, 120));
    const err = await t.next((e) => e.event === "error", "the disk-full error");
    assert.equal(err.code, "STORAGE_IO");
    assert.equal(err.reason, "ENOSPC");
    assert.match(String(err.message), /no space left on device/);
    assert.equal(typeof err.retryIn, "number");
    await t.next((e) => e.event === "progress" && e.state === "error", "a progress event in error");
    remount(dir, "size=64m");
    await t.next((e) => e.event === "recovered", "recovery once space is freed", 90_000);
    assert.equal(await withTimeout(t.exit, "exit", 60_000), 0, t.stderr.join("\n"));
    assert.ok((await readFile(path.join(dir, f.meta.name))).equals(f.data));
  });

  it("disk full for longer than --disk-wait: exit 1 with the reason", async () => {
    const dir = await mounted("stays-full", "size=2m");
    const t = cli(args(dir, 2));
    await t.next((e) => e.event === "error" && e.reason === "ENOSPC", "the disk-full error");
    assert.equal(await withTimeout(t.exit, "exit", 30_000), 1);
    const last = t.events.filter((e) => e.event === "error").at(-1)!;
    assert.match(String(last.message), /no space left on device.*giving up/);
  });

  it("a read-only file system: EROFS, exit 1 after --disk-wait, nothing written", async () => {
    const dir = await mounted("ro", "size=64m");
    remount(dir, "ro");
    const t = cli(args(dir, 1));
    const err = await t.next((e) => e.event === "error" && e.code === "STORAGE_IO", "the error");
    assert.equal(err.reason, "EROFS");
    assert.match(String(err.message), /read-only file system/);
    assert.equal(await withTimeout(t.exit, "exit", 30_000), 1);
  });

  it("a directory we may not write (as nobody): EACCES, then permission given → it finishes", async () => {
    const dir = path.join(f.dir, "locked");
    await mkdir(dir);
    await chmod(dir, 0o555);
    const t = cli(args(dir, 120), { uid: NOBODY });
    const err = await t.next((e) => e.event === "error" && e.code === "STORAGE_IO", "the error");
    assert.equal(err.reason, "EACCES");
    assert.match(String(err.message), /permission denied/);
    await chmod(dir, 0o777);
    await t.next((e) => e.event === "recovered", "recovery", 90_000);
    assert.equal(await withTimeout(t.exit, "exit", 60_000), 0, t.stderr.join("\n"));
    assert.ok((await readFile(path.join(dir, f.meta.name))).equals(f.data));
    await rm(dir, { recursive: true, force: true });
  });
});
