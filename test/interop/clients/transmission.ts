/**
 * Transmission 3.00 (transmission-cli) on loopback. It never dials 127.0.0.0/8 or ::1, but accepts
 * incoming connections: the other side must dial `port`. Use a fresh process per test.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdir, writeFile } from "node:fs/promises";
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

export interface TransmissionOptions extends CommonOptions {
  torrent: string;
  /** Peer port (127.0.0.1 and ::1); default a free one. */
  port?: number;
  /** -er / -ep / -et; default Transmission's own (preferred). */
  encryption?: "required" | "preferred" | "tolerated";
  /** More settings.json entries, over the harness's. */
  settings?: Record<string, unknown>;
  name?: string;
}

export interface TransmissionPeer extends Stoppable {
  readonly port: number;
  readonly host: string;
  readonly log: string;
  readonly configDir: string;
  readonly process: ManagedProcess;
}

export interface TransmissionLeecher extends TransmissionPeer {
  /** Resolves when the torrent is complete (its -f script ran); bounded by `timeoutMs`. */
  readonly done: Promise<{ seconds: number }>;
}

/** settings.json that keeps Transmission on loopback and away from DHT, LPD, PEX, NAT and RPC. */
export function transmissionSettings(extra: Record<string, unknown> = {}) {
  return {
    "dht-enabled": false,
    "lpd-enabled": false,
    "pex-enabled": false,
    "utp-enabled": false,
    "port-forwarding-enabled": false,
    "rpc-enabled": false,
    "blocklist-enabled": false,
    "bind-address-ipv4": LOOPBACK4,
    "bind-address-ipv6": "::1",
    "peer-port-random-on-start": false,
    "speed-limit-up-enabled": false,
    "speed-limit-down-enabled": false,
    "alt-speed-enabled": false,
    "incomplete-dir-enabled": false,
    "start-added-torrents": true,
    "ratio-limit-enabled": false,
    "idle-seeding-limit-enabled": false,
    "download-queue-enabled": false,
    "seed-queue-enabled": false,
    "message-level": 3, // debug: logs "Bound socket" and "Verification is done"
    ...extra,
  };
}

async function launch(
  o: TransmissionOptions,
  role: "seed" | "leech",
  dir: string,
  finishScript?: (workDir: string) => Promise<string>,
) {
  const workDir = await ensureWorkDir(o.workDir);
  const name = o.name ?? `transmission-${role}`;
  const log = uniqueLogPath(workDir, name);
  const configDir = log.replace(/\.log$/, ".conf");
  await mkdir(configDir, { recursive: true });
  await writeFile(
    path.join(configDir, "settings.json"),
    JSON.stringify(transmissionSettings(o.settings), null, 2),
  );
  const port = o.port ?? (await freePort(["tcp6"]));
  const args = ["-g", configDir, "-w", path.resolve(dir), "-p", String(port)];
  if (role === "seed") args.push("-v");
  if (o.encryption)
    args.push({ required: "-er", preferred: "-ep", tolerated: "-et" }[o.encryption]);
  if (finishScript) args.push("-f", await finishScript(configDir));
  args.push(path.resolve(o.torrent));
  // stdbuf: its status line ("Seeding, ...", "Progress: ...") is stdout without a newline.
  const proc = new ManagedProcess(
    name,
    log,
    "/usr/bin/stdbuf",
    ["-o0", "transmission-cli", ...args],
    {
      graceMs: 1_000,
    },
  );
  return { proc, port, configDir, log, name };
}

function logText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}

function handle(l: Awaited<ReturnType<typeof launch>>): TransmissionPeer {
  const stop = () => l.proc.stop();
  return {
    port: l.port,
    host: LOOPBACK4,
    log: l.log,
    configDir: l.configDir,
    process: l.proc,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function waitListening(l: Awaited<ReturnType<typeof launch>>, deadline: number) {
  const bound = new RegExp(
    `Bound socket \\d+ to port ${l.port} on ${LOOPBACK4.replace(/\./g, "\\.")}`,
  );
  await waitUntil(`the peer port ${l.port}`, () => bound.test(logText(l.log)), {
    proc: l.proc,
    timeoutMs: Math.max(0, deadline - Date.now()),
  });
  await waitUntil(`connections on ${LOOPBACK4}:${l.port}`, () => isListening(l.port), {
    proc: l.proc,
    timeoutMs: Math.max(0, deadline - Date.now()),
  });
}

/**
 * transmission-cli seeding `torrent` from `dataDir` (-v: verifies the data first). Resolves when
 * it listens and has verified all data (its status line says "Seeding").
 */
export async function startTransmissionSeed(
  opts: TransmissionOptions & { dataDir: string },
): Promise<TransmissionPeer> {
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const l = await launch(opts, "seed", opts.dataDir);
  try {
    await waitListening(l, deadline);
    let verifiedAt = 0;
    await waitUntil(
      "verification of the data to finish with the torrent complete",
      () => {
        const text = logText(l.log);
        const v = text.indexOf("Verification is done");
        if (v < 0) return false;
        verifiedAt ||= Date.now();
        const after = text.slice(v);
        const seeding = after.lastIndexOf("Seeding,");
        const progress = after.lastIndexOf("Progress:");
        if (seeding >= 0 && seeding > progress) return true;
        if (progress >= 0 && Date.now() - verifiedAt > 1_500) {
          throw l.proc.failure(`data in ${opts.dataDir} is incomplete for ${opts.torrent}`);
        }
        return false;
      },
      { proc: l.proc, timeoutMs: Math.max(0, deadline - Date.now()) },
    );
  } catch (e) {
    await l.proc.stop();
    throw e;
  }
  return handle(l);
}

/**
 * transmission-cli downloading `torrent` into `saveDir`. It will not dial loopback peers: dial its
 * `port` from the other side. Resolves once it listens with the torrent added.
 */
export async function startTransmissionLeecher(
  opts: TransmissionOptions & { saveDir: string },
): Promise<TransmissionLeecher> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let doneFile = "";
  const l = await launch(opts, "leech", opts.saveDir, async (configDir) => {
    doneFile = path.join(configDir, "done");
    const script = path.join(configDir, "on-done.sh");
    const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    await writeFile(script, `#!/bin/sh\necho "$TR_TORRENT_NAME $TR_TORRENT_ID" > ${q(doneFile)}\n`);
    await chmod(script, 0o755);
    return script;
  });
  const started = Date.now();
  try {
    await waitListening(l, deadline);
    await waitUntil(
      "the torrent to be added",
      () => /Progress: |Seeding,|Verifying local files/.test(logText(l.log)),
      { proc: l.proc, timeoutMs: Math.max(0, deadline - Date.now()) },
    );
  } catch (e) {
    await l.proc.stop();
    throw e;
  }
  const finished = deferred<{ seconds: number }>();
  const poll = setInterval(() => {
    if (existsSync(doneFile)) finished.resolve({ seconds: (Date.now() - started) / 1000 });
    else if (!l.proc.running) finished.reject(l.proc.failure("exited before finishing"));
  }, 100);
  poll.unref();
  const done = withTimeout(finished.promise, timeoutMs, () =>
    l.proc.failure(`download not complete after ${timeoutMs} ms`),
  );
  void done.finally(() => clearInterval(poll)).catch(() => {});
  const h = handle(l);
  const stop = async () => {
    finished.reject(new Error(`${l.name} stopped before finishing`));
    await h.stop();
  };
  return { ...h, done, stop, [Symbol.asyncDispose]: stop };
}
