import { TesseraError } from "../errors.js";

/**
 * Exit codes of the `tessera` command (documented in the README; scripts rely on them).
 */
export const EXIT = {
  /** Success. */
  OK: 0,
  /** The operation ran but did not succeed (e.g. `verify` found missing pieces). */
  FAILURE: 1,
  /** Bad command line: unknown command or flag, missing argument. */
  USAGE: 2,
  /** Bad input: a malformed torrent or magnet, an unreadable file. */
  INPUT: 3,
  /** A bug: an error Tessera did not expect. */
  INTERNAL: 70,
  /** Stopped by SIGINT or SIGTERM before finishing. */
  INTERRUPTED: 130,
} as const;

/** A command-line mistake; printed with a hint to run `--help`. */
export class UsageError extends TesseraError {
  constructor(message: string) {
    super("USAGE", message);
  }
}

/** Printed as one line, without a stack trace, with the exit code given. */
export class CliError extends TesseraError {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.INPUT) {
    super("CLI", message);
    this.exitCode = exitCode;
  }
}
