import { rename, unlink, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";
import { CreateError, createTorrent } from "../create/index.js";
import { VERSION } from "../version.js";
import { CliError, EXIT, UsageError } from "./errors.js";
import { formatBytes, printable } from "./format.js";
import { torrentJson } from "./info.js";
import { startProgress } from "./progress.js";

export const CREATE_HELP = `Usage: tessera create <file|directory> [-o out.torrent] [options]

Make a .torrent (BitTorrent v1) for a file or a directory, hashing on all cores.

Options:
  -o, --out FILE          where to write the torrent (default: <name>.torrent)
  -t, --tracker URL       announce URL; repeat for more (each becomes its own tier)
  -w, --web-seed URL      web seed (BEP 19 url-list); repeat for more
  -l, --piece-length N    piece size in bytes, a power of two >= 16384; K/M suffixes
                          accepted (default: chosen from the total size, about 2048 pieces)
  -p, --private           set the private flag (BEP 27: trackers only, no DHT/PEX)
  -c, --comment TEXT      comment
      --no-date           leave out the creation date (byte-identical output for the same input)
      --name NAME         torrent name (default: the input's base name)
      --include-hidden    include files and directories whose names start with '.'
      --json              print the created torrent's info as JSON (same keys as 'info --json')
  -h, --help

Files are ordered by path (byte order); symbolic links to files are followed, links to
directories are not; hidden files are left out unless --include-hidden is given.`;

/** Parse `16384`, `64K`, `1M`, `4MiB`. */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([kKmMgG]?)(i?[bB])?$/.exec(text.trim());
  if (!m) throw new UsageError(`not a size: ${JSON.stringify(text)}`);
  const mult = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[
    m[2]!.toLowerCase() as "" | "k" | "m" | "g"
  ];
  return Number(m[1]) * mult;
}

export async function createCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      out: { type: "string", short: "o" },
      tracker: { type: "string", short: "t", multiple: true },
      "web-seed": { type: "string", short: "w", multiple: true },
      "piece-length": { type: "string", short: "l" },
      private: { type: "boolean", short: "p" },
      comment: { type: "string", short: "c" },
      "no-date": { type: "boolean" },
      name: { type: "string" },
      "include-hidden": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(`${CREATE_HELP}\n`);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw new UsageError("create takes exactly one file or directory");
  const input = positionals[0]!;
  const out = values.out ?? `${values.name ?? path.basename(path.resolve(input))}.torrent`;
  const progress = startProgress("Hashing");
  let result: Awaited<ReturnType<typeof createTorrent>>;
  try {
    result = await createTorrent(input, {
      trackers: values.tracker ?? [],
      webSeeds: values["web-seed"] ?? [],
      ...(values["piece-length"] !== undefined
        ? { pieceLength: parseSize(values["piece-length"]) }
        : {}),
      private: values.private ?? false,
      ...(values.comment !== undefined ? { comment: values.comment } : {}),
      creationDate: values["no-date"] ? null : Math.floor(Date.now() / 1000),
      createdBy: `Tessera ${VERSION}`,
      includeHidden: values["include-hidden"] ?? false,
      ...(values.name !== undefined ? { name: values.name } : {}),
      onProgress: (done, total) => progress.update(done, total),
    });
  } catch (e) {
    if (e instanceof CreateError) throw new CliError(e.message);
    if (e instanceof Error && "path" in e && "reason" in e) throw new CliError(e.message);
    throw e;
  } finally {
    progress.stop();
  }
  for (const w of result.warnings) process.stderr.write(`tessera: warning: ${printable(w)}\n`);
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, result.torrent);
    await rename(tmp, out);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw new CliError(
      `${out}: cannot write: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      EXIT.FAILURE,
    );
  }
  const m = result.meta;
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...torrentJson(m), torrentFile: out })}\n`);
  } else {
    process.stdout.write(
      `Created ${printable(out)}: ${printable(m.name)}, ${formatBytes(m.length)} in ${m.pieceCount} pieces of ${formatBytes(m.pieceLength)}\n` +
        `Info-hash: ${m.infoHashHex}\n`,
    );
  }
  return EXIT.OK;
}
