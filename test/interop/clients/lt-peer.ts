/**
 * libtorrent peers (seed / leecher) on loopback, run by lt_peer.py and driven via JSON lines.
 * @module
 */
import { appendFileSync } from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { PYTHON } from "../libtorrent.js";
import { freePort, LOOPBACK4, LOOPBACK6 } from "./ports.js";
import {
  type CommonOptions,
  clientScript,
  DEFAULT_TIMEOUT_MS,
  deferred,
  ensureWorkDir,
  ManagedProcess,
  type Stoppable,
  uniqueLogPath,
  withTimeout,
} from "./process.js";

export interface PeerAddress {
  host: string;
  port: number;
}

/** One JSON line from lt_peer.py (see its docstring). */
export interface LtEvent {
  event: string;
  [key: string]: unknown;
}

export interface LtStatus {
  state: string;
  progress: number;
  seeding: boolean;
  finished: boolean;
  hasMetadata: boolean;
  peers: number;
  totalDone: number;
  totalWanted: number;
  downloaded: number;
  uploaded: number;
  downRate: number;
  upRate: number;
  error: string;
}

/** libtorrent session settings (name → value), applied over the harness defaults. */
export type LtSettings = Record<string, string | number | boolean>;

export interface LtPeerOptions extends CommonOptions {
  /** Listen port; default: one picked by libtorrent (or a free one on both families for ipv6). */
  port?: number;
  /** Also listen on [::1] (true), or only there ("only"). */
  ipv6?: boolean | "only";
  /** Peers to dial (again every 2 s while none is connected). */
  peers?: readonly PeerAddress[];
  /** Extra session settings, e.g. `{ in_enc_policy: 0 }` or `{ upload_rate_limit: 1 << 20 }`. */
  settings?: LtSettings;
  /** Replace the torrent's trackers (`[]`: announce nowhere). */
  trackers?: readonly string[];
  /** Never download (libtorrent's upload mode): an incomplete peer that stays so. */
  uploadMode?: boolean;
  /** Per-torrent download limit, bytes/s (session limits spare loopback peers). */
  downloadLimit?: number;
  /** Per-torrent upload limit, bytes/s. */
  uploadLimit?: number;
  /** Name used in logs and errors. */
  name?: string;
  /**
   * Leecher: `done` waits until libtorrent has flushed the downloaded blocks to disk (default
   * true; libtorrent reports seeding once the pieces are verified, which can be before its disk
   * thread wrote them). The benchmarks turn it off to time verified completion, as before.
   */
  flushBeforeDone?: boolean;
}

export interface LtPeer extends Stoppable {
  readonly port: number;
  /** Where it listens (127.0.0.1, or ::1 with ipv6 "only"). */
  readonly host: string;
  readonly log: string;
  readonly process: ManagedProcess;
  /** Every event so far, in order. */
  readonly events: readonly LtEvent[];
  /** Dial a peer now (and again every 2 s while none is connected). */
  connect(peer: PeerAddress): void;
  /** A fresh status from libtorrent. */
  status(timeoutMs?: number): Promise<LtStatus>;
  /** The first event (past or future) matching `pred`, bounded by `timeoutMs`. */
  waitForEvent(what: string, pred: (e: LtEvent) => boolean, timeoutMs?: number): Promise<LtEvent>;
}

export interface LtSeed extends LtPeer {}

export interface LtLeecher extends LtPeer {
  /** Resolves when the download is complete (libtorrent is seeding); bounded by `timeoutMs`. */
  readonly done: Promise<{ seconds: number }>;
  /** Progress 0..1 from the latest status line (refreshed every 0.25 s). */
  progress(): number;
}

export interface LtSeedOptions extends LtPeerOptions {
  torrent: string;
  /** The directory that holds the content (libtorrent's save_path). */
  dataDir: string;
}

export type LtLeecherOptions = LtPeerOptions & {
  saveDir: string;
} & ({ torrent: string; magnet?: undefined } | { magnet: string; torrent?: undefined });

interface Launch extends LtPeerOptions {
  mode: "seed" | "leech";
  torrent?: string | undefined;
  magnet?: string | undefined;
  savePath: string;
}

class LtPeerImpl implements LtLeecher {
  readonly events: LtEvent[] = [];
  port = 0;
  host: string;
  readonly log: string;
  readonly done: Promise<{ seconds: number }>;
  private readonly waiters = new Set<{ pred: (e: LtEvent) => boolean; fn: (e: LtEvent) => void }>();
  private lastStatus: LtStatus | undefined;
  private lastStatusKey = "";
  private lastStatusLogged = 0;
  private readonly finished = deferred<{ seconds: number }>();

  constructor(
    readonly process: ManagedProcess,
    readonly timeoutMs: number,
    host: string,
  ) {
    this.host = host;
    this.log = process.logPath;
    const rl = createInterface({ input: process.child.stdout! });
    rl.on("line", (line) => this.onLine(line));
    this.done = withTimeout(this.finished.promise, timeoutMs, () =>
      process.failure(`download not complete after ${timeoutMs} ms`),
    );
    void process.exited.then(() => {
      // Let readline deliver the last lines first.
      setImmediate(() => this.finished.reject(process.failure("exited before finishing")));
    });
  }

  private onLine(line: string): void {
    let ev: LtEvent;
    try {
      ev = JSON.parse(line) as LtEvent;
    } catch {
      ev = { event: "unparsed", line };
    }
    // Status lines come 4 a second: log one every 2 s, or when something other than rates changed.
    const key =
      ev.event === "status" ? `${ev.state} ${ev.progress} ${ev.peers} ${ev.uploaded}` : undefined;
    const now = Date.now();
    if (key === undefined || key !== this.lastStatusKey || now - this.lastStatusLogged >= 2_000) {
      if (key !== undefined) {
        this.lastStatusKey = key;
        this.lastStatusLogged = now;
      }
      try {
        appendFileSync(this.log, `> ${line}\n`);
      } catch {
        // log dir removed
      }
    }
    this.events.push(ev);
    if (ev.event === "status") this.lastStatus = ev as unknown as LtStatus;
    if (ev.event === "finished") this.finished.resolve({ seconds: ev.seconds as number });
    for (const w of [...this.waiters]) {
      if (w.pred(ev)) {
        this.waiters.delete(w);
        w.fn(ev);
      }
    }
  }

  private send(cmd: Record<string, unknown>): void {
    const stdin = this.process.child.stdin;
    if (stdin && !stdin.destroyed && this.process.running) stdin.write(`${JSON.stringify(cmd)}\n`);
  }

  waitForEvent(
    what: string,
    pred: (e: LtEvent) => boolean,
    timeoutMs = this.timeoutMs,
  ): Promise<LtEvent> {
    const past = this.events.find(pred);
    if (past) return Promise.resolve(past);
    const d = deferred<LtEvent>();
    const waiter = { pred, fn: d.resolve };
    this.waiters.add(waiter);
    void this.process.exited.then(() =>
      setImmediate(() => d.reject(this.process.failure(`exited while waiting for ${what}`))),
    );
    const out = withTimeout(d.promise, timeoutMs, () =>
      this.process.failure(`timed out after ${timeoutMs} ms waiting for ${what}`),
    );
    void out.finally(() => this.waiters.delete(waiter)).catch(() => {});
    return out;
  }

  connect(peer: PeerAddress): void {
    this.send({ cmd: "connect", host: peer.host, port: peer.port });
  }

  async status(timeoutMs = 10_000): Promise<LtStatus> {
    const n = this.events.length;
    const p = this.waitForEvent(
      "a status line",
      (e) => e.event === "status" && this.events.indexOf(e) >= n,
      timeoutMs,
    );
    this.send({ cmd: "status" });
    return (await p) as unknown as LtStatus;
  }

  progress(): number {
    return this.lastStatus?.progress ?? 0;
  }

  async stop(): Promise<void> {
    this.finished.reject(new Error(`${this.process.name} stopped before finishing`));
    this.send({ cmd: "quit" });
    this.process.child.stdin?.end();
    await this.process.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

async function launch(o: Launch): Promise<LtPeerImpl> {
  const workDir = await ensureWorkDir(o.workDir);
  const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const name = o.name ?? (o.mode === "seed" ? "lt-seed" : "lt-leech");
  let port = o.port ?? 0;
  if (port === 0 && o.ipv6 === true) port = await freePort(["tcp6"]);
  const ifaces: string[] = [];
  if (o.ipv6 !== "only") ifaces.push(`${LOOPBACK4}:${port}`);
  if (o.ipv6) ifaces.push(`[${LOOPBACK6}]:${port}`);
  const cfg = {
    mode: o.mode,
    torrent: o.torrent ? path.resolve(o.torrent) : null,
    magnet: o.magnet ?? null,
    savePath: path.resolve(o.savePath),
    listen: ifaces.join(","),
    peers: (o.peers ?? []).map((p) => [p.host, p.port]),
    settings: o.settings ?? {},
    trackers: o.trackers ?? null,
    uploadMode: o.uploadMode ?? false,
    downloadLimit: o.downloadLimit ?? 0,
    uploadLimit: o.uploadLimit ?? 0,
    statusInterval: 0.25,
    flushBeforeFinished: o.flushBeforeDone ?? true,
  };
  const proc = new ManagedProcess(
    name,
    uniqueLogPath(workDir, name),
    PYTHON,
    ["-u", clientScript("lt_peer.py"), JSON.stringify(cfg)],
    // stdin closing also ends the script, so it cannot outlive us.
    { stdout: "pipe", stdin: "pipe", graceMs: 3_000 },
  );
  const peer = new LtPeerImpl(proc, timeoutMs, o.ipv6 === "only" ? LOOPBACK6 : LOOPBACK4);
  try {
    const listening = await peer.waitForEvent(
      "listen socket",
      (e) => e.event === "listening" || (e.event === "error" && /listen/.test(String(e.message))),
      timeoutMs,
    );
    if (listening.event === "error") throw proc.failure(String(listening.message));
    peer.port = listening.port as number;
  } catch (e) {
    await peer.stop();
    throw e;
  }
  return peer;
}

/** Start a libtorrent seed of `torrent` with data in `dataDir`; resolves once its check found all data. */
export async function startLibtorrentSeed(opts: LtSeedOptions): Promise<LtSeed> {
  const peer = await launch({ ...opts, mode: "seed", savePath: opts.dataDir });
  try {
    const checked = await peer.waitForEvent(
      "the data check",
      (e) => e.event === "checked",
      opts.timeoutMs,
    );
    if (checked.progress !== 1 || checked.seeding !== true) {
      throw peer.process.failure(
        `data in ${opts.dataDir} is incomplete for ${opts.torrent} (progress ${checked.progress})`,
      );
    }
  } catch (e) {
    await peer.stop();
    throw e;
  }
  return peer;
}

/** Start a libtorrent leecher that dials `peers`; `done` resolves when it has everything. */
export async function startLibtorrentLeecher(opts: LtLeecherOptions): Promise<LtLeecher> {
  return launch({ ...opts, mode: "leech", savePath: opts.saveDir });
}
