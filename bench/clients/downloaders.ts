/**
 * The downloaders under test, each measured the same way: the clock starts right before the
 * process is spawned and stops when the harness sees the client's own signal of a verified,
 * complete download; CPU and VmHWM are read from /proc at that moment (the process is still
 * alive), RssAnon is sampled every 50 ms, and the file's allocated size every 50 ms for the
 * rate-over-time chart.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import path from "node:path";
import {
  freePort,
  LOOPBACK4,
  type LtSettings,
  type PeerAddress,
  startAria2Leecher,
  startLibtorrentLeecher,
  startTransmissionLeecher,
  transmissionSettings,
  waitUntil,
} from "../../test/interop/clients/index.js";
import { JsonProcess } from "../lib/json-process.js";
import type { Payload } from "../lib/payload.js";
import {
  allocatedBytes,
  formatThreads,
  ProcSampler,
  readThreads,
  type Usage,
} from "../lib/proc.js";
import { benchScript, run, TESSERA_BIN } from "../lib/util.js";

export interface DownloadContext {
  payload: Payload;
  /** Empty directory to download into. */
  saveDir: string;
  /** The seed to download from. */
  seed: PeerAddress;
  /** Makes the seed dial a peer (Transmission never dials loopback itself). */
  seedConnect?: (peer: PeerAddress) => void;
  /** An HTTP tracker that lists the seed (aria2 finds peers only through trackers). */
  trackerUrl: string;
  /** Logs and configs. */
  workDir: string;
  timeoutMs: number;
}

export interface RunResult extends Usage {
  client: string;
  /** Spawn → verified completion. */
  seconds: number;
  /** 10^6 bytes per second over `seconds`. */
  mbs: number;
  /** CPU seconds, user + sys. */
  cpu: number;
  /** [seconds since spawn, bytes on disk] every 50 ms. */
  series: [number, number][];
  /** CPU per thread name at completion (`formatThreads`), where it could be read. */
  threads?: string;
}

export interface Downloader {
  name: string;
  /** How it is configured, for the report. */
  config: string;
  /** Version string (resolves once; throws when the client is unavailable). */
  version(): Promise<string>;
  download(ctx: DownloadContext): Promise<RunResult>;
}

function result(
  client: string,
  t0: number,
  sampler: ProcSampler,
  length: number,
): Omit<RunResult, "series"> & { series: [number, number][] } {
  const threads = formatThreads(readThreads(sampler.pid));
  const usage = sampler.finish();
  const seconds = (performance.now() - t0) / 1000;
  return {
    client,
    seconds,
    mbs: length / seconds / 1e6,
    ...usage,
    cpu: usage.user + usage.sys,
    series: sampler.series,
    ...(threads ? { threads } : {}),
  };
}

/** Bytes on disk of the download (Transmission names the file `.part` until complete). */
const progressOf = (ctx: DownloadContext) => {
  const f = path.join(ctx.saveDir, ctx.payload.name);
  return () => allocatedBytes(f) + allocatedBytes(`${f}.part`);
};

/** Node flags for Tessera processes: with --cpu-prof DIR, each writes V8 CPU profiles there. */
export function tesseraNodeArgs(): string[] {
  const dir = process.env.TESSERA_BENCH_CPU_PROF;
  return dir ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
}

// --- Tessera ----------------------------------------------------------------------------------

/**
 * Tessera's CLI at `bin` as a downloader named `name` (a second build, e.g. a scratch copy with a
 * change to src/, can be measured side by side: `--tessera-alt PATH/bin/tessera.js`).
 */
export function tesseraDownloader(
  name: string,
  bin: string,
  env: Record<string, string> = {},
): Downloader {
  return {
    name,
    config: `${Object.entries(env)
      .map(([k, v]) => `${k}=${v} `)
      .join(
        "",
      )}${name === "tessera" ? "tessera" : bin} download <torrent> -o DIR --peer 127.0.0.1:SEED --port FREE --json (no DHT/LSD/UPnP exist yet; defaults otherwise)`,
    async version() {
      const pkg = JSON.parse(
        readFileSync(path.join(path.dirname(bin), "..", "package.json"), "utf8"),
      ) as { version: string };
      let commit = "";
      try {
        commit = (
          await run("git", ["rev-parse", "--short", "HEAD"], { cwd: path.dirname(bin) })
        ).stdout.trim();
      } catch {
        // not a git checkout
      }
      return `${pkg.version}${commit ? ` (${commit})` : ""}, node ${process.version}`;
    },
    async download(ctx) {
      const port = await freePort(["tcp6"]);
      const t0 = performance.now();
      const p = new JsonProcess(
        `${name}-leech`,
        ctx.workDir,
        process.execPath,
        [
          ...tesseraNodeArgs(),
          bin,
          "download",
          ctx.payload.torrent,
          "-o",
          ctx.saveDir,
          "--peer",
          `${ctx.seed.host}:${ctx.seed.port}`,
          "--port",
          String(port),
          "--json",
        ],
        { env: { ...process.env, ...env } },
      );
      const sampler = new ProcSampler(p.pid, progressOf(ctx), 50, t0);
      try {
        await p.waitFor("done", ctx.timeoutMs);
        const r = result(name, t0, sampler, ctx.payload.length);
        const exit = await Promise.race([
          p.process.exited,
          new Promise((r) => setTimeout(r, 10_000)),
        ]);
        if (!exit || (exit as { code: number }).code !== 0) {
          throw p.process.failure(`did not exit 0 after done (${JSON.stringify(exit)})`);
        }
        return r;
      } finally {
        sampler.stop();
        await p.stop();
      }
    },
  };
}

export const tessera = tesseraDownloader("tessera", TESSERA_BIN);

// --- libtorrent -------------------------------------------------------------------------------

/**
 * libtorrent as a downloader, with its default settings plus `settings` (only for diagnostics
 * such as (d)'s leecher without encryption; the scenarios compare clients at their defaults).
 */
export function libtorrentDownloader(name = "libtorrent", settings: LtSettings = {}): Downloader {
  return {
    name,
    config: `python3-libtorrent session with default_settings()${Object.entries(settings)
      .map(([k, v]) => `, ${k}=${v}`)
      .join(
        "",
      )}; TCP only (uTP off), DHT/LSD/UPnP/NAT-PMP off, listen 127.0.0.1, connect_peer(seed) (test/interop/clients/lt_peer.py)`,
    async version() {
      const { stdout } = await run("/usr/bin/python3", [
        "-c",
        "import libtorrent; print(libtorrent.__version__)",
      ]);
      return stdout.trim();
    },
    async download(ctx) {
      const t0 = performance.now();
      let sampler: ProcSampler | undefined;
      const lt = await startLibtorrentLeecher({
        torrent: ctx.payload.torrent,
        saveDir: ctx.saveDir,
        peers: [ctx.seed],
        workDir: ctx.workDir,
        timeoutMs: ctx.timeoutMs,
        name: "lt-leech",
        // Time verified completion, as libtorrent reports it (the harness's methodology).
        flushBeforeDone: false,
        settings,
      });
      try {
        sampler = new ProcSampler(lt.process.pid, progressOf(ctx), 50, t0);
        await lt.done;
        return result(name, t0, sampler, ctx.payload.length);
      } finally {
        sampler?.stop();
        await lt.stop();
      }
    },
  };
}

export const libtorrent = libtorrentDownloader();

// --- aria2 ------------------------------------------------------------------------------------

export const aria2: Downloader = {
  name: "aria2",
  config:
    "aria2c --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false --interface=127.0.0.1 --disable-ipv6 --file-allocation=none; finds the seed through a loopback HTTP tracker; completion = --on-bt-download-complete hook (pieces verified), then stopped",
  async version() {
    const { stdout } = await run("aria2c", ["--version"]);
    return stdout.split("\n")[0]!.replace(/^aria2 version /, "");
  },
  async download(ctx) {
    const doneFile = path.join(ctx.saveDir, "..", `aria2-done-${path.basename(ctx.saveDir)}`);
    const hook = path.join(ctx.workDir, `aria2-hook-${path.basename(ctx.saveDir)}.sh`);
    await writeFile(hook, `#!/bin/sh\n: > '${doneFile}'\n`);
    await chmod(hook, 0o755);
    const t0 = performance.now();
    // startAria2Leecher waits for its port; the sampler starts when we learn the pid.
    const a = await startAria2Leecher({
      torrent: ctx.payload.torrent,
      saveDir: ctx.saveDir,
      trackers: [ctx.trackerUrl],
      workDir: ctx.workDir,
      timeoutMs: ctx.timeoutMs,
      // Keep seeding after completion, so the hook sees aria2 alive and /proc still has it.
      extraArgs: [`--on-bt-download-complete=${hook}`, "--seed-time=600", "--log-level=notice"],
    });
    const sampler = new ProcSampler(a.process.pid, progressOf(ctx), 50, t0);
    try {
      await waitUntil("aria2 completion hook", () => existsSync(doneFile), {
        proc: a.process,
        timeoutMs: ctx.timeoutMs,
        intervalMs: 10,
      });
      return result("aria2", t0, sampler, ctx.payload.length);
    } finally {
      sampler.stop();
      await a.stop();
    }
  },
};

// --- Transmission -----------------------------------------------------------------------------

export const transmission: Downloader = {
  name: "transmission",
  config: `transmission-cli -g CONF -w DIR -p PORT -f done.sh; settings.json ${JSON.stringify(
    Object.fromEntries(
      Object.entries(transmissionSettings()).filter(([k]) => !k.startsWith("message")),
    ),
  )}; the seed dials it (it never dials loopback)`,
  async version() {
    const { stdout, stderr } = await run("transmission-cli", ["--version"]).catch(
      (e: { stdout: string; stderr: string }) => e,
    );
    return `${stdout}${stderr}`
      .trim()
      .split("\n")[0]!
      .replace(/^transmission-cli /, "");
  },
  async download(ctx) {
    if (!ctx.seedConnect) throw new Error("transmission needs a seed that can dial it");
    const t0 = performance.now();
    const tr = await startTransmissionLeecher({
      torrent: ctx.payload.torrent,
      saveDir: ctx.saveDir,
      workDir: ctx.workDir,
      timeoutMs: ctx.timeoutMs,
    });
    const sampler = new ProcSampler(tr.process.pid, progressOf(ctx), 50, t0);
    try {
      ctx.seedConnect({ host: LOOPBACK4, port: tr.port });
      await tr.done;
      return result("transmission", t0, sampler, ctx.payload.length);
    } finally {
      sampler.stop();
      await tr.stop();
    }
  },
};

// --- WebTorrent -------------------------------------------------------------------------------

/** Where WebTorrent is installed on demand (never a dependency of the project). */
export const WEBTORRENT_DIR = path.join(path.dirname(benchScript("x")), "..", ".webtorrent");

let webtorrentReady: Promise<string> | undefined;

/** npm install --ignore-scripts webtorrent@3 into bench/.webtorrent (once). */
export function ensureWebTorrent(): Promise<string> {
  webtorrentReady ??= (async () => {
    const pkg = path.join(WEBTORRENT_DIR, "node_modules", "webtorrent", "package.json");
    if (!existsSync(pkg)) {
      await run(
        "npm",
        [
          "install",
          "--ignore-scripts",
          "--no-audit",
          "--no-fund",
          "--prefix",
          WEBTORRENT_DIR,
          "webtorrent@3",
        ],
        { timeout: 300_000, maxBuffer: 16 << 20 },
      );
    }
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  })();
  return webtorrentReady;
}

export const webtorrent: Downloader = {
  name: "webtorrent",
  config:
    "webtorrent@3 library in bench/clients/webtorrent-leech.mjs: {dht, lsd, natUpnp, natPmp, tracker, webSeeds, utPex, utp}: false; torrent.addPeer(seed); WebRTC module stubbed (installed with --ignore-scripts)",
  async version() {
    return `${await ensureWebTorrent()}, node ${process.version}`;
  },
  async download(ctx) {
    await ensureWebTorrent();
    const cfg = {
      webtorrentDir: WEBTORRENT_DIR,
      torrent: ctx.payload.torrent,
      saveDir: ctx.saveDir,
      peer: `${ctx.seed.host}:${ctx.seed.port}`,
    };
    const t0 = performance.now();
    const p = new JsonProcess(
      "webtorrent-leech",
      ctx.workDir,
      process.execPath,
      [benchScript("webtorrent-leech.mjs"), JSON.stringify(cfg)],
      { stdin: "pipe" },
    );
    const sampler = new ProcSampler(p.pid, progressOf(ctx), 50, t0);
    try {
      await p.waitFor("done", ctx.timeoutMs);
      return result("webtorrent", t0, sampler, ctx.payload.length);
    } finally {
      sampler.stop();
      await p.stop();
    }
  },
};

export const DOWNLOADERS: Record<string, Downloader> = {
  tessera,
  libtorrent,
  aria2,
  transmission,
  webtorrent,
};
