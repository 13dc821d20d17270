/**
 * Debian's opentracker on 127.0.0.1 (HTTP and UDP on one port). Its build serves only whitelisted
 * info-hashes; started as root it chroots to its dir and drops to `nobody`.
 * @module
 */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { freePort, isListening, LOOPBACK4 } from "./ports.js";
import {
  type CommonOptions,
  DEFAULT_TIMEOUT_MS,
  ensureWorkDir,
  ManagedProcess,
  type Stoppable,
  uniqueLogPath,
  waitUntil,
} from "./process.js";

export interface OpentrackerOptions extends CommonOptions {
  /** v1 info-hashes (40 hex) to serve; truncated v2 hashes (first 40 hex) for v2 torrents. */
  infoHashes: readonly string[];
  /** HTTP and UDP port; default a free one. */
  port?: number;
}

export interface Opentracker extends Stoppable {
  /** http://127.0.0.1:PORT/announce */
  httpUrl: string;
  /** udp://127.0.0.1:PORT/announce */
  udpUrl: string;
  /** http://127.0.0.1:PORT/scrape */
  scrapeUrl: string;
  port: number;
  log: string;
  process: ManagedProcess;
}

export async function startOpentracker(opts: OpentrackerOptions): Promise<Opentracker> {
  const workDir = await ensureWorkDir(opts.workDir);
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const log = uniqueLogPath(workDir, "opentracker");
  // The chroot dir: opentracker reads the whitelist in it after dropping to nobody.
  const dir = log.replace(/\.log$/, ".d");
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
  const hashes = opts.infoHashes.map((h) => {
    if (!/^[0-9a-fA-F]{40,64}$/.test(h)) throw new Error(`bad info-hash ${h}`);
    return h.slice(0, 40).toLowerCase();
  });
  await writeFile(`${dir}/whitelist`, `${hashes.join("\n")}\n`, { mode: 0o644 });
  const port = opts.port ?? (await freePort(["udp4"]));
  const ot = [
    "opentracker",
    "-i",
    LOOPBACK4,
    "-p",
    String(port),
    "-P",
    String(port),
    "-d",
    dir,
    "-w",
    "whitelist",
  ];
  // Dropping to nobody clears PR_SET_PDEATHSIG, so a shell that gets it (and outlives no one)
  // stands in between: it forwards SIGTERM when the test process dies.
  const proc = new ManagedProcess(
    "opentracker",
    log,
    "/bin/sh",
    [
      "-c",
      `"$@" & p=$!; trap 'kill -TERM $p 2>/dev/null; exit 143' TERM INT HUP; wait $p`,
      "sh",
      ...ot,
    ],
    { parentDeathSignal: "TERM", graceMs: 1_000 },
  );
  try {
    await waitUntil(`HTTP on ${LOOPBACK4}:${port}`, () => isListening(port), { proc, timeoutMs });
  } catch (e) {
    await proc.stop();
    throw e;
  }
  const base = `${LOOPBACK4}:${port}`;
  const stop = () => proc.stop();
  return {
    httpUrl: `http://${base}/announce`,
    udpUrl: `udp://${base}/announce`,
    scrapeUrl: `http://${base}/scrape`,
    port,
    log,
    process: proc,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
