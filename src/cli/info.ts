import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { type Encodable, encode } from "../bencode/index.js";
import type { MagnetLink } from "../magnet/index.js";
import type { TorrentMeta } from "../metainfo/index.js";
import { toHex } from "../types.js";
import { formatHostPort, type PeerAddress, parseHostPort } from "../util/address.js";
import { VERSION } from "../version.js";
import { CliError, EXIT, UsageError } from "./errors.js";
import { formatBytes, printable } from "./format.js";
import { readTorrentInput, type TorrentInput } from "./input.js";

export const INFO_HELP = `Usage: tessera info <torrent-file|magnet|info-hash> [options]

Show what a torrent holds: name, info-hash, size, pieces, files, trackers, web seeds.

Options:
      --fetch         for a magnet or info-hash: fetch the metadata from peers (BEP 9), then
                      show the whole torrent (peers from --peer, the link's x.pe and trackers)
      --peer HOST:PORT  a peer to fetch from (repeatable)
      --save-torrent FILE  with --fetch: write the fetched torrent as a .torrent file
      --timeout SECONDS  give up fetching after this long (default 120)
      --scrape        also ask each tracker for seeders, leechers and completed downloads
                      (BEP 48, HTTP and UDP); exits 1 if no tracker answers
      --tracker URL   a tracker to scrape besides the torrent's (repeatable)
      --json          print one JSON object (keys: name, infoHash, length, pieceLength, pieces,
                      files [{path, length}], trackers [[url...]...], private, webSeeds, ...;
                      with --scrape, scrape [{url, seeders, leechers, completed} or
                      {url, error, code}])
  -h, --help`;

/** The stable `--json` form of a torrent (documented in the README). */
export function torrentJson(t: TorrentMeta): Record<string, unknown> {
  return {
    name: t.name,
    infoHash: t.infoHashHex,
    ...(t.infoHashV2 ? { infoHashV2: toHex(t.infoHashV2) } : {}),
    length: t.length,
    pieceLength: t.pieceLength,
    pieces: t.pieceCount,
    private: t.private,
    multiFile: t.multiFile,
    files: t.files
      .filter((f) => !f.padding)
      .map((f) => ({ path: f.path.join("/"), length: f.length })),
    trackers: t.trackers,
    webSeeds: t.webSeeds,
    ...(t.comment !== undefined ? { comment: t.comment } : {}),
    ...(t.createdBy !== undefined ? { createdBy: t.createdBy } : {}),
    ...(t.creationDate !== undefined ? { creationDate: t.creationDate } : {}),
    warnings: t.warnings,
  };
}

/** The `--json` form of a magnet link: what is known before the metadata is fetched. */
export function magnetJson(m: MagnetLink): Record<string, unknown> {
  return {
    name: m.name ?? null,
    infoHash: m.infoHashV1 ? toHex(m.infoHashV1) : null,
    ...(m.infoHashV2 ? { infoHashV2: toHex(m.infoHashV2) } : {}),
    length: m.exactLength ?? null,
    pieceLength: null,
    pieces: null,
    private: false,
    files: [],
    trackers: m.trackers.map((t) => [t]),
    webSeeds: m.webSeeds,
    peers: m.peers.map(formatHostPort),
    ...(m.selectOnly ? { selectOnly: m.selectOnly } : {}),
    magnet: true,
  };
}

export async function infoCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      json: { type: "boolean" },
      scrape: { type: "boolean" },
      tracker: { type: "string", multiple: true },
      fetch: { type: "boolean" },
      peer: { type: "string", multiple: true },
      "save-torrent": { type: "string" },
      timeout: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${INFO_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length !== 1)
    throw new UsageError("info takes exactly one torrent file, magnet link or info-hash");
  let input = await readTorrentInput(positionals[0]!);
  const extra = values.tracker ?? [];
  if (extra.length > 0 && !values.scrape && !values.fetch)
    throw new UsageError("--tracker goes with --scrape or --fetch");
  if ((values.peer || values["save-torrent"] || values.timeout) && !values.fetch)
    throw new UsageError("--peer, --save-torrent and --timeout go with --fetch");
  if (values.fetch && input.kind === "magnet") {
    const timeout = values.timeout === undefined ? 120 : Number(values.timeout);
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw new UsageError(`--timeout ${values.timeout}: not a positive number of seconds`);
    const peers = (values.peer ?? []).map((p) => {
      try {
        return parseHostPort(p);
      } catch (e) {
        throw new UsageError(`--peer ${p}: ${(e as Error).message}`);
      }
    });
    const meta = await fetchMeta(input.magnet, peers, extra, timeout * 1000);
    if (values["save-torrent"] !== undefined)
      await writeFile(values["save-torrent"], torrentFileOf(meta));
    input = { kind: "torrent", meta, source: positionals[0]! };
  } else if (values["save-torrent"] !== undefined) {
    throw new UsageError("--save-torrent needs a magnet link or info-hash with --fetch");
  }
  const scrape = values.scrape ? await scrapeAll(input, extra) : undefined;
  if (values.json) {
    const obj = input.kind === "torrent" ? torrentJson(input.meta) : magnetJson(input.magnet);
    if (scrape) obj.scrape = scrape;
    process.stdout.write(`${JSON.stringify(obj)}\n`);
  } else {
    process.stdout.write(
      input.kind === "torrent" ? describeTorrent(input.meta) : describeMagnet(input.magnet),
    );
    if (scrape) process.stdout.write(describeScrape(scrape));
  }
  if (scrape && !scrape.some((r) => "seeders" in r)) {
    process.stderr.write(
      `tessera: ${scrape.length === 0 ? "no trackers to scrape" : "no tracker answered the scrape"}\n`,
    );
    return EXIT.FAILURE;
  }
  return EXIT.OK;
}

/** Fetch a magnet's metadata with a short-lived session; bounded by `timeoutMs` and Ctrl-C. */
async function fetchMeta(
  link: MagnetLink,
  peers: PeerAddress[],
  trackers: string[],
  timeoutMs: number,
): Promise<TorrentMeta> {
  const { Session } = await import("../session/session.js");
  const session = await Session.create({ port: 0 });
  let timer: NodeJS.Timeout | undefined;
  let onSignal: (() => void) | undefined;
  try {
    const phase = session.fetchMetadata(link, { peers, trackers });
    const tty = process.stderr.isTTY;
    const ticker = tty
      ? setInterval(() => {
          const st = phase.stats();
          process.stderr.write(
            `\r\x1b[2KFetching metadata: ${st.size > 0 ? `${formatBytes(st.received)}/${formatBytes(st.size)}` : "size unknown"} from ${st.sources} of ${st.peers} peers`,
          );
        }, 250)
      : undefined;
    const result = await Promise.race([
      phase.meta,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new CliError(
                `no metadata within ${timeoutMs / 1000} s (${phase.stats().peers} peers connected)`,
                EXIT.FAILURE,
              ),
            ),
          timeoutMs,
        );
        onSignal = () => reject(new CliError("interrupted", EXIT.INTERRUPTED));
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
      }),
    ]).finally(() => {
      if (ticker) clearInterval(ticker);
      if (tty) process.stderr.write("\r\x1b[2K");
    });
    return result;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError((e as Error).message, EXIT.FAILURE);
  } finally {
    clearTimeout(timer);
    if (onSignal) {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
    await session.close();
  }
}

/** A .torrent file for fetched metadata: the info dictionary as received, plus the trackers. */
export function torrentFileOf(meta: TorrentMeta): Uint8Array {
  const outer = new Map<string, Encodable>();
  const flat = meta.trackers.flat();
  if (flat.length > 0) outer.set("announce", flat[0]!);
  if (flat.length > 1) outer.set("announce-list", meta.trackers);
  outer.set("created by", `Tessera ${VERSION}`);
  if (meta.webSeeds.length > 0) outer.set("url-list", meta.webSeeds);
  // "info" sorts after every key above: splice the exact info bytes in before the final "e".
  const head = encode(outer);
  const key = new TextEncoder().encode("4:info");
  const out = new Uint8Array(head.length - 1 + key.length + meta.infoBytes.length + 1);
  out.set(head.subarray(0, head.length - 1), 0);
  out.set(key, head.length - 1);
  out.set(meta.infoBytes, head.length - 1 + key.length);
  out[out.length - 1] = 0x65; // "e"
  return out;
}

type ScrapeRow =
  | { url: string; seeders: number; leechers: number; completed: number }
  | { url: string; error: string; code: string };

/** Scrape every tracker of the torrent (and the extra ones) in parallel. */
async function scrapeAll(input: TorrentInput, extra: string[]): Promise<ScrapeRow[]> {
  const urls = input.kind === "torrent" ? input.meta.trackers.flat() : [...input.magnet.trackers];
  for (const u of extra) if (!urls.includes(u)) urls.push(u);
  const hash =
    input.kind === "torrent"
      ? input.meta.infoHash
      : (input.magnet.infoHashV1 ?? input.magnet.infoHashV2?.subarray(0, 20));
  if (!hash || urls.length === 0) return [];
  const { TrackerClient } = await import("../tracker/client.js");
  const client = new TrackerClient();
  try {
    return await Promise.all(
      urls.map(async (url): Promise<ScrapeRow> => {
        try {
          const c = await client.scrape(url, hash);
          return { url, seeders: c.complete, leechers: c.incomplete, completed: c.downloaded };
        } catch (e) {
          const err = e as Error & { code?: string };
          return { url, error: err.message, code: err.code ?? "TRACKER_NETWORK" };
        }
      }),
    );
  } finally {
    client.close();
  }
}

function describeScrape(rows: ScrapeRow[]): string {
  if (rows.length === 0) return row("Scrape", "no trackers");
  let s = "Scrape:\n";
  for (const r of rows) {
    s +=
      "seeders" in r
        ? `  ${printable(r.url)}: ${r.seeders} seeders, ${r.leechers} leechers, ${r.completed} completed\n`
        : `  ${printable(r.url)}: error: ${printable(r.error)}\n`;
  }
  return s;
}

function row(label: string, value: string): string {
  return `${`${label}:`.padEnd(14)}${value}\n`;
}

function describeTrackers(tiers: string[][]): string {
  if (tiers.length === 0) return row("Trackers", "none");
  let s = "Trackers:\n";
  tiers.forEach((tier, i) => {
    s += `  tier ${i + 1}: ${tier.map(printable).join(", ")}\n`;
  });
  return s;
}

export function describeTorrent(t: TorrentMeta): string {
  let s = "";
  s += row("Name", printable(t.name));
  s += row("Info-hash", t.infoHashHex);
  if (t.infoHashV2) s += row("Info-hash v2", toHex(t.infoHashV2));
  s += row("Size", `${formatBytes(t.length)} (${t.length} bytes)`);
  s += row("Pieces", `${t.pieceCount} x ${formatBytes(t.pieceLength)}`);
  s += row("Private", t.private ? "yes" : "no");
  if (t.createdBy !== undefined) s += row("Created by", printable(t.createdBy));
  if (t.creationDate !== undefined)
    s += row("Created on", new Date(t.creationDate * 1000).toISOString());
  if (t.comment !== undefined) s += row("Comment", printable(t.comment));
  s += describeTrackers(t.trackers);
  if (t.webSeeds.length > 0)
    s += `Web seeds:\n${t.webSeeds.map((u) => `  ${printable(u)}\n`).join("")}`;
  for (const w of t.warnings) s += row("Warning", printable(w));
  const files = t.files.filter((f) => !f.padding);
  s += `Files (${files.length}):\n`;
  s += renderTree(files.map((f) => ({ path: f.path, length: f.length })));
  return s;
}

function describeMagnet(m: MagnetLink): string {
  let s = "";
  s += row(
    "Name",
    m.name !== undefined ? printable(m.name) : "(unknown until the metadata is fetched)",
  );
  if (m.infoHashV1) s += row("Info-hash", toHex(m.infoHashV1));
  if (m.infoHashV2) s += row("Info-hash v2", toHex(m.infoHashV2));
  if (m.exactLength !== undefined)
    s += row("Size", `${formatBytes(m.exactLength)} (${m.exactLength} bytes)`);
  s += describeTrackers(m.trackers.map((t) => [t]));
  if (m.webSeeds.length > 0)
    s += `Web seeds:\n${m.webSeeds.map((u) => `  ${printable(u)}\n`).join("")}`;
  if (m.peers.length > 0) s += `Peers:\n${m.peers.map((p) => `  ${formatHostPort(p)}\n`).join("")}`;
  return s;
}

interface Node {
  dirs: Map<string, Node>;
  files: { name: string; length: number }[];
  size: number;
}

/** An indented tree of directories and files, with sizes (directories show their total). */
export function renderTree(files: { path: string[]; length: number }[]): string {
  const root: Node = { dirs: new Map(), files: [], size: 0 };
  for (const f of files) {
    let node = root;
    node.size += f.length;
    for (const dir of f.path.slice(0, -1)) {
      let next = node.dirs.get(dir);
      if (!next) {
        next = { dirs: new Map(), files: [], size: 0 };
        node.dirs.set(dir, next);
      }
      next.size += f.length;
      node = next;
    }
    node.files.push({ name: f.path[f.path.length - 1]!, length: f.length });
  }
  const lines: string[] = [];
  const walk = (node: Node, depth: number) => {
    const pad = "  ".repeat(depth + 1);
    for (const [name, child] of node.dirs) {
      lines.push(`${pad}${printable(name)}/  (${formatBytes(child.size)})`);
      walk(child, depth + 1);
    }
    for (const f of node.files) lines.push(`${pad}${printable(f.name)}  ${formatBytes(f.length)}`);
  };
  walk(root, 0);
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}
