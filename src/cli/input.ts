import { open } from "node:fs/promises";
import { MagnetError, type MagnetLink, parseTorrentId } from "../magnet/index.js";
import {
  MAX_TORRENT_SIZE,
  MetainfoError,
  parseTorrent,
  type TorrentMeta,
} from "../metainfo/index.js";
import { CliError } from "./errors.js";

export type TorrentInput =
  | { kind: "torrent"; meta: TorrentMeta; source: string }
  | { kind: "magnet"; magnet: MagnetLink };

/** Read a .torrent file, refusing oversized files before reading them. */
export async function readTorrentFile(path: string): Promise<TorrentMeta> {
  let bytes: Uint8Array;
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, "r");
    const st = await fh.stat();
    if (!st.isFile()) throw new CliError(`${path}: not a regular file`);
    if (st.size > MAX_TORRENT_SIZE) {
      throw new CliError(
        `${path}: ${st.size} bytes is larger than the ${MAX_TORRENT_SIZE}-byte limit for a .torrent`,
      );
    }
    bytes = await fh.readFile();
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  } finally {
    await fh?.close();
  }
  try {
    return parseTorrent(bytes);
  } catch (e) {
    if (e instanceof MetainfoError) throw new CliError(`${path}: ${e.message}`);
    throw e;
  }
}

/** A user's torrent argument: a magnet URI, a bare info-hash, or a path to a .torrent file. */
export async function readTorrentInput(arg: string): Promise<TorrentInput> {
  if (/^magnet:/i.test(arg)) return { kind: "magnet", magnet: parseMagnetArg(arg) };
  if (/^([0-9a-fA-F]{40}|[A-Za-z2-7]{32}|[0-9a-fA-F]{64})$/.test(arg)) {
    // A file of that name wins; otherwise it is an info-hash.
    try {
      return { kind: "torrent", meta: await readTorrentFile(arg), source: arg };
    } catch {
      return { kind: "magnet", magnet: parseMagnetArg(arg) };
    }
  }
  return { kind: "torrent", meta: await readTorrentFile(arg), source: arg };
}

function parseMagnetArg(arg: string): MagnetLink {
  try {
    return parseTorrentId(arg);
  } catch (e) {
    if (e instanceof MagnetError) throw new CliError(`invalid magnet link: ${e.message}`);
    throw e;
  }
}
