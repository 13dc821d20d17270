/**
 * Errors of the storage edge (TorrentStorage). All are local faults: the torrent layer should
 * pause the torrent or go upload-only, never blame a peer.
 */
import { TesseraError } from "../errors.js";

export type StorageErrorCode =
  /** A file system call failed; `reason` is the errno code (`ENOSPC`, `EACCES`, ...) or `SHORT`. */
  | "STORAGE_IO"
  /** A directory on the way is a symlink or not a directory, or the file itself is not a regular file. */
  | "STORAGE_UNSAFE_PATH"
  /** A bad piece index, block range, buffer size or option. */
  | "STORAGE_INVALID_ARGUMENT"
  /** The storage was closed before the call. */
  | "STORAGE_CLOSED";

export class StorageError extends TesseraError {
  declare readonly code: StorageErrorCode;
  /** The file or directory at fault, when there is one. */
  readonly path: string | undefined;
  /** errno code such as `ENOSPC` (STORAGE_IO), `SHORT` when a file ends before the data asked for. */
  readonly reason: string | undefined;

  constructor(
    code: StorageErrorCode,
    message: string,
    opts: { path?: string; reason?: string; cause?: unknown } = {},
  ) {
    super(code, message, { cause: opts.cause });
    this.path = opts.path;
    this.reason = opts.reason;
  }
}

export function errnoCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : "EIO";
}

/**
 * Wraps a file system failure in a StorageError STORAGE_IO with a message a user can act on.
 * `op` is a present participle: "writing", "reading", "opening", "creating directory".
 */
export function ioError(err: unknown, op: string, path: string): StorageError {
  if (err instanceof StorageError) return err;
  const reason = errnoCode(err);
  const detail = err instanceof Error ? err.message : String(err);
  let message: string;
  switch (reason) {
    case "ENOSPC":
    case "EDQUOT":
      message = `no space left on device (${reason === "EDQUOT" ? "quota exceeded" : "disk full"}) while ${op} "${path}"`;
      break;
    case "EACCES":
    case "EPERM":
      message = `permission denied while ${op} "${path}": check the permissions of the download directory`;
      break;
    case "EROFS":
      message = `read-only file system: cannot write "${path}" (${op})`;
      break;
    case "EMFILE":
    case "ENFILE":
      message = `too many open files while ${op} "${path}"`;
      break;
    case "ENOENT":
      message = `"${path}" does not exist (${op})`;
      break;
    case "EISDIR":
      message = `"${path}" is a directory (${op})`;
      break;
    case "SHORT":
      message = `"${path}" ends before the data being read: ${detail}`;
      break;
    default:
      message = `I/O error ${reason} while ${op} "${path}": ${detail}`;
  }
  return new StorageError("STORAGE_IO", message, { path, reason, cause: err });
}

export function unsafePathError(path: string, why: string): StorageError {
  return new StorageError(
    "STORAGE_UNSAFE_PATH",
    `refusing to use "${path}": ${why} (a download must stay inside its directory)`,
    { path, reason: why },
  );
}

export function invalidArgument(message: string): StorageError {
  return new StorageError("STORAGE_INVALID_ARGUMENT", message);
}

/** Awaits every promise, then throws the first rejection (so no work is left running behind an error). */
export async function settleAll(tasks: readonly Promise<unknown>[]): Promise<void> {
  if (tasks.length === 1) {
    await tasks[0];
    return;
  }
  const results = await Promise.allSettled(tasks);
  for (const r of results) if (r.status === "rejected") throw r.reason;
}
