import { parseArgs } from "node:util";
import type { MagnetLink } from "../magnet/index.js";
import { parseInfoBytes, type TorrentMeta } from "../metainfo/index.js";
import { ENCRYPTION_POLICIES, type EncryptionPolicy, Session } from "../session/session.js";
import { resumeInfo } from "../storage/resume.js";
import { readResumeFile } from "../storage/storage.js";
import type { MetadataPhase, MetadataPhaseStats } from "../torrent/metadata-phase.js";
import { parseSelection, visibleFileCount } from "../torrent/selection.js";
import type { Torrent, TorrentStats } from "../torrent/torrent.js";
import { toHex } from "../types.js";
import { type PeerAddress, parseHostPort } from "../util/address.js";
import { CliError, EXIT, UsageError } from "./errors.js";
import { formatBytes, printable } from "./format.js";
import { readTorrentFile, readTorrentInput } from "./input.js";

export const DOWNLOAD_HELP = `Usage: tessera download <torrent-file|magnet|info-hash> [options]

Download a torrent's content into DIR, laid out as other clients lay it out. Exits 0 once every
selected piece is verified and written (or keeps seeding with --seed until Ctrl-C).

Options:
  -o, --out DIR        download directory (default: the current directory)
      --peer HOST:PORT connect to this peer (repeatable; [v6]:port for IPv6)
      --tracker URL    announce to this tracker too (repeatable; http, https or udp)
      --no-trackers    do not announce to the torrent's own trackers
      --port N         listen port (default: 6881-6889, else any free port)
      --encryption P   MSE/PE: prefer (default; dial encrypted first, accept both), allow
                       (dial plaintext first, accept both), require (RC4 only, both ways),
                       off (plaintext only, both ways)
      --select LIST    only these files: 0-based indices and ranges, e.g. 0,2,5-7
                       (the order 'tessera info' lists them in)
      --seed           keep seeding after the download completes, until SIGINT/SIGTERM
      --disk-wait S    on a disk error (disk full, read-only, permissions) keep uploading and
                       retry writing for S seconds before giving up with exit 1 (default 60)
      --json           one JSON event per line on stdout (see README)
  -h, --help`;

export const SEED_HELP = `Usage: tessera seed <torrent-file> <DIR> [options]

Check the data in DIR (the same layout as 'download --out DIR') and seed it until SIGINT/SIGTERM.
Pieces that are missing are downloaded from peers that have them.

Options:
      --port N         listen port (default: 6881-6889, else any free port)
      --encryption P   MSE/PE: prefer (default), allow, require or off (see download --help)
      --peer HOST:PORT connect to this peer (repeatable)
      --tracker URL    announce to this tracker too (repeatable)
      --no-trackers    do not announce to the torrent's own trackers
      --disk-wait S    on a disk error, retry writing for S seconds before exit 1 (default 60)
      --json           one JSON event per line on stdout
  -h, --help`;

interface RunOptions {
  torrentArg: string;
  dir: string;
  peers: PeerAddress[];
  trackers: string[];
  noTrackers: boolean;
  port?: number;
  encryption?: EncryptionPolicy;
  select?: string;
  seed: boolean;
  json: boolean;
  mode: "download" | "seed";
  /** Seconds a storage error may last before the command gives up. */
  diskWait: number;
}

export const DEFAULT_DISK_WAIT_S = 60;

function parseDiskWait(s: string | undefined): number {
  if (s === undefined) return DEFAULT_DISK_WAIT_S;
  if (!/^\d+(\.\d+)?$/.test(s)) throw new UsageError(`--disk-wait ${s}: not a number of seconds`);
  return Number(s);
}

function parsePeers(list: string[] | undefined): PeerAddress[] {
  return (list ?? []).map((s) => {
    try {
      return parseHostPort(s);
    } catch (e) {
      throw new UsageError(`--peer ${s}: ${(e as Error).message}`);
    }
  });
}

function parseTrackers(list: string[] | undefined): string[] {
  const out: string[] = [];
  for (const u of list ?? []) {
    if (!/^(https?|udp):\/\/[^/?#]/i.test(u))
      throw new UsageError(`--tracker ${u}: not an http://, https:// or udp:// URL`);
    out.push(u);
  }
  return out;
}

function parseEncryption(s: string | undefined): EncryptionPolicy | undefined {
  if (s === undefined) return undefined;
  if (!(ENCRYPTION_POLICIES as readonly string[]).includes(s))
    throw new UsageError(`--encryption ${s}: one of ${ENCRYPTION_POLICIES.join(", ")}`);
  return s as EncryptionPolicy;
}

function parsePort(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) > 65535) throw new UsageError(`--port ${s}: not a port number`);
  return Number(s);
}

export async function downloadCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string", short: "o" },
      peer: { type: "string", multiple: true },
      tracker: { type: "string", multiple: true },
      "no-trackers": { type: "boolean" },
      port: { type: "string" },
      encryption: { type: "string" },
      select: { type: "string" },
      seed: { type: "boolean" },
      "disk-wait": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${DOWNLOAD_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError("download takes exactly one torrent file, magnet link or info-hash");
  const port = parsePort(values.port);
  const encryption = parseEncryption(values.encryption);
  return run({
    torrentArg: positionals[0]!,
    dir: values.out ?? ".",
    peers: parsePeers(values.peer),
    trackers: parseTrackers(values.tracker),
    noTrackers: values["no-trackers"] ?? false,
    ...(port !== undefined ? { port } : {}),
    ...(encryption !== undefined ? { encryption } : {}),
    ...(values.select !== undefined ? { select: values.select } : {}),
    seed: values.seed ?? false,
    json: values.json ?? false,
    mode: "download",
    diskWait: parseDiskWait(values["disk-wait"]),
  });
}

export async function seedCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      peer: { type: "string", multiple: true },
      tracker: { type: "string", multiple: true },
      "no-trackers": { type: "boolean" },
      port: { type: "string" },
      encryption: { type: "string" },
      "disk-wait": { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${SEED_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length !== 2) throw new UsageError("seed takes a torrent file and a directory");
  const port = parsePort(values.port);
  const encryption = parseEncryption(values.encryption);
  return run({
    torrentArg: positionals[0]!,
    dir: positionals[1]!,
    peers: parsePeers(values.peer),
    trackers: parseTrackers(values.tracker),
    noTrackers: values["no-trackers"] ?? false,
    ...(port !== undefined ? { port } : {}),
    ...(encryption !== undefined ? { encryption } : {}),
    seed: true,
    json: values.json ?? false,
    mode: "seed",
    diskWait: parseDiskWait(values["disk-wait"]),
  });
}

async function run(o: RunOptions): Promise<number> {
  const input =
    o.mode === "seed"
      ? { kind: "torrent" as const, meta: await readTorrentFile(o.torrentArg) }
      : await readTorrentInput(o.torrentArg);
  // A selection is checked now for a .torrent, once the metadata is in for a magnet.
  let select =
    input.kind === "torrent" && o.select !== undefined
      ? parseSelection(o.select, visibleFileCount(input.meta))
      : undefined;
  const out = o.json
    ? new JsonOutput()
    : process.stderr.isTTY
      ? new TtyOutput()
      : new PlainOutput();

  const session = await Session.create({
    ...(o.port !== undefined ? { port: o.port } : {}),
    ...(o.encryption !== undefined ? { encryption: o.encryption } : {}),
  });
  let interrupted = false;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= session.close();
    return stopping;
  };
  let resolveSignal!: () => void;
  const signalled = new Promise<void>((r) => {
    resolveSignal = r;
  });
  const onSignal = () => {
    interrupted = true;
    resolveSignal();
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    let meta: TorrentMeta;
    let from: MetadataPhase | undefined;
    const cached = input.kind === "magnet" ? await metaFromResume(o.dir, input.magnet) : undefined;
    if (input.kind === "magnet" && cached) {
      // Restarted in the same directory: the resume data holds the metadata.
      meta = o.noTrackers ? { ...cached, trackers: [] } : cached;
      out.event({
        event: "started",
        mode: o.mode,
        name: meta.name,
        infoHash: meta.infoHashHex,
        length: meta.length,
        pieces: meta.pieceCount,
        port: session.port,
        dir: o.dir,
        magnet: true,
      });
      out.event({
        event: "metadata",
        name: meta.name,
        infoHash: meta.infoHashHex,
        length: meta.length,
        pieces: meta.pieceCount,
        pieceLength: meta.pieceLength,
        files: visibleFileCount(meta),
        source: "resume",
      });
      o.peers = [...input.magnet.peers, ...o.peers];
      if (o.select !== undefined) select = parseSelection(o.select, visibleFileCount(meta));
    } else if (input.kind === "magnet") {
      const link = o.noTrackers ? { ...input.magnet, trackers: [] } : input.magnet;
      const phase = session.fetchMetadata(link, { peers: o.peers, trackers: o.trackers });
      out.event({
        event: "started",
        mode: o.mode,
        name: link.name ?? null,
        infoHash: toHex(phase.infoHash),
        length: link.exactLength ?? null,
        pieces: null,
        port: session.port,
        dir: o.dir,
        magnet: true,
      });
      wirePhaseEvents(phase, out);
      const ticker = setInterval(() => out.metadataProgress(phase.stats()), out.interval);
      let result: TorrentMeta | Error | "signal";
      try {
        result = await Promise.race([
          phase.meta.then(
            (m) => m,
            (e: Error) => e,
          ),
          signalled.then(() => "signal" as const),
        ]);
      } finally {
        clearInterval(ticker);
      }
      if (result === "signal" || interrupted) {
        out.finish();
        return EXIT.INTERRUPTED;
      }
      if (result instanceof Error) {
        out.error(result.message);
        out.finish();
        return EXIT.FAILURE;
      }
      meta = result;
      from = phase;
      out.event({
        event: "metadata",
        name: meta.name,
        infoHash: meta.infoHashHex,
        length: meta.length,
        pieces: meta.pieceCount,
        pieceLength: meta.pieceLength,
        files: visibleFileCount(meta),
        source: "peers",
      });
      if (o.select !== undefined) select = parseSelection(o.select, visibleFileCount(meta));
    } else {
      meta = input.meta;
      out.event({
        event: "started",
        mode: o.mode,
        name: meta.name,
        infoHash: meta.infoHashHex,
        length: meta.length,
        pieces: meta.pieceCount,
        port: session.port,
        dir: o.dir,
      });
    }
    // Listen before the torrent starts, so its first events (`checked`) are not missed.
    session.once("torrent-added", (t) => wireEvents(t, out));
    const addPromise = session.add(o.noTrackers && !from ? { ...meta, trackers: [] } : meta, {
      downloadDir: o.dir,
      peers: o.peers,
      trackers: from ? [] : o.trackers,
      ...(from ? { from } : {}),
      ...(select ? { select } : {}),
    });
    let torrent: Torrent;
    try {
      torrent = (await Promise.race([addPromise, signalled.then(() => undefined)])) as Torrent;
    } catch (e) {
      throw new CliError(`${(e as Error).message}`, EXIT.FAILURE);
    }
    if (interrupted || !torrent) {
      await stop();
      return EXIT.INTERRUPTED;
    }
    const ticker = setInterval(() => out.progress(torrent.stats()), out.interval);
    // A storage error that lasts longer than --disk-wait ends the command (exit 1).
    let diskTimer: NodeJS.Timeout | undefined;
    let resolveDiskGiveUp!: (e: Error) => void;
    const diskGiveUp = new Promise<Error>((r) => {
      resolveDiskGiveUp = r;
    });
    torrent.on("storage-error", (e) => {
      diskTimer ??= setTimeout(
        () =>
          resolveDiskGiveUp(
            new Error(`${e.message}; still failing after ${o.diskWait} s (--disk-wait), giving up`),
          ),
        o.diskWait * 1000,
      );
    });
    torrent.on("storage-recovered", () => {
      clearTimeout(diskTimer);
      diskTimer = undefined;
    });
    try {
      const result = await Promise.race([
        torrent.done.then(
          () => "done" as const,
          (e: Error) => e,
        ),
        signalled.then(() => "signal" as const),
        diskGiveUp,
      ]);
      if (result instanceof Error) {
        out.progress(torrent.stats());
        out.error(result.message);
        return EXIT.FAILURE;
      }
      if (result === "done") {
        out.progress(torrent.stats());
        out.done(torrent.stats());
        if (o.seed && !interrupted) {
          out.event({ event: "seeding", port: session.port });
          await signalled;
          return EXIT.OK;
        }
        return EXIT.OK;
      }
      return EXIT.INTERRUPTED;
    } finally {
      clearInterval(ticker);
      clearTimeout(diskTimer);
      out.finish();
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await stop();
  }
}

/** A magnet's metadata from resume data left in `dir` by an earlier run, if it is there and right. */
async function metaFromResume(dir: string, link: MagnetLink): Promise<TorrentMeta | undefined> {
  if (!link.infoHashV1) return undefined;
  const bytes = await readResumeFile(dir, toHex(link.infoHashV1));
  const info = bytes && resumeInfo(bytes, link.infoHashV1);
  if (!info) return undefined;
  try {
    return {
      ...parseInfoBytes(info),
      trackers: link.trackers.map((u) => [u]),
      webSeeds: [...link.webSeeds],
      httpSeeds: [],
    };
  } catch {
    return undefined; // it hashed right, so this cannot happen; fetch from peers then
  }
}

function wirePhaseEvents(p: MetadataPhase, out: Output): void {
  p.on("peer-connected", (address, id, features, encryption) =>
    out.event({ event: "peer-connected", address, client: id, features, encryption }),
  );
  p.on("peer-disconnected", (address, reason) =>
    out.event({ event: "peer-disconnected", address, reason }),
  );
  p.on("peer-banned", (address, reason) =>
    out.event({ event: "peer-banned", address, reason }, true),
  );
  p.on("hash-failed", (size, contributors) =>
    out.event({ event: "metadata-hash-failed", size, contributors }, true),
  );
}

function wireEvents(t: Torrent, out: Output): void {
  t.on("checked", (have, info) =>
    out.event({
      event: "checked",
      havePieces: have,
      pieces: t.meta.pieceCount,
      source: info.source,
      checkedPieces: info.checkedPieces,
    }),
  );
  t.on("warning", (message) => out.event({ event: "warning", message }, true));
  t.on("storage-error", (e, retryInMs) =>
    out.event(
      {
        event: "error",
        message: e.message,
        code: e.code,
        ...(e.reason !== undefined ? { reason: e.reason } : {}),
        ...(e.path !== undefined ? { path: e.path } : {}),
        retryIn: Math.round(retryInMs / 1000),
      },
      true,
    ),
  );
  t.on("storage-recovered", () => out.event({ event: "recovered" }, true));
  t.on("peer-connected", (address, id, features, encryption) =>
    out.event({ event: "peer-connected", address, client: id, features, encryption }),
  );
  t.on("peer-disconnected", (address, reason) =>
    out.event({ event: "peer-disconnected", address, reason }),
  );
  t.on("peer-banned", (address, reason) =>
    out.event({ event: "peer-banned", address, reason }, true),
  );
  t.on("hash-failed", (index) => out.event({ event: "hash-failed", piece: index }, true));
  t.on("error", (e) => out.event({ event: "error", message: e.message }, true));
  t.on("tracker", (s) => {
    out.tracker({
      event: "tracker",
      url: s.url,
      tier: s.tier,
      status: s.status,
      peers: s.peers,
      ...(s.seeders !== undefined ? { seeders: s.seeders } : {}),
      ...(s.leechers !== undefined ? { leechers: s.leechers } : {}),
      ...(s.interval !== undefined ? { interval: s.interval } : {}),
      ...(s.nextAnnounce !== undefined && s.status !== "announcing"
        ? { nextAnnounceIn: Math.max(0, Math.round((s.nextAnnounce - Date.now()) / 1000)) }
        : {}),
      failures: s.failures,
      ...(s.error !== undefined ? { error: s.error, errorCode: s.errorCode } : {}),
      ...(s.warning !== undefined ? { warning: s.warning } : {}),
    });
  });
}

interface Output {
  interval: number;
  event(e: Record<string, unknown>, important?: boolean): void;
  /** A tracker's state changed. */
  tracker(e: Record<string, unknown>): void;
  /** The metadata phase of a magnet link, every `interval`. */
  metadataProgress(s: MetadataPhaseStats): void;
  progress(s: TorrentStats): void;
  done(s: TorrentStats): void;
  error(message: string): void;
  finish(): void;
}

function pct(s: TorrentStats): number {
  return s.wanted === 0 ? 100 : (100 * s.have) / s.wanted;
}

function eta(s: TorrentStats): string {
  const left = s.wanted - s.have;
  if (left <= 0) return "0s";
  if (s.downloadRate < 1) return "--";
  const secs = Math.round(left / s.downloadRate);
  return secs >= 3600
    ? `${Math.floor(secs / 3600)}h${Math.floor((secs % 3600) / 60)}m`
    : secs >= 60
      ? `${Math.floor(secs / 60)}m${secs % 60}s`
      : `${secs}s`;
}

/** `--json`: one object per line on stdout. Keys are documented in the README. */
class JsonOutput implements Output {
  interval = 1000;
  event(e: Record<string, unknown>): void {
    process.stdout.write(`${JSON.stringify({ ...e, time: Date.now() })}\n`);
  }
  tracker(e: Record<string, unknown>): void {
    this.event(e);
  }
  metadataProgress(s: MetadataPhaseStats): void {
    this.event({ event: "metadata-progress", ...s });
  }
  progress(s: TorrentStats): void {
    this.event({
      event: "progress",
      state: s.state,
      percent: Number(pct(s).toFixed(2)),
      have: s.have,
      wanted: s.wanted,
      piecesHave: s.piecesHave,
      piecesWanted: s.piecesWanted,
      downloaded: s.downloaded,
      uploaded: s.uploaded,
      downloadRate: Math.round(s.downloadRate),
      uploadRate: Math.round(s.uploadRate),
      peers: s.peers,
      seeds: s.seeds,
    });
  }
  done(s: TorrentStats): void {
    this.event({ event: "done", have: s.have, downloaded: s.downloaded, uploaded: s.uploaded });
  }
  error(message: string): void {
    this.event({ event: "error", message });
  }
  finish(): void {}
}

function metadataLine(s: MetadataPhaseStats): string {
  const got = s.size > 0 ? `${formatBytes(s.received)}/${formatBytes(s.size)}` : "size unknown";
  return `Fetching metadata: ${got} from ${s.sources} of ${s.peers} peers`;
}

/** Human outputs show a tracker line when its outcome changes (not on every re-announce). */
class TrackerLines {
  readonly #last = new Map<string, string>();
  line(e: Record<string, unknown>): string | undefined {
    if (e.status === "announcing" || e.status === "idle") return undefined;
    const what =
      e.status === "error"
        ? `error: ${String(e.error)}`
        : `${e.peers} peers${e.seeders !== undefined ? `, ${e.seeders} seeders, ${e.leechers ?? 0} leechers` : ""}${e.warning ? ` (warning: ${String(e.warning)})` : ""}`;
    const key = e.status === "error" ? what : `ok${e.warning ?? ""}`;
    if (this.#last.get(String(e.url)) === key) return undefined;
    this.#last.set(String(e.url), key);
    return `tracker ${printable(String(e.url))}: ${printable(what)}`;
  }
}

/** Not a terminal: a plain line every few seconds on stderr, and notable events. */
class PlainOutput implements Output {
  interval = 2000;
  readonly #trackers = new TrackerLines();
  tracker(e: Record<string, unknown>): void {
    const line = this.#trackers.line(e);
    if (line) process.stderr.write(`${line}\n`);
  }
  metadataProgress(s: MetadataPhaseStats): void {
    process.stderr.write(`${metadataLine(s)}\n`);
  }
  event(e: Record<string, unknown>, important = false): void {
    if (e.event === "started") {
      process.stderr.write(
        `${e.mode === "seed" ? "Seeding" : "Downloading"} ${printable(String(e.name))} (${formatBytes(Number(e.length))}) ${e.mode === "seed" ? "from" : "into"} ${printable(String(e.dir))}, listening on port ${e.port}\n`,
      );
    } else if (important || e.event === "checked" || e.event === "seeding") {
      process.stderr.write(
        `${Object.entries(e)
          .map(([k, v]) => `${k}=${typeof v === "string" ? printable(v) : v}`)
          .join(" ")}\n`,
      );
    }
  }
  progress(s: TorrentStats): void {
    process.stderr.write(
      `${s.state === "error" ? "[disk error, retrying] " : ""}${pct(s).toFixed(1)}% ${formatBytes(s.have)}/${formatBytes(s.wanted)} down ${formatBytes(s.downloadRate)}/s up ${formatBytes(s.uploadRate)}/s peers ${s.peers} eta ${eta(s)}\n`,
    );
  }
  done(s: TorrentStats): void {
    process.stderr.write(`Complete: ${formatBytes(s.have)} verified\n`);
  }
  error(message: string): void {
    process.stderr.write(`tessera: ${printable(message)}\n`);
  }
  finish(): void {}
}

/** A terminal: one live line redrawn in place. */
class TtyOutput implements Output {
  interval = 250;
  #drawn = false;
  readonly #trackers = new TrackerLines();
  tracker(e: Record<string, unknown>): void {
    const line = this.#trackers.line(e);
    if (!line) return;
    this.#clear();
    process.stderr.write(`${line}\n`);
  }
  metadataProgress(s: MetadataPhaseStats): void {
    const line = metadataLine(s);
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
    this.#drawn = true;
  }
  event(e: Record<string, unknown>, important = false): void {
    if (e.event === "started") {
      process.stderr.write(
        `${e.mode === "seed" ? "Seeding" : "Downloading"} ${printable(String(e.name))} (${formatBytes(Number(e.length))}) ${e.mode === "seed" ? "from" : "into"} ${printable(String(e.dir))}\n`,
      );
    } else if (important || e.event === "seeding") {
      this.#clear();
      process.stderr.write(
        `${Object.entries(e)
          .filter(([k]) => k !== "event")
          .map(([k, v]) => `${k}: ${typeof v === "string" ? printable(v) : v}`)
          .join(", ")}${e.event === "seeding" ? " — seeding; Ctrl-C to stop" : ""}\n`,
      );
    }
  }
  progress(s: TorrentStats): void {
    const width = 30;
    const p = pct(s);
    const filled = Math.round((p / 100) * width);
    const bar = `${"#".repeat(filled)}${"-".repeat(width - filled)}`;
    const line = `${s.state === "error" ? "[disk error, retrying] " : ""}[${bar}] ${p.toFixed(1).padStart(5)}% ${formatBytes(s.have)}/${formatBytes(s.wanted)}  down ${formatBytes(s.downloadRate)}/s  up ${formatBytes(s.uploadRate)}/s  peers ${s.peers}  eta ${eta(s)}`;
    process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns || 120) - 1)}`);
    this.#drawn = true;
  }
  #clear(): void {
    if (this.#drawn) process.stderr.write("\r\x1b[2K");
    this.#drawn = false;
  }
  done(s: TorrentStats): void {
    this.#clear();
    process.stderr.write(`Complete: ${formatBytes(s.have)} verified\n`);
  }
  error(message: string): void {
    this.#clear();
    process.stderr.write(`tessera: ${printable(message)}\n`);
  }
  finish(): void {
    this.#clear();
  }
}
