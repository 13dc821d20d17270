/**
 * The `tessera` command. Subcommands are loaded on demand so that `tessera --help` starts fast.
 */
import { TesseraError } from "../errors.js";
import { VERSION } from "../version.js";
import { CliError, EXIT, UsageError } from "./errors.js";

const HELP = `Usage: tessera <command> [options]

A BitTorrent client.

Commands:
  download <torrent> [-o DIR]       download a torrent (--peer HOST:PORT, --seed, --json)
  seed <torrent> <DIR>              seed data in DIR
  info <torrent|magnet|info-hash>   show what a torrent holds
  create <path> -o out.torrent      make a .torrent from a file or a directory
  verify <torrent> <DIR>            check downloaded data against the torrent

Run 'tessera <command> --help' for a command's options.

Options:
  -h, --help      show this help
  -V, --version   print the version

Exit codes: 0 success, 1 failure, 2 usage error, 3 bad input, 70 internal error,
130 interrupted.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  info: async () => (await import("./info.js")).infoCommand,
  create: async () => (await import("./create.js")).createCommand,
  verify: async () => (await import("./verify.js")).verifyCommand,
  download: async () => (await import("./download.js")).downloadCommand,
  seed: async () => (await import("./download.js")).seedCommand,
};

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  // A reader that goes away (`tessera download --json | head -1`) must not crash a download or a
  // seed: output errors (EPIPE) are swallowed and the work goes on.
  process.stdout.on("error", () => {});
  process.stderr.on("error", () => {});
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === "-h" || cmd === "--help" || cmd === "help") {
    process.stdout.write(`${HELP}\n`);
    return cmd === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (cmd === "-V" || cmd === "--version") {
    process.stdout.write(`tessera ${VERSION}\n`);
    return EXIT.OK;
  }
  const load = Object.hasOwn(COMMANDS, cmd) ? COMMANDS[cmd] : undefined;
  if (!load) {
    process.stderr.write(`tessera: unknown command '${cmd}'. Run 'tessera --help'.\n`);
    return EXIT.USAGE;
  }
  try {
    return await (await load())(rest);
  } catch (e) {
    return report(e, cmd);
  }
}

function report(e: unknown, cmd: string): number {
  const code = (e as { code?: unknown })?.code;
  if (e instanceof UsageError || (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"))) {
    process.stderr.write(`tessera ${cmd}: ${(e as Error).message}. Run 'tessera ${cmd} --help'.\n`);
    return EXIT.USAGE;
  }
  if (e instanceof CliError) {
    process.stderr.write(`tessera: ${oneLine(e.message)}\n`);
    return e.exitCode;
  }
  if (e instanceof TesseraError) {
    process.stderr.write(`tessera: ${oneLine(e.message)} (${e.code})\n`);
    return EXIT.INPUT;
  }
  process.stderr.write(`tessera: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return EXIT.INTERNAL;
}

function oneLine(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f]/g, " ");
}
