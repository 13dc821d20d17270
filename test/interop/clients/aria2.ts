/**
 * aria2c as a leecher on loopback. It cannot be told to dial a peer: it finds peers only through
 * the torrent's trackers (or `trackers`, e.g. a {@link startTestTracker} URL).
 * @module
 */
import path from "node:path";
import { freePort, isListening, LOOPBACK4 } from "./ports.js";
import {
  type CommonOptions,
  DEFAULT_TIMEOUT_MS,
  deferred,
  ensureWorkDir,
  ManagedProcess,
  type Stoppable,
  uniqueLogPath,
  waitUntil,
  withTimeout,
} from "./process.js";

export type Aria2LeecherOptions = CommonOptions & {
  saveDir: string;
  /** BT listen port on 127.0.0.1; default a free one. */
  port?: number;
  /** Announce URLs used instead of the torrent's own (`--bt-exclude-tracker=*`). */
  trackers?: readonly string[];
  /** Re-announce every this many seconds (`--bt-tracker-interval`); default 2. */
  trackerInterval?: number;
  /** `--bt-require-crypto` + `--bt-min-crypto-level=arc4`. */
  requireEncryption?: boolean;
  /** More command-line options, e.g. `["--max-overall-download-limit=1M"]`. */
  extraArgs?: readonly string[];
  name?: string;
} & ({ torrent: string; magnet?: undefined } | { magnet: string; torrent?: undefined });

export interface Aria2Leecher extends Stoppable {
  readonly port: number;
  readonly log: string;
  readonly process: ManagedProcess;
  /** Resolves when aria2c exits 0 after downloading (--seed-time=0); bounded by `timeoutMs`. */
  readonly done: Promise<{ seconds: number }>;
}

/** Start `aria2c` downloading into `saveDir`; resolves once it listens. */
export async function startAria2Leecher(opts: Aria2LeecherOptions): Promise<Aria2Leecher> {
  const workDir = await ensureWorkDir(opts.workDir);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const name = opts.name ?? "aria2-leech";
  const port = opts.port ?? (await freePort());
  const args = [
    "--no-conf=true",
    `--dir=${path.resolve(opts.saveDir)}`,
    "--seed-time=0",
    "--enable-dht=false",
    "--enable-dht6=false",
    "--bt-enable-lpd=false",
    "--enable-peer-exchange=false",
    `--listen-port=${port}`,
    `--interface=${LOOPBACK4}`,
    "--disable-ipv6=true",
    `--bt-tracker-interval=${opts.trackerInterval ?? 2}`,
    "--bt-tracker-connect-timeout=5",
    "--bt-tracker-timeout=10",
    "--file-allocation=none",
    "--auto-file-renaming=false",
    "--allow-overwrite=true",
    "--bt-save-metadata=false",
    "--rpc-save-upload-metadata=false",
    "--summary-interval=1",
    "--console-log-level=notice",
    "--enable-color=false",
    "--log=-",
    "--log-level=info",
    // aria2 exits by itself if the test process dies.
    `--stop-with-process=${process.pid}`,
  ];
  if (opts.trackers) args.push("--bt-exclude-tracker=*", `--bt-tracker=${opts.trackers.join(",")}`);
  if (opts.requireEncryption) args.push("--bt-require-crypto=true", "--bt-min-crypto-level=arc4");
  args.push(...(opts.extraArgs ?? []));
  args.push(opts.torrent !== undefined ? path.resolve(opts.torrent) : opts.magnet);
  const proc = new ManagedProcess(name, uniqueLogPath(workDir, name), "aria2c", args, {
    graceMs: 1_000,
  });
  const started = Date.now();
  const finished = deferred<{ seconds: number }>();
  void proc.exited.then((x) => {
    if (x.code === 0) finished.resolve({ seconds: (Date.now() - started) / 1000 });
    else finished.reject(proc.failure("exited before finishing"));
  });
  const done = withTimeout(finished.promise, timeoutMs, () =>
    proc.failure(`download not complete after ${timeoutMs} ms`),
  );
  try {
    // A quick leecher may be finished (and gone) before we see it listen: that is fine too.
    await waitUntil(`BT port ${port}`, async () => !proc.running || (await isListening(port)), {
      timeoutMs,
    });
  } catch (e) {
    await proc.stop();
    throw proc.failure((e as Error).message);
  }
  const stop = async () => {
    finished.reject(new Error(`${name} stopped before finishing`));
    await proc.stop();
  };
  return { port, log: proc.logPath, process: proc, done, stop, [Symbol.asyncDispose]: stop };
}
